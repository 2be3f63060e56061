"""How many stored connections one worker holds and checks: N ConnectionWorkflows, real checks.

Starts, on loopback and stopped again at exit, the Temporal dev server with the Procfile's flags,
the Amazon stand-in (`python -m sandbox`, its own HTTP process) and ONE worker (`python
worker.py`), with the harness's process management, as `bench/scale.py` does. No web app.

Each connection is real: the bench plays the demo US seller at the stand-in (signed in once per
thread, then one consent per connection: confirm, Amazon's redirect with a fresh code) and trades
each code for a refresh token with the app's own client (`core.amazon.exchange_code`). The
tokens are encrypted with the worker's key (`core.config.load_config` of the worker's
environment) into `amazon_connections` rows, inserted with plain SQL after `flask --app web db
upgrade` beside the rows of the requests that stored them (`harness.workload.insert_rows`).
Then one `ConnectionWorkflow` per row is started with the Temporal client as the connecting
request starts it (its workflow id, `ConnectionInput`, the AccountId and Marketplace search
attributes, its summary), but directly rather than as a child: no first check time, so each
first check falls at a random moment of the first interval, `--check-every` seconds.

1. The history each connection keeps: `--long-run` more connections checked every
   `--long-run-every` second(s) run their default `checks_per_run` checks to their
   continue-as-new first; the first run's history is read through the client (events and
   bytes per check, events and bytes of the run just before continue-as-new).
2. One round of health checks: from the first start until every row has `checked_at`, the wall
   time, CPU of the worker, the server and the stand-in (/proc), checks per second (the
   stand-in's own count of Sellers API calls), the load average, the worker's cache counters;
   per check, from a sample of histories: how late the timer fired, the activity's queue time and
   run. Then every row is read: how many are checked and healthy.
3. Worker and Temporal server RSS holding N ConnectionWorkflows (sampled during the round, and
   after it), then with N open ConnectionRequestWorkflows as well (`bench.scale.hold_requests`,
   the same rows and starts as `bench/scale.py`).

Figures are printed (medians where there are samples); nothing is asserted about timings.

Run: `.venv/bin/python -m bench.connections_scale --connections 1000` (quick), default 10000.
"""

# ruff: noqa: E402  (the sys.path line below must precede the project's imports)

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/connections_scale.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import asyncio
import contextlib
import json
import logging
import os
import platform
import re
import sqlite3
import statistics
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus

from bench.scale import hold_requests
from core import marketplaces
from core.amazon import consent_url, exchange_code
from core.config import load_config
from core.connection_life import connection_attributes, connection_workflow_id
from core.crypto import encrypt
from harness.cpu import CpuUse, rss_mb
from harness.drivers import MARKETPLACE
from harness.history import gather, timestamp_seconds
from harness.metrics import cache_counts
from harness.parts import STAND_IN, TEMPORAL, WORKER, bench_settings, start_server
from harness.processes import (
    LOOPBACK,
    Child,
    db_upgrade,
    http_answers,
    spawn,
    wait_ready,
    worker_polls,
)
from harness.run import configure_logging, positive, stop_by_itself
from harness.stats import Summary
from harness.workload import insert_rows
from tests.amazon_seller import consent
from tests.support import BackgroundLoop, free_port
from vocabulary.messages import ConnectionInput, ConnectionLife
from vocabulary.policies import CHECKS_PER_RUN
from vocabulary.statuses import ConnectionState
from workflows.connection import ConnectionWorkflow
from workflows.markdown import escape

SELLER = "seller-us@example.com"  # the stand-in's demo seller who sells in the US (MARKETPLACE)
SELLER_ID = "A2DEMOUSSELL01"
POLL = 2.0  # seconds between looks at the app database during the round
HTTP_TIMEOUT = 30
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')

log = logging.getLogger("bench.connections_scale")


# --- real authorizations at the stand-in ---------------------------------------------------------


def _code(redirect: str) -> str:
    return parse_qs(urlsplit(redirect).query)["spapi_oauth_code"][0]


