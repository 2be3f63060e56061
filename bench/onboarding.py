"""Full onboardings per second, against no-op activities; two workers; evicted sellers' callbacks.

Starts, on loopback and stopped again at exit, everything as `make run` runs it, reusing
the harness (harness.parts, as connect_latency): the Temporal dev server (the Procfile's flags),
`flask --app web db upgrade`, the Amazon stand-in (`python -m sandbox`), the worker
(`python worker.py`) and the web app, each a process configured by environment variables; the
SMTP sink (`tests.support.Mailbox`) stays in this process. Then, in one run:

1. Onboardings per second, driven through the Temporal client with identical calls
   (`start_workflow(ConnectionRequestWorkflow.run, send_invite=True)`, then the update
   `submit_authorization`, then the result), `--concurrency` in flight, alternating rounds:
   - real: the worker (`python worker.py`) on the app's task queue; each onboarding has a request
     row and an authorization row holding a fresh code the stand-in issued to a seller who
     consented (prepared before the round, unmeasured): the workflow confirms the row, emails the
     invitation, exchanges the code at the stand-in, checks the marketplace, stores the
     connection and sends both confirmations;
   - no-op: the same workflow class and inputs on a task queue of its own, served by a no-op
     worker (`python -m bench.onboarding --noop-worker`, a process of its own built like
     `worker.build_worker`) whose activities have the same names and return types and do
     nothing. Ratio real / no-op (goal >= 0.5).
2. Full onboardings through the web app, `--web-concurrency` at once, with one worker and with
   two `python worker.py` processes on the same task queue (alternating rounds): the bookkeeper
   adds an account and sends the request (POST), the invitation email arrives, the seller opens
   the link, presses 'Continue to Amazon', consents at the stand-in and comes back
   (GET /amazon/callback until "Connected"), and the workflow completes (its result).
   Per worker: CPU, RSS and how many workflow and activity tasks it ran (from the histories).
3. Callback -> Connected for sellers evicted from the worker's cache: a worker with a small
   `WORKER_MAX_CACHED_WORKFLOWS` (`--cache`); sellers are prepared (invitation, consent), then
   `--fillers` x cache newer open requests are started and settle, pushing every seller out of
   the LRU cache, then the sellers come back, `--evict-concurrency` at once. Against sellers
   who come back straight away (cached). Goal: p99 < 1 s.

Run: `.venv/bin/python -m bench.onboarding` (see bench/README.md for the options).
"""

# ruff: noqa: E402  (the sys.path line below must precede the project's imports)

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/onboarding.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import asyncio
import contextlib
import json
import logging
import os
import platform
import queue
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from bench.onboarding_report import callbacks_json, report, round_json, summarise
from harness.cpu import CpuUse, rss_mb
from harness.drivers import CODE_MARGIN, CODE_TTL, Bookkeeper, CallbackResult, fire, prepare_sellers
from harness.history import accepting_task, task_counts
from harness.metrics import CACHE_METRICS, cache_counts
from harness.noop_worker import check_noop_names, noop_worker_main
from harness.onboardings import ONBOARD_TIMEOUT, Job, RealJobs, drive, web_onboarding
from harness.parts import (
    BENCH,
    STAND_IN,
    TEMPORAL,
    WEB,
    WORKER,
    Parts,
    retire,
    spawn_worker,
    start_parts,
)
from harness.processes import Child
from harness.run import configure_logging, positive, stop_by_itself
from harness.stats import Summary
from harness.workload import count_events, insert_rows, settle, start_all
from tests.support import free_port

NOOP_WORKER = "no-op worker"
WORKER_2 = "worker 2"
NOOP_FIRST_ID = 100_000_000  # request ids of no-op onboardings: no row anywhere

log = logging.getLogger("bench.onboarding")


# --- driving onboardings through the Temporal client (figure 1) -------------------------------


