"""How many open connection requests one worker holds, and what waking an evicted one costs.

Starts, on loopback and stopped again at exit, the Temporal dev server with the Procfile's flags
(SQLite file, WAL) and ONE worker (`python worker.py`), with the harness's process
management. No web app and no Amazon stand-in: the bench inserts minimal rows (one user, and per
request a client account, a membership and a connection request) into the app database with plain
SQL after `flask --app web db upgrade`, then starts one `ConnectionRequestWorkflow` per row with
the Temporal client (`send_invite=False`, a 30-day expiry, no reminders), as the web app would.

1. Holding N open requests: start rate, then, once every workflow has recorded its
   "direct_started" event and the worker's CPU has settled, the worker's and the Temporal server's
   RSS (VmRSS from /proc). Goal: worker < 500 MB.
2. Waking requests evicted from the worker's workflow cache (`WORKER_MAX_CACHED_WORKFLOWS`,
   default 1000; `--cache` sets it): the oldest requests, started before N
   newer ones, against the newest (still cached):
   - `query("status")` round trip (a replay from history when evicted);
   - signal `seller_opened` until its "opened" event row is committed by the `record_event`
     activity (wake, replay, a workflow task, an activity, a workflow task).
   This is a proxy for callback -> Connected after eviction, not that path itself.

Run: `.venv/bin/python -m bench.scale --requests 2000` (default 10000).
"""

# ruff: noqa: E402  (the sys.path line below must precede the project's imports)

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/scale.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import asyncio
import contextlib
import json
import logging
import os
import platform
import sqlite3
import time
import uuid
from typing import Any

from temporalio.client import Client

from core.requests import workflow_id_for
from harness.cpu import CpuUse, rss_mb
from harness.drivers import MARKETPLACE
from harness.parts import TEMPORAL, WORKER, bench_settings, start_server
from harness.processes import LOOPBACK, Child, db_upgrade, spawn, wait_ready, worker_polls
from harness.run import configure_logging, positive, stop_by_itself
from harness.stats import Summary
from harness.workload import (
    SETTLE_TIMEOUT,
    SETTLED_CORES,
    has_event,
    insert_rows,
    settle,
    start_all,
)
from tests.support import BackgroundLoop, free_port
from vocabulary.messages import SellerProgress
from workflows.connection_request import ConnectionRequestWorkflow

DEFAULT_CACHE = 1000  # WORKER_MAX_CACHED_WORKFLOWS default (and temporalio's) when --cache is unset
SIGNAL_TIMEOUT = 30.0  # seconds for one signal's event row to appear
POLL = 0.005  # seconds between polls of the app database for that row

log = logging.getLogger("bench.scale")


# --- Temporal ----------------------------------------------------------------------------------


async def timed_query(client: Client, request_id: int) -> float:
    handle = client.get_workflow_handle(workflow_id_for(request_id, MARKETPLACE))
    began = time.perf_counter()
    await handle.query(ConnectionRequestWorkflow.status)
    return time.perf_counter() - began


async def timed_signal(client: Client, db_path: Path, request_id: int) -> float:
    """Signal seller_opened; seconds until the workflow's record_event activity committed the
    'opened' row (polled every POLL seconds from this process)."""
    handle = client.get_workflow_handle(workflow_id_for(request_id, MARKETPLACE))
    with contextlib.closing(sqlite3.connect(db_path, timeout=30)) as con:
        began = time.perf_counter()
        await handle.signal(ConnectionRequestWorkflow.seller_opened, SellerProgress("bench"))
        while not has_event(con, request_id, "opened"):
            if time.perf_counter() - began > SIGNAL_TIMEOUT:
                raise RuntimeError(f"request {request_id}: no 'opened' event after signal")
            await asyncio.sleep(POLL)
        return time.perf_counter() - began


# --- the run -----------------------------------------------------------------------------------