def authorize(config: dict[str, Any], n: int) -> list[str]:
    """n refresh tokens of the demo US seller, each from a consent of its own: sign in once (the
    tests' seller, `tests.amazon_seller.consent`), then per connection confirm the consent form
    (a fresh code in Amazon's redirect) and trade the code with the app's own client."""
    marketplace = marketplaces.get(MARKETPLACE)
    url = consent_url(config, marketplace, uuid.uuid4().hex)
    with requests.Session() as session:
        tokens = [exchange_code(config, _code(consent(url, SELLER, session=session))).refresh_token]
        page = session.get(url, timeout=HTTP_TIMEOUT)
        form = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        form |= {"csrf_token": _CSRF.search(page.text).group(1), "action": "confirm"}
        action = url.split("?", 1)[0]
        while len(tokens) < n:
            answer = session.post(
                action,
                data={**form, "state": uuid.uuid4().hex},
                allow_redirects=False,
                timeout=HTTP_TIMEOUT,
            )
            if answer.status_code != 302:
                raise RuntimeError(f"the stand-in's consent answered HTTP {answer.status_code}")
            code = _code(answer.headers["Location"])
            tokens.append(exchange_code(config, code).refresh_token)
    return tokens


def authorize_all(config: dict[str, Any], n: int, threads: int) -> list[str]:
    shares = [n // threads + (1 if i < n % threads else 0) for i in range(threads)]
    with ThreadPoolExecutor(threads) as pool:
        found = pool.map(lambda k: authorize(config, k), [s for s in shares if s])
    return [token for share in found for token in share]


def stand_in_counts(amazon_url: str) -> dict[str, int]:
    """The stand-in's own count of refresh grants and Sellers API calls (/_sandbox/stats)."""
    stats = requests.get(f"{amazon_url}/_sandbox/stats", timeout=HTTP_TIMEOUT).json()
    return {"refresh": stats["token"]["refresh_token"], "sellers_api": stats["participations"]}


# --- the app database ----------------------------------------------------------------------------


def insert_connections(db_path: Path, tokens: list[bytes]) -> list[int]:
    """Per encrypted refresh token: an account, its owner's membership and the connected request
    that stored it (`insert_rows`), and the `amazon_connections` row, healthy and never checked.
    Returns the connection ids (== account and request ids), in insertion order."""
    ids = insert_rows(db_path, len(tokens), status="connected", email="owner@example.com")
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
    with contextlib.closing(sqlite3.connect(db_path, timeout=30)) as con, con:
        con.executemany(
            "INSERT INTO amazon_connections (id, account_id, marketplace, selling_partner_id,"
            " store_name, refresh_token_encrypted, request_id, connected_at, status,"
            " authorized_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (i, i, MARKETPLACE, SELLER_ID, "Demo Goods US", token, i, now)
                + (ConnectionState.HEALTHY.value, now)
                for i, token in zip(ids, tokens, strict=True)
            ],
        )
    return ids


def checked_count(db_path: Path, ids: list[int]) -> int:
    with contextlib.closing(sqlite3.connect(db_path, timeout=30)) as con:
        return con.execute(
            "SELECT COUNT(*) FROM amazon_connections WHERE id BETWEEN ? AND ?"
            " AND checked_at IS NOT NULL",
            (ids[0], ids[-1]),
        ).fetchone()[0]


def verdicts(db_path: Path, ids: list[int]) -> dict[str, int]:
    """How many rows are checked, and how many have each status."""
    with contextlib.closing(sqlite3.connect(db_path, timeout=30)) as con:
        rows = con.execute(
            "SELECT status, checked_at IS NOT NULL, COUNT(*) FROM amazon_connections"
            " WHERE id BETWEEN ? AND ? GROUP BY 1, 2",
            (ids[0], ids[-1]),
        ).fetchall()
    found: dict[str, int] = {"rows": 0, "checked": 0}
    for status, checked, count in rows:
        found["rows"] += count
        found["checked"] += count if checked else 0
        found[f"status {status}"] = found.get(f"status {status}", 0) + count
    return found