@dataclass
class Round:
    path: str
    n: int
    wall: float
    ok: int
    failures: list[str]
    latency: Summary
    cpu: CpuUse
    workers: int = 1
    workflow_ids: list[str] = field(default_factory=list)
    rss_mb: dict[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.ok / self.wall if self.wall else float("nan")


def client_round(
    parts: Parts, path: str, task_queue: str, jobs: list[Job], concurrency: int, pids
) -> Round:
    cpu = CpuUse()
    began = time.perf_counter()
    with cpu.measure(pids):
        seconds, failures = parts.baseline_loop.run(
            drive(parts.baseline_client, task_queue, jobs, concurrency),
            timeout=ONBOARD_TIMEOUT + 60 + len(jobs),
        )
    wall = time.perf_counter() - began
    result = Round(path, len(jobs), wall, len(seconds), failures, Summary.of(seconds), cpu)
    log.info(
        "%s: %d of %d onboardings in %.1f s: %.1f /s (p50 %.0f ms)",
        path,
        result.ok,
        result.n,
        wall,
        result.rate,
        result.latency.p50,
    )
    return result


# --- full onboardings through the web app (figure 2) ------------------------------------------


def web_round(
    parts: Parts, bookkeepers: queue.Queue, n: int, concurrency: int, workers: int, pids
) -> Round:
    parts.mailbox.messages.clear()  # nothing in flight: keep the sink's scans short
    cpu = CpuUse()
    began = time.perf_counter()
    with cpu.measure(pids), ThreadPoolExecutor(concurrency, thread_name_prefix="web") as pool:
        done = list(pool.map(lambda _: web_onboarding(parts, bookkeepers), range(n)))
    wall = time.perf_counter() - began
    ok = [d for d in done if not d.error]
    result = Round(
        "web",
        n,
        wall,
        len(ok),
        [d.error for d in done if d.error],
        Summary.of([d.seconds for d in ok]),
        cpu,
        workers=workers,
        workflow_ids=[d.workflow_id for d in ok],
        rss_mb={name: rss_mb(pid) for name, pid in pids.items()},
    )
    log.info(
        "web, %d worker(s): %d of %d onboardings in %.1f s: %.2f /s (p50 %.0f ms)",
        workers,
        result.ok,
        n,
        wall,
        result.rate,
        result.latency.p50,
    )
    return result


# --- callbacks after eviction (figure 3) ------------------------------------------------------


@dataclass
class CallbackSet:
    """Sellers coming back from Amazon, `concurrency` at once; evicted or not."""

    label: str
    evicted: bool
    concurrency: int
    results: list[CallbackResult] = field(default_factory=list)
    tasks: list[dict[str, Any]] = field(default_factory=list)
    cpu: CpuUse = field(default_factory=CpuUse)
    cache: dict[str, float] = field(
        default_factory=lambda: dict.fromkeys(CACHE_METRICS.values(), 0)
    )


@dataclass
class EvictionRun:
    cache: int
    sets: list[CallbackSet]
    fillers: int = 0
    oldest_code_seconds: float = 0.0
    missing: list[tuple[str, str]] = field(default_factory=list)


def measure_eviction(
    parts: Parts,
    bookkeeper: Bookkeeper,
    args: argparse.Namespace,
    worker: Child,
    temporal_child: Child,
    pids: dict[str, int],
    metrics_address: str,
) -> EvictionRun:
    at_once = args.evict_concurrency
    sets = [
        (CallbackSet("cached", False, at_once), args.cached_sellers),
        (CallbackSet("evicted", True, at_once), args.evicted_sellers),
        (CallbackSet("evicted, one at a time", True, 1), args.evicted_single),
    ]
    run = EvictionRun(args.cache, [s for s, _ in sets])
    db_path = parts.workdir / "app.db"

    def code_age(sellers) -> None:
        oldest = max((time.perf_counter() - s.consented_at for s in sellers), default=0.0)
        run.oldest_code_seconds = max(run.oldest_code_seconds, oldest)
        if oldest > CODE_TTL - CODE_MARGIN:
            raise RuntimeError(f"codes {oldest:.0f} s old: use a smaller --evict-batch")

    for callbacks, total in sets:
        # A cached batch must fit in the cache (half of it, to be safe from the LRU's edge).
        size = (
            args.evict_batch if callbacks.evicted else max(1, min(args.evict_batch, run.cache // 2))
        )
        for start in range(0, total, size):
            parts.mailbox.messages.clear()  # nothing in flight: keep the sink's scans short
            sellers = prepare_sellers(parts, bookkeeper, min(size, total - start), run.missing)
            if callbacks.evicted:
                # After the sellers' last step, far more newer requests than the cache holds
                # wake up (start, confirm_request_saved, record_event) and then wait.
                fillers = args.fillers * run.cache
                ids = insert_rows(db_path, fillers, email=f"{uuid.uuid4().hex}@example.com")
                parts.loop.run(start_all(parts.client, parts.task_queue, ids, 50), timeout=600)
                run.fillers += fillers
                settle(db_path, run.fillers, worker, temporal_child)
            code_age(sellers)
            before = cache_counts(metrics_address)
            with callbacks.cpu.measure(pids):
                callbacks.results += fire(sellers, callbacks.concurrency)
            after = cache_counts(metrics_address)
            for name in callbacks.cache:
                callbacks.cache[name] += after[name] - before[name]
            log.info("%s: %d sellers back", callbacks.label, len(callbacks.results))
        ids = [r.workflow_id for r in callbacks.results if r.connected]

        async def read(ids=ids) -> list[dict[str, Any]]:
            return await asyncio.gather(*(accepting_task(parts.client, w) for w in ids))

        callbacks.tasks = parts.loop.run(read(), timeout=300)
    assert count_events(db_path, "direct_started") >= run.fillers
    return run


# --- the run ----------------------------------------------------------------------------------


def loads() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def run(args: argparse.Namespace) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "args": {k: v for k, v in vars(args).items() if k != "json"},
        "load": {"start": loads()},
    }
    check_noop_names()
    with contextlib.ExitStack() as stack:
        parts = start_parts(stack, args)
        temporal_child = next(c for c in parts.children if c.name == "temporal")
        worker = next(c for c in parts.children if c.name == WORKER)
        settings = parts.settings
        env = {**os.environ, **settings, "PYTHONUNBUFFERED": "1"}
        noop_queue = f"{parts.task_queue}-noop"
        noop = spawn_worker(
            stack,
            parts,
            NOOP_WORKER,
            [sys.executable, "-m", "bench.onboarding", "--noop-worker"],
            {**env, "TEMPORAL_TASK_QUEUE": noop_queue},
            noop_queue,
        )
        bench_pid = {BENCH: os.getpid()}
        real_pids = {
            **bench_pid,
            WORKER: worker.pid,
            STAND_IN: parts.pids[STAND_IN],
            TEMPORAL: temporal_child.pid,
        }
        noop_pids = {**bench_pid, NOOP_WORKER: noop.pid, TEMPORAL: temporal_child.pid}
        jobs = RealJobs(parts, settings)
        next_noop = iter(range(NOOP_FIRST_ID, NOOP_FIRST_ID + 10_000_000))

        def noop_jobs(n: int) -> list[Job]:
            return [Job(i, i) for i in (next(next_noop) for _ in range(n))]

        # 1. real vs no-op, through the client, alternating rounds (order swapped every round).
        log.info("warm-up: %d onboardings each way", args.warmup)
        client_round(parts, "no-op", noop_queue, noop_jobs(args.warmup), args.concurrency, {})
        client_round(
            parts, "real", parts.task_queue, jobs.prepare(args.warmup), args.concurrency, {}
        )
        pairs: list[tuple[Round, Round]] = []
        for number in range(args.rounds):
            prepared = jobs.prepare(args.real_per_round)
            parts.mailbox.messages.clear()

            def noop_round() -> Round:
                return client_round(
                    parts,
                    "no-op",
                    noop_queue,
                    noop_jobs(args.noop_per_round),
                    args.concurrency,
                    noop_pids,
                )

            def real_round(prepared=prepared) -> Round:
                return client_round(
                    parts, "real", parts.task_queue, prepared, args.concurrency, real_pids
                )

            if number % 2 == 0:
                first, second = noop_round(), real_round()
                pairs.append((second, first))
            else:
                first, second = real_round(), noop_round()
                pairs.append((first, second))
        figures["load"]["after_client_rounds"] = loads()
        retire(parts, noop)

        # 2. through the web app: one worker, then two, alternating.
        log.info("signing up %d bookkeepers", args.web_concurrency)
        bookkeepers: queue.Queue = queue.Queue()
        for _ in range(args.web_concurrency):
            bookkeepers.put(Bookkeeper(parts.app_url, parts.sessions).sign_up(parts.mailbox))
        web_pids = {
            **bench_pid,
            WEB: parts.pids[WEB],
            WORKER: worker.pid,
            STAND_IN: parts.pids[STAND_IN],
            TEMPORAL: temporal_child.pid,
        }
        log.info("web warm-up: %d onboardings", args.web_concurrency)
        web_round(parts, bookkeepers, args.web_concurrency, args.web_concurrency, 1, {})
        web: list[Round] = []
        for number in range(2 * args.web_rounds):
            workers = 1 if number % 2 == 0 else 2
            if workers == 1:
                web.append(
                    web_round(
                        parts, bookkeepers, args.web_per_round, args.web_concurrency, 1, web_pids
                    )
                )
                continue
            second = spawn_worker(
                stack, parts, WORKER_2, [sys.executable, "worker.py"], env, parts.task_queue
            )
            try:
                web.append(
                    web_round(
                        parts,
                        bookkeepers,
                        args.web_per_round,
                        args.web_concurrency,
                        2,
                        {**web_pids, WORKER_2: second.pid},
                    )
                )
            finally:
                retire(parts, second)
            web[-1].rss_mb.setdefault(WORKER_2, float("nan"))
            counts = parts.loop.run(task_counts(parts.client, web[-1].workflow_ids), timeout=300)
            names = {f"{worker.pid}@": WORKER, f"{second.pid}@": WORKER_2}

            def who(identity: str, names=names) -> str:
                return next((n for p, n in names.items() if identity.startswith(p)), identity)

            web[-1].workflow_ids = []
            figures.setdefault("two_worker_tasks", []).append(
                {kind: {who(i): c for i, c in counter.items()} for kind, counter in counts.items()}
            )
        figures["load"]["after_web_rounds"] = loads()

        # 3. callbacks of evicted sellers: a worker with a small cache.
        retire(parts, worker)
        metrics_address = f"127.0.0.1:{free_port()}"
        small = spawn_worker(
            stack,
            parts,
            f"{WORKER} (cache {args.cache})",
            [sys.executable, "worker.py"],
            {
                **env,
                "WORKER_MAX_CACHED_WORKFLOWS": str(args.cache),
                "WORKER_METRICS_ADDRESS": metrics_address,
            },
            parts.task_queue,
        )
        bookkeeper = bookkeepers.get()
        eviction_pids = {**web_pids, WORKER: small.pid}
        eviction = measure_eviction(
            parts, bookkeeper, args, small, temporal_child, eviction_pids, metrics_address
        )
        figures["load"]["end"] = loads()
        log.info("stopping every part")

    figures["client_rounds"] = [
        {"real": round_json(real), "noop": round_json(noop_)} for real, noop_ in pairs
    ]
    figures["web_rounds"] = [round_json(r) for r in web]
    figures["eviction"] = {
        "cache": eviction.cache,
        "fillers": eviction.fillers,
        "oldest_code_seconds": eviction.oldest_code_seconds,
        "missing_invitations": len(eviction.missing),
        "sets": [callbacks_json(c) for c in eviction.sets],
    }
    summarise(figures, pairs, web)
    return figures


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.onboarding",
        description="Full onboardings per second against no-op activities; two workers;"
        " callbacks of sellers evicted from the worker's cache.",
    )
    add = parser.add_argument
    add("--rounds", type=positive, default=3, help="real/no-op round pairs (3)")
    add("--real-per-round", type=positive, default=60, help="real onboardings per round (60)")
    add("--noop-per-round", type=positive, default=120, help="no-op onboardings per round (120)")
    add("--concurrency", type=positive, default=20, help="client onboardings in flight (20)")
    add("--warmup", type=positive, default=20, help="unmeasured onboardings each way first (20)")
    add("--web-rounds", type=positive, default=2, help="web round pairs, 1 and 2 workers (2)")
    add("--web-per-round", type=positive, default=40, help="web onboardings per round (40)")
    add("--web-concurrency", type=positive, default=8, help="web onboardings at once (8)")
    add("--cache", type=positive, default=20, help="WORKER_MAX_CACHED_WORKFLOWS, part 3 (20)")
    add("--fillers", type=positive, default=5, help="newer requests per batch, x cache (5)")
    add("--evicted-sellers", type=positive, default=60, help="evicted callbacks (60)")
    add("--cached-sellers", type=positive, default=20, help="cached callbacks (20)")
    add("--evicted-single", type=positive, default=10, help="evicted callbacks one at a time (10)")
    add("--evict-batch", type=positive, default=30, help="sellers prepared per batch (30)")
    add("--evict-concurrency", type=positive, default=10, help="sellers back at once (10)")
    add(
        "--temporal-config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="another dynamic config value for the dev server (repeatable)",
    )
    add("--json", type=Path, help="also write the figures here as JSON")
    add("--time-limit", type=positive, default=900, help="stop after this many seconds (900)")
    add("--noop-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.in_process = False  # start_parts: the topology of `make run`
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.noop_worker:
        asyncio.run(noop_worker_main())
        logging.shutdown()
        os._exit(0)  # as worker.py: the SDK's native threads can abort interpreter teardown
    configure_logging()
    with stop_by_itself(args.time_limit):
        figures = run(args)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str))
    report(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