def hold_requests(
    loop: BackgroundLoop,
    client: Client,
    task_queue: str,
    db_path: Path,
    n: int,
    concurrency: int,
    worker: Child,
    temporal_child: Child,
    email: str = "bench@example.com",
    idle_cores: float | None = SETTLED_CORES,
) -> tuple[list[int], dict[str, Any]]:
    """Figure 1: n request rows and one open ConnectionRequestWorkflow each, until all wait for
    the seller (and the worker's CPU is below `idle_cores`; None when other workflows keep it
    busy). Returns the request ids and the figures: start rate and calls, CPU during the
    starts, the time to settle, and the worker's and the server's RSS then."""
    figures: dict[str, Any] = {}
    ids = insert_rows(db_path, n, email=email)
    log.info("inserted %d request rows; starting %d workflows", len(ids), len(ids))
    pids = {WORKER: worker.pid, TEMPORAL: temporal_child.pid}
    start_cpu = CpuUse()
    began = time.perf_counter()
    with start_cpu.measure(pids):
        starts = loop.run(start_all(client, task_queue, ids, concurrency), timeout=SETTLE_TIMEOUT)
    start_wall = time.perf_counter() - began
    figures["start_wall_s"] = start_wall
    figures["starts_per_s"] = len(ids) / start_wall
    figures["start_call"] = Summary.of(starts).__dict__
    figures["start_cpu_cores"] = {k: start_cpu.cores(k) for k in pids}
    log.info("started %d in %.1f s; waiting for all to wait for the seller", len(ids), start_wall)
    settle_s = settle(db_path, len(ids), worker, temporal_child, idle_cores)
    figures["settled_after_starts_s"] = settle_s
    figures["all_waiting_per_s"] = len(ids) / (start_wall + settle_s)
    figures["rss_held_mb"] = {WORKER: rss_mb(worker.pid), TEMPORAL: rss_mb(temporal_child.pid)}
    figures["load_after_starts"] = os.getloadavg()
    return ids, figures


def start_parts(
    stack: contextlib.ExitStack, args: argparse.Namespace
) -> tuple[Path, BackgroundLoop, Client, str, Child, Child]:
    workdir, children, loop, client = start_server(stack, "scale-bench-", args.temporal_config)
    task_queue = f"scale-{uuid.uuid4().hex[:8]}"
    target = client.service_client.config.target_host

    # Nothing listens on these: no email is sent and Amazon is never called in this bench.
    unused = f"http://{LOOPBACK}:{free_port()}"
    settings = bench_settings(workdir, unused, unused, target, free_port(), task_queue)
    env = {**os.environ, **settings, "PYTHONUNBUFFERED": "1"}
    if args.cache is not None:  # worker.py reads it since c3a8e60
        env["WORKER_MAX_CACHED_WORKFLOWS"] = str(args.cache)
    db_upgrade(env, workdir / "migrate.log")
    worker = spawn(stack, workdir, WORKER, [sys.executable, "worker.py"], env)
    children.append(worker)
    wait_ready("the worker", worker_polls(loop, client, task_queue), children)
    return workdir, loop, client, task_queue, worker, children[0]