# --- Temporal ------------------------------------------------------------------------------------


def connection_input(connection_id: int, every: int) -> ConnectionInput:
    """As the request that stored it makes it: no first check time (a random moment of the
    first interval), the default checks per run and authorization lifetime."""
    return ConnectionInput(
        connection_id=connection_id,
        account_id=connection_id,
        account_name=f"Client {connection_id}",
        marketplace=MARKETPLACE,
        life=ConnectionLife(check_every_seconds=every),
    )


async def start_connections(
    client: Client, task_queue: str, ids: list[int], every: int, concurrency: int
) -> tuple[list[float], dict[int, str]]:
    """One ConnectionWorkflow per connection, `concurrency` start calls in flight, as
    `workflows.connection.start_connection_life` starts it; returns each call's seconds and
    each workflow's first run id."""
    slots = asyncio.Semaphore(concurrency)
    seconds: list[float] = []
    runs: dict[int, str] = {}

    async def one(connection_id: int) -> None:
        life = connection_input(connection_id, every)
        async with slots:
            began = time.perf_counter()
            handle = await client.start_workflow(
                ConnectionWorkflow.run,
                life,
                id=connection_workflow_id(connection_id),
                task_queue=task_queue,
                search_attributes=connection_attributes(life.account_id, life.marketplace),
                static_summary=(
                    f"Amazon {life.marketplace} connection of {escape(life.account_name)}"
                ),
            )
            seconds.append(time.perf_counter() - began)
            runs[connection_id] = handle.first_execution_run_id or handle.result_run_id or ""

    await asyncio.gather(*(one(i) for i in ids))
    return seconds, runs


async def run_history(client: Client, connection_id: int, run_id: str | None = None):
    """A run's events and the server's count of its events and bytes."""
    handle = client.get_workflow_handle(connection_workflow_id(connection_id), run_id=run_id)
    history = await handle.fetch_history()
    info = (await handle.describe()).raw_description.workflow_execution_info
    return history.events, info.history_length, info.history_size_bytes, info.status


def check_cycles(events) -> list[dict[str, float]]:
    """Per health check of a run's history, from one check timer's start to the next (or to the
    run's end): its events and their bytes (serialized), and how late each step was, in seconds:
    the timer firing after it was due, the activity queued (scheduled to started), the activity's
    run, and from firing to the next timer started (the whole check as the workflow sees it)."""
    cycles: list[dict[str, float]] = []
    current: dict[str, float] | None = None
    for event in events:
        at = timestamp_seconds(event.event_time)
        kind = event.event_type
        if kind in (
            EventType.EVENT_TYPE_TIMER_STARTED,
            EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
        ):
            if current is not None and "fired" in current:
                current["check_s"] = at - current["fired"]
                cycles.append(current)
            if kind != EventType.EVENT_TYPE_TIMER_STARTED:
                current = None
                continue
            timeout = event.timer_started_event_attributes.start_to_fire_timeout
            current = {"events": 0, "bytes": 0, "due": at + timestamp_seconds(timeout)}
        if current is None:
            continue
        current["events"] += 1
        current["bytes"] += event.ByteSize()
        if kind == EventType.EVENT_TYPE_TIMER_FIRED:
            current["fired"] = at
            current["timer_late_s"] = at - current["due"]
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            current["scheduled"] = at
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            current["activity_started"] = at
            current["queued_s"] = at - current.get("scheduled", at)
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            current["activity_s"] = at - current.get("activity_started", at)
    return cycles  # a check still under way when read is left out


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def long_run(
    loop: BackgroundLoop, client: Client, ids: list[int], runs: dict[int, str], timeout: float
) -> dict[str, Any]:
    """Wait for each sample connection's first run to continue as new; its history's figures."""
    deadline = time.monotonic() + timeout
    finished = []
    for connection_id in ids:
        while True:
            events, length, size, status = loop.run(
                run_history(client, connection_id, runs[connection_id]), timeout=60
            )
            if status == WorkflowExecutionStatus.CONTINUED_AS_NEW.value:
                finished.append((events, length, size))
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"connection {connection_id} did not continue as new in time")
            time.sleep(2)
    cycles = [c for events, _, _ in finished for c in check_cycles(events)]
    first_timer = []
    for events, _, _ in finished:
        starts = [e for e in events if e.event_type == EventType.EVENT_TYPE_TIMER_STARTED]
        first_timer.append(events.index(starts[0]) + 1 if starts else 0)
    return {
        "connections": len(finished),
        "checks_per_run": [len(check_cycles(events)) for events, _, _ in finished],
        "run_events": [length for _, length, _ in finished],
        "run_bytes": [size for _, _, size in finished],
        "events_to_first_timer": median(first_timer),
        "events_per_check": median([c["events"] for c in cycles]),
        "bytes_per_check": median([c["bytes"] for c in cycles]),
    }


