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
import contextlib
import json
import logging
import os
import platform
import time
import uuid
from typing import Any

from temporalio.client import Client

from bench.connections_scale_report import report
from bench.scale import hold_requests
from core.config import load_config
from core.connection_life import connection_workflow_id
from core.crypto import encrypt
from harness.connections import (
    authorize_all,
    checked_count,
    insert_connections,
    long_run,
    median,
    round_sample,
    stand_in_counts,
    start_connections,
    verdicts,
)
from harness.cpu import CpuUse, rss_mb
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
from tests.support import BackgroundLoop, free_port
from vocabulary.policies import CHECKS_PER_RUN

POLL = 2.0  # seconds between looks at the app database during the round

log = logging.getLogger("bench.connections_scale")


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