def run(args: argparse.Namespace) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "requests": args.requests,
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "load_before": os.getloadavg(),
    }
    with contextlib.ExitStack() as stack:
        workdir, loop, client, task_queue, worker, temporal_child = start_parts(stack, args)
        db_path = workdir / "app.db"
        time.sleep(2)
        figures["rss_idle_mb"] = {
            WORKER: rss_mb(worker.pid),
            TEMPORAL: rss_mb(temporal_child.pid),
        }
        ids, held = hold_requests(
            loop,
            client,
            task_queue,
            db_path,
            args.requests,
            args.concurrency,
            worker,
            temporal_child,
        )
        figures.update(held)
        log.info("RSS with %d open: %s", len(ids), figures["rss_held_mb"])

        sample = min(args.sample, len(ids) // 4)
        old = ids[: 2 * sample]
        new = ids[-2 * sample :]
        cache = DEFAULT_CACHE if args.cache is None else args.cache
        figures["cache"] = cache
        evicted = len(ids) - 2 * sample >= cache + 2 * sample
        figures["sample"] = sample
        figures["old_presumed_evicted"] = evicted

        def measure(label: str, coro_of, request_ids: list[int]) -> None:
            seconds = [loop.run(coro_of(r), timeout=60) for r in request_ids]
            figures[label] = Summary.of(seconds).__dict__

        # Each set is used once: a query or signal puts an evicted workflow back in the cache.
        measure("query_old", lambda r: timed_query(client, r), old[:sample])
        measure("query_new", lambda r: timed_query(client, r), new[sample:])
        measure("signal_old", lambda r: timed_signal(client, db_path, r), old[sample:])
        measure("signal_new", lambda r: timed_signal(client, db_path, r), new[:sample])
        figures["rss_end_mb"] = {
            WORKER: rss_mb(worker.pid),
            TEMPORAL: rss_mb(temporal_child.pid),
        }
        figures["load_end"] = os.getloadavg()
        log.info("stopping the worker and the Temporal server")
    return figures


def report(f: dict[str, Any]) -> None:
    n = f["requests"]
    held = f["rss_held_mb"]
    lines = [
        "",
        f"Scale bench: {n} open ConnectionRequestWorkflow runs, one worker (python worker.py),"
        " Temporal dev server (SQLite file, WAL, Procfile flags)",
        f"  os.cpu_count() = {f['cpu_count']}; Python {f['python']}; load average (1/5/15 min)"
        f" before {'/'.join(f'{x:.2f}' for x in f['load_before'])},"
        f" after the starts {'/'.join(f'{x:.2f}' for x in f['load_after_starts'])},"
        f" at the end {'/'.join(f'{x:.2f}' for x in f['load_end'])}",
        "",
        f"  {'figure':<58} {'value':>12}",
        f"  {'start_workflow calls, wall (s)':<58} {f['start_wall_s']:>12.1f}",
        f"  {'starts per second (client side, ' + str(f['start_call']['n']) + ' calls)':<58}"
        f" {f['starts_per_s']:>12.1f}",
        f"  {'start call p50 / p99 (ms)':<58}"
        f" {f['start_call']['p50']:>5.1f} / {f['start_call']['p99']:<5.1f}",
        f"  {'then until all wait for the seller and worker idle (s)':<58}"
        f" {f['settled_after_starts_s']:>12.1f}",
        f"  {'requests brought to waiting per second (overall)':<58}"
        f" {f['all_waiting_per_s']:>12.1f}",
        f"  {'CPU during the starts: worker / Temporal (cores)':<58}"
        f" {f['start_cpu_cores'][WORKER]:>5.2f} / {f['start_cpu_cores'][TEMPORAL]:<5.2f}",
        f"  {'worker RSS idle, before any workflow (MB)':<58} {f['rss_idle_mb'][WORKER]:>12.1f}",
        f"  {'worker RSS holding ' + str(n) + ' open requests (MB)':<58} {held[WORKER]:>12.1f}"
        f"  goal < 500: {'MET' if held[WORKER] < 500 else 'NOT MET'}",
        f"  {'Temporal server RSS idle (MB)':<58} {f['rss_idle_mb'][TEMPORAL]:>12.1f}",
        f"  {'Temporal server RSS holding ' + str(n) + ' (MB)':<58} {held[TEMPORAL]:>12.1f}",
        f"  {'worker / Temporal RSS at the end (MB)':<58}"
        f" {f['rss_end_mb'][WORKER]:>5.1f} / {f['rss_end_mb'][TEMPORAL]:<5.1f}",
        "",
        f"  waking requests: the {2 * f['sample']} oldest (started before"
        f" {n - 2 * f['sample']} newer; evicted from a {f['cache']}-entry cache:"
        + (
            " yes, presumably)"
            if f["old_presumed_evicted"]
            else " NOT NECESSARILY: more --requests)"
        )
        + f" vs the {2 * f['sample']} newest (cached); one at a time",
        f"  {'':<40} {'n':>5} {'p50 ms':>9} {'p99 ms':>9} {'mean ms':>9} {'max ms':>9}",
    ]
    for key, label in [
        ("query_old", "query status, evicted (replay)"),
        ("query_new", "query status, cached"),
        ("signal_old", "signal -> event row committed, evicted"),
        ("signal_new", "signal -> event row committed, cached"),
    ]:
        s = f[key]
        lines.append(
            f"  {label:<40} {s['n']:>5} {s['p50']:>9.1f} {s['p99']:>9.1f} {s['mean']:>9.1f}"
            f" {s['max']:>9.1f}"
        )
    lines.append(
        "  (a proxy for callback -> Connected after eviction: the real callback's update runs"
        " three activities against Amazon and is not measured here)"
    )
    print("\n".join(lines), flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.scale",
        description="Open connection requests held by one worker; waking evicted ones.",
    )
    parser.add_argument(
        "--requests", type=positive, default=10000, help="open requests to start (10000)"
    )
    parser.add_argument(
        "--concurrency", type=positive, default=50, help="start_workflow calls in flight (50)"
    )
    parser.add_argument(
        "--sample", type=positive, default=100, help="requests per wake-up figure (100)"
    )
    parser.add_argument(
        "--cache",
        type=positive,
        help="WORKER_MAX_CACHED_WORKFLOWS for the worker (unset: its default, 1000)",
    )
    parser.add_argument(
        "--temporal-config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="another dynamic config value for the dev server (repeatable)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures here as JSON")
    parser.add_argument(
        "--time-limit", type=positive, default=2400, help="stop after this many seconds (2400)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging()
    with stop_by_itself(args.time_limit):
        figures = run(args)
    report(figures)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