def round_sample(
    loop: BackgroundLoop, client: Client, ids: list[int], sample: int
) -> dict[str, Any]:
    """The histories of `sample` connections spread over the start order, read after the round."""
    step = max(len(ids) // sample, 1)
    chosen = ids[::step][:sample]
    found = loop.run(gather([run_history(client, i) for i in chosen]), timeout=300)
    cycles = [c for events, _, _, _ in found for c in check_cycles(events)]
    return {
        "histories": len(found),
        "events_now": median([length for _, length, _, _ in found]),
        "bytes_now": median([size for _, _, size, _ in found]),
        "checks_read": len(cycles),
        "events_per_check": median([c["events"] for c in cycles]),
        "bytes_per_check": median([c["bytes"] for c in cycles]),
        "timer_late": Summary.of([c["timer_late_s"] for c in cycles]).__dict__,
        "activity_queued": Summary.of([c["queued_s"] for c in cycles if "queued_s" in c]).__dict__,
        "activity_run": Summary.of([c["activity_s"] for c in cycles if "activity_s" in c]).__dict__,
        "check_whole": Summary.of([c["check_s"] for c in cycles]).__dict__,
    }


# --- the run -------------------------------------------------------------------------------------


class RssSamples:
    """RSS of each part, sampled now and then; medians and maxima."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.samples: dict[str, list[float]] = {name: [] for name in pids}

    def take(self) -> dict[str, float]:
        now = {name: rss_mb(pid) for name, pid in self.pids.items()}
        for name, value in now.items():
            self.samples[name].append(value)
        return now

    def figures(self) -> dict[str, dict[str, float]]:
        return {
            name: {"n": len(v), "median": median(v), "max": max(v, default=float("nan"))}
            for name, v in self.samples.items()
        }


def hold_rss(worker: Child, temporal_child: Child) -> dict[str, dict[str, float]]:
    """Five samples over ten seconds of the worker's and the server's RSS."""
    held = RssSamples({WORKER: worker.pid, TEMPORAL: temporal_child.pid})
    for _ in range(5):
        held.take()
        time.sleep(2)
    return held.figures()


def start_parts(
    stack: contextlib.ExitStack, args: argparse.Namespace
) -> tuple[Path, BackgroundLoop, Client, str, dict[str, Child], str, dict[str, Any], str]:
    workdir, children, loop, client = start_server(
        stack, "connections-bench-", args.temporal_config
    )
    task_queue = f"connections-{uuid.uuid4().hex[:8]}"
    target = client.service_client.config.target_host
    # Nothing listens at the app's URL or the mail port: no email is sent, no page is served.
    app_url = f"http://{LOOPBACK}:{free_port()}"
    amazon_port = free_port()
    amazon_url = f"http://{LOOPBACK}:{amazon_port}"
    settings = bench_settings(workdir, app_url, amazon_url, target, free_port(), task_queue)
    metrics_address = f"{LOOPBACK}:{free_port()}"
    env = {
        **os.environ,
        **settings,
        "CONNECTION_CHECK_EVERY": f"{args.check_every}s",  # what the app would put in the input
        "WORKER_METRICS_ADDRESS": metrics_address,
        "FLASK_DEBUG": "0",
        "PYTHONUNBUFFERED": "1",
    }
    if args.cache is not None:
        env["WORKER_MAX_CACHED_WORKFLOWS"] = str(args.cache)
    db_upgrade(env, workdir / "migrate.log")
    stand_in = spawn(
        stack,
        workdir,
        STAND_IN,
        [sys.executable, "-m", "sandbox", "--host", LOOPBACK, "--port", str(amazon_port)],
        env,
    )
    worker = spawn(stack, workdir, WORKER, [sys.executable, "worker.py"], env)
    children += [stand_in, worker]
    wait_ready("the Amazon stand-in", http_answers(f"{amazon_url}/"), children)
    wait_ready("the worker", worker_polls(loop, client, task_queue), children)
    parts = {TEMPORAL: children[0], STAND_IN: stand_in, WORKER: worker}
    return workdir, loop, client, task_queue, parts, amazon_url, load_config(env), metrics_address


def wait_for_round(
    db_path: Path, ids: list[int], parts: dict[str, Child], rss: RssSamples, timeout: float
) -> tuple[float | None, float]:
    """Poll until every connection's row has `checked_at`; returns when the first check was seen
    and when all were (perf_counter seconds)."""
    first = None
    deadline = time.perf_counter() + timeout
    last_log = 0.0
    while True:
        for child in parts.values():
            child.check()
        done = checked_count(db_path, ids)
        now = time.perf_counter()
        rss.take()
        if done and first is None:
            first = now
        if done >= len(ids):
            return first, now
        if now - last_log > 15:
            log.info("%d of %d connections checked", done, len(ids))
            last_log = now
        if now > deadline:
            raise RuntimeError(f"only {done} of {len(ids)} connections checked in time")
        time.sleep(POLL)


def run(args: argparse.Namespace, figures: dict[str, Any]) -> None:
    """Fills `figures` as it goes, so that a run stopped after the round (the time limit) still
    reports it."""
    n = args.connections
    figures.update(
        connections=n,
        check_every_s=args.check_every,
        cpu_count=os.cpu_count(),
        python=platform.python_version(),
        load_before=os.getloadavg(),
        checks_per_run_default=CHECKS_PER_RUN,
    )
    with contextlib.ExitStack() as stack:
        workdir, loop, client, task_queue, parts, amazon_url, config, metrics = start_parts(
            stack, args
        )
        db_path = workdir / "app.db"
        pids = {name: child.pid for name, child in parts.items()}
        worker, temporal_child = parts[WORKER], parts[TEMPORAL]
        time.sleep(2)
        figures["rss_idle_mb"] = {name: rss_mb(pid) for name, pid in pids.items()}

        log.info("authorizing %d connections at the stand-in", n + args.long_run)
        began = time.perf_counter()
        tokens = authorize_all(config, n + args.long_run, args.auth_threads)
        figures["authorize_s"] = time.perf_counter() - began
        keys = config["TOKEN_ENCRYPTION_KEY"]
        ids = insert_connections(db_path, [encrypt(keys, t) for t in tokens])
        sample_ids, ids = ids[: args.long_run], ids[args.long_run :]
        log.info("%d authorizations in %.1f s", len(tokens), figures["authorize_s"])

        if sample_ids:
            log.info(
                "history: %d connections checked every %d s until they continue as new",
                len(sample_ids),
                args.long_run_every,
            )
            _, runs = loop.run(
                start_connections(client, task_queue, sample_ids, args.long_run_every, 10)
            )
            timeout = 3 * CHECKS_PER_RUN * (args.long_run_every + 1) + 60
            figures["long_run"] = long_run(loop, client, sample_ids, runs, timeout)
            # They go on checking every second: stop them before the measured round.
            for connection_id in sample_ids:
                handle = client.get_workflow_handle(connection_workflow_id(connection_id))
                loop.run(handle.terminate("the bench has read its history"))

        if args.requests:
            # First, and as bench.scale holds them (until the worker is idle): with the
            # connections' checks going on, a worker this busy lets workflow tasks time out and
            # their retries wait long in the backlog (seen in a run that started them after).
            log.info("first %d open ConnectionRequestWorkflows (bench.scale)", args.requests)
            _, figures["requests"] = hold_requests(
                loop,
                client,
                task_queue,
                db_path,
                args.requests,
                args.concurrency,
                worker,
                temporal_child,
            )
            figures["rss_held_requests_mb"] = hold_rss(worker, temporal_child)

        counts_before = stand_in_counts(amazon_url)
        cache_before = cache_counts(metrics)
        rss = RssSamples({WORKER: worker.pid, TEMPORAL: temporal_child.pid})
        round_cpu, start_cpu = CpuUse(), CpuUse()
        log.info("starting %d ConnectionWorkflows, checked every %d s", n, args.check_every)
        began = time.perf_counter()
        with round_cpu.measure(pids):
            with start_cpu.measure(pids):
                starts, _ = loop.run(
                    start_connections(client, task_queue, ids, args.check_every, args.concurrency),
                    timeout=args.time_limit,
                )
            started = time.perf_counter()
            figures["rss_started_mb"] = rss.take()
            log.info("started %d in %.1f s; waiting for each first check", n, started - began)
            first, done = wait_for_round(
                db_path, ids, parts, rss, timeout=args.check_every * 3 + 600
            )
        counts_after = stand_in_counts(amazon_url)
        cache_after = cache_counts(metrics)
        figures["load_after_round"] = os.getloadavg()
        figures["start_wall_s"] = started - began
        figures["starts_per_s"] = n / (started - began)
        figures["start_call"] = Summary.of(starts).__dict__
        figures["start_cpu"] = start_cpu.as_json(n)
        figures["round_wall_s"] = done - began
        figures["first_check_after_s"] = (first or done) - began
        checks = counts_after["sellers_api"] - counts_before["sellers_api"]
        figures["checks"] = checks
        figures["refresh_grants"] = counts_after["refresh"] - counts_before["refresh"]
        # Over the whole round: the checks counted began with the starts, before the first look.
        figures["checks_per_s"] = checks / (done - began)
        figures["round_cpu_s"] = dict(round_cpu.seconds)
        figures["round_cpu"] = round_cpu.as_json(checks)
        figures["cache"] = {k: cache_after[k] - cache_before[k] for k in cache_after}
        figures["rss_round_mb"] = rss.figures()
        figures["verdicts"] = verdicts(db_path, ids)
        log.info("round done in %.1f s: %s", done - began, figures["verdicts"])
        figures["round_sample"] = round_sample(loop, client, ids, args.sample)

        figures["rss_held_after_round_mb"] = hold_rss(worker, temporal_child)
        figures["verdicts_end"] = verdicts(db_path, ids)
        figures["load_end"] = os.getloadavg()
        log.info("stopping the worker, the stand-in and the Temporal server")


# --- the report ----------------------------------------------------------------------------------


def _loads(values) -> str:
    return "/".join(f"{x:.2f}" for x in values)


def _rss(mb: dict[str, float]) -> str:
    return f"{mb[WORKER]:.1f} / {mb[TEMPORAL]:.1f}"


def _line(label: str, value: str) -> str:
    return f"  {label:<66} {value}"


def report(f: dict[str, Any]) -> None:
    n = f["connections"]
    cpu = f["round_cpu_s"]
    wall = f["round_wall_s"]
    checks = max(f["checks"], 1)
    rr = f["rss_round_mb"]
    sample = f["round_sample"]
    lr_n = f.get("long_run", {}).get("connections", 0)
    lines = [
        "",
        f"Connections scale bench: {n} ConnectionWorkflows, one worker (python worker.py), the"
        " Amazon stand-in (python -m sandbox), Temporal dev server (SQLite file, WAL)",
        f"  os.cpu_count() = {f['cpu_count']}; Python {f['python']}; load average (1/5/15 min)"
        f" before {_loads(f['load_before'])}, after the round {_loads(f['load_after_round'])},"
        f" at the end {_loads(f.get('load_end', f['load_after_round']))}",
        "",
        _line(
            f"{n + lr_n} real authorizations at the stand-in (s)",
            f"{f['authorize_s']:.1f}",
        ),
        _line(
            "start_workflow calls, wall (s); starts per second",
            f"{f['start_wall_s']:.1f}; {f['starts_per_s']:.1f}",
        ),
        _line(
            "start call p50 / p99 (ms)",
            f"{f['start_call']['p50']:.1f} / {f['start_call']['p99']:.1f}",
        ),
        "",
        f"  one round of health checks, every {f['check_every_s']} s (first checks spread over"
        " the first interval):",
        _line("round: first start -> every row checked (s)", f"{wall:.1f}"),
        _line("first look at the rows, after the starts (s)", f"{f['first_check_after_s']:.1f}"),
        _line(
            "checks at the stand-in during it (Sellers API calls / refresh grants)",
            f"{f['checks']} / {f['refresh_grants']}",
        ),
        _line(
            "checks per second over the round (all checks / its wall time)",
            f"{f['checks_per_s']:.1f}",
        ),
    ]
    for name in (WORKER, TEMPORAL, STAND_IN):
        seconds = cpu.get(name, float("nan"))
        lines.append(
            _line(
                f"CPU over the round: {name} (s; cores; ms per check)",
                f"{seconds:.1f}; {seconds / wall:.2f}; {seconds / checks * 1000:.1f}",
            )
        )
    start_cpu = f["start_cpu"]["cpu_ms_each"]
    lines.append(
        _line(
            "  of which the start calls: worker / Temporal server (CPU ms per start)",
            f"{start_cpu.get(WORKER, 0):.1f} / {start_cpu.get(TEMPORAL, 0):.1f}",
        )
    )
    v = f["verdicts"]
    lines += [
        _line(
            "worker cache: hits / misses (replays) / forced evictions",
            " / ".join(f"{f['cache'][k]:.0f}" for k in ("hits", "misses", "forced evictions")),
        ),
        _line(
            "rows checked / healthy, right after the round",
            f"{v['checked']} / {v.get('status healthy', 0)} of {v['rows']}",
        ),
    ]
    if "verdicts_end" in f:
        e = f["verdicts_end"]
        lines.append(
            _line(
                "rows checked / healthy at the end",
                f"{e['checked']} / {e.get('status healthy', 0)} of {e['rows']}",
            )
        )
    lines += [
        "",
        f"  per check, from {sample['histories']} histories read after the round"
        f" ({sample['checks_read']} checks): p50 / p99 (ms)",
    ]
    for key, label in (
        ("timer_late", "timer fired after it was due"),
        ("activity_queued", "check_connection queued (scheduled -> started)"),
        ("activity_run", "check_connection ran (refresh, Sellers API, row)"),
        ("check_whole", "timer fired -> next timer started"),
    ):
        s = sample[key]
        lines.append(_line(label, f"{s['p50']:.1f} / {s['p99']:.1f}"))
    lines += [
        "",
        "  history each connection keeps:",
        _line(
            "events / bytes per check (median)",
            f"{sample['events_per_check']:.0f} / {sample['bytes_per_check']:.0f}",
        ),
        _line(
            "events / bytes of a run after its first check (median)",
            f"{sample['events_now']:.0f} / {sample['bytes_now']:.0f}",
        ),
    ]
    if "long_run" in f:
        lr = f["long_run"]
        lines += [
            _line(
                f"runs to continue-as-new ({lr['connections']} connections), checks each",
                ", ".join(map(str, lr["checks_per_run"])),
            ),
            _line(
                "  events of the run just before continue-as-new",
                ", ".join(map(str, lr["run_events"])),
            ),
            _line(
                "  its history size (bytes, the server's count)",
                ", ".join(map(str, lr["run_bytes"])),
            ),
            _line(
                "  events before the first check's timer; events / bytes per check",
                f"{lr['events_to_first_timer']:.0f};"
                f" {lr['events_per_check']:.0f} / {lr['bytes_per_check']:.0f}",
            ),
        ]
    holding = f"{n} ConnectionWorkflows"
    lines += [
        "",
        "  RSS (MB): worker / Temporal server",
        _line("idle, before any workflow", _rss(f["rss_idle_mb"])),
    ]
    if "requests" in f:
        req, rq = f["requests"], f["rss_held_requests_mb"]
        holding += f" + {req['start_call']['n']} open ConnectionRequestWorkflows"
        lines += [
            _line(
                f"holding {req['start_call']['n']} open requests, before the connections,"
                f" median of {rq[WORKER]['n']}",
                f"{rq[WORKER]['median']:.1f} / {rq[TEMPORAL]['median']:.1f}",
            ),
            _line(
                "  their starts: wall (s); starts/s; then all waiting, worker idle after (s)",
                f"{req['start_wall_s']:.1f}; {req['starts_per_s']:.1f};"
                f" {req['settled_after_starts_s']:.1f}",
            ),
        ]
    rh = f["rss_held_after_round_mb"]
    w = rh[WORKER]["median"]
    lines += [
        _line(
            f"during the round, median of {rr[WORKER]['n']} samples",
            f"{rr[WORKER]['median']:.1f} / {rr[TEMPORAL]['median']:.1f}",
        ),
        _line("during the round, max", f"{rr[WORKER]['max']:.1f} / {rr[TEMPORAL]['max']:.1f}"),
        _line(
            f"after the round, median of {rh[WORKER]['n']}",
            f"{w:.1f} / {rh[TEMPORAL]['median']:.1f}"
            f"  (worker goal < 500: {'met' if w < 500 else 'not met'})",
        ),
        f"    (holding {holding})",
    ]
    print("\n".join(lines), flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.connections_scale",
        description="Stored connections held and health-checked by one worker.",
    )
    parser.add_argument(
        "--connections", type=positive, default=10000, help="ConnectionWorkflows (10000)"
    )
    parser.add_argument(
        "--check-every",
        type=positive,
        help="seconds between a connection's checks, CONNECTION_CHECK_EVERY"
        " (default: connections / 30, at least 60)",
    )
    parser.add_argument(
        "--requests",
        type=int,
        help="open ConnectionRequestWorkflows started after the round (default: as many as"
        " --connections; 0: none)",
    )
    parser.add_argument(
        "--concurrency", type=positive, default=50, help="start_workflow calls in flight (50)"
    )
    parser.add_argument(
        "--auth-threads", type=positive, default=4, help="sellers consenting at once (4)"
    )
    parser.add_argument(
        "--sample", type=positive, default=50, help="histories read after the round (50)"
    )
    parser.add_argument(
        "--long-run",
        type=int,
        default=3,
        help="more connections run to their continue-as-new first, for the history (3; 0: none)",
    )
    parser.add_argument(
        "--long-run-every", type=positive, default=1, help="their seconds between checks (1)"
    )
    parser.add_argument(
        "--cache", type=positive, help="WORKER_MAX_CACHED_WORKFLOWS (unset: the worker's 1000)"
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
        "--time-limit", type=positive, default=3600, help="stop after this many seconds (3600)"
    )
    args = parser.parse_args(argv)
    if args.check_every is None:
        args.check_every = max(60, args.connections // 30)
    if args.requests is None:
        args.requests = args.connections
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging()
    figures: dict[str, Any] = {}
    try:
        with stop_by_itself(args.time_limit):
            run(args, figures)
    finally:
        if "rss_held_after_round_mb" in figures:  # the round is measured: report what there is
            if "load_end" not in figures:
                log.warning("stopped before the end: the figures below are those measured")
            report(figures)
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
