"""Full onboardings per second, against no-op activities; two workers; evicted sellers' callbacks.

Starts, on loopback and stopped again at exit, everything as `make run` runs it, reusing
bench.connect_latency's process management: the Temporal dev server (the Procfile's flags),
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
import secrets
import signal
import sqlite3
import statistics
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from temporalio import activity
from temporalio.api.enums.v1 import EventType, TaskQueueKind
from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.worker import Worker

from activities.amazon import AmazonActivities
from activities.connections import ConnectionActivities
from activities.emails import EmailActivities
from bench.connect_latency import (
    AMAZON_LOGIN,
    BENCH,
    CODE_MARGIN,
    CODE_TTL,
    MARKETPLACE,
    NAMESPACE,
    STAND_IN,
    TEMPORAL,
    WEB,
    WORKER,
    Bookkeeper,
    CallbackResult,
    Child,
    CpuUse,
    Parts,
    Summary,
    app_settings,
    fire,
    positive,
    prepare_sellers,
    return_from_amazon,
    spawn,
    start_parts,
    stop_by_itself,
    stop_child,
    timestamp_seconds,
    wait_until,
    worker_polls,
)
from bench.scale import count_events, insert_rows, rss_mb, settle, start_all
from core import amazon, marketplaces
from core.config import load_config
from core.crypto import encrypt
from core.requests import workflow_id_for
from tests.amazon_seller import consent
from tests.support import free_port
from vocabulary import search_attributes
from vocabulary.messages import (
    AuthorizationRef,
    AuthorizationSubmitted,
    ChangeEmailInput,
    Closed,
    CloseRequestInput,
    ConnectionRequestInput,
    Done,
    EmailChange,
    EmailsSent,
    EventInput,
    ExchangeResult,
    InvitationInput,
    MarketplaceCheck,
    NoticeInput,
    OutcomeInput,
    RequestRef,
    StoredConnection,
)
from workflows.connection_request import ConnectionRequestWorkflow

ROOT = Path(__file__).resolve().parents[1]
NOOP_WORKER = "no-op worker"
WORKER_2 = "worker 2"
POLLING = "worker polling task queue"  # worker.py's line once its Worker is built
ONBOARD_TIMEOUT = 120.0  # seconds one onboarding may take before it counts as failed
DAY = 86400
NOOP_FIRST_ID = 100_000_000  # request ids of no-op onboardings: no row anywhere
# The small-cache worker's own count of its cache (WORKER_METRICS_ADDRESS, Prometheus text):
# workflow tasks that found their workflow in the cache or not (a miss is a replay from the
# whole history), and workflows pushed out to make room.
CACHE_METRICS = {
    "temporal_sticky_cache_hit": "hits",
    "temporal_sticky_cache_miss": "misses",
    "temporal_sticky_cache_total_forced_eviction": "forced evictions",
}

log = logging.getLogger("bench.onboarding")


# --- the no-op worker (a process of its own: python -m bench.onboarding --noop-worker) --------


@activity.defn(name="confirm_request_saved")
def noop_confirm_request_saved(input: RequestRef) -> Done:
    return Done()


@activity.defn(name="send_invitation")
def noop_send_invitation(input: InvitationInput) -> EmailsSent:
    return EmailsSent([])


@activity.defn(name="send_notice")
def noop_send_notice(input: NoticeInput) -> EmailsSent:
    return EmailsSent([])


@activity.defn(name="record_event")
def noop_record_event(input: EventInput) -> Done:
    return Done()


@activity.defn(name="exchange_authorization_code")
def noop_exchange_authorization_code(input: AuthorizationRef) -> ExchangeResult:
    return ExchangeResult("A2DEMOUSSELL01")


@activity.defn(name="check_marketplace")
def noop_check_marketplace(input: AuthorizationRef) -> MarketplaceCheck:
    return MarketplaceCheck(True, "Bench Store")


@activity.defn(name="store_connection")
def noop_store_connection(input: AuthorizationRef) -> StoredConnection:
    return StoredConnection(input.authorization_id)


@activity.defn(name="record_outcome")
def noop_record_outcome(input: OutcomeInput) -> Done:
    return Done()


@activity.defn(name="remove_connection")
def noop_remove_connection(input: RequestRef) -> Done:
    return Done()


@activity.defn(name="close_request")
def noop_close_request(input: CloseRequestInput) -> Closed:
    return Closed(input.status)


@activity.defn(name="change_client_email")
def noop_change_client_email(input: ChangeEmailInput) -> EmailChange:
    return EmailChange(changed=True)


NOOP_ACTIVITIES = [
    noop_confirm_request_saved,
    noop_send_invitation,
    noop_send_notice,
    noop_record_event,
    noop_exchange_authorization_code,
    noop_check_marketplace,
    noop_store_connection,
    noop_record_outcome,
    noop_remove_connection,
    noop_close_request,
    noop_change_client_email,
]
# What ConnectionRequestWorkflow calls, by the product's own definitions: the no-op worker must
# answer to exactly these names.
REAL_ACTIVITIES = [
    ConnectionActivities.confirm_request_saved,
    EmailActivities.send_invitation,
    EmailActivities.send_notice,
    ConnectionActivities.record_event,
    AmazonActivities.exchange_authorization_code,
    AmazonActivities.check_marketplace,
    ConnectionActivities.store_connection,
    ConnectionActivities.record_outcome,
    ConnectionActivities.remove_connection,
    ConnectionActivities.close_request,
    ConnectionActivities.change_client_email,
]


def _activity_name(fn) -> str:
    definition = activity._Definition.from_callable(fn)
    assert definition is not None and definition.name, fn
    return definition.name


def check_noop_names() -> None:
    noop = sorted(_activity_name(fn) for fn in NOOP_ACTIVITIES)
    real = sorted(_activity_name(fn) for fn in REAL_ACTIVITIES)
    if noop != real:
        raise SystemExit(f"no-op activity names {noop} differ from the product's {real}")


async def noop_worker_main() -> None:
    """ConnectionRequestWorkflow with no-op activities, configured as worker.py's Worker is
    (16 activity threads and slots, the cache from WORKER_MAX_CACHED_WORKFLOWS)."""
    check_noop_names()
    client = await Client.connect(os.environ["TEMPORAL_ADDRESS"], namespace=NAMESPACE)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    with ThreadPoolExecutor(max_workers=16) as executor:
        worker = Worker(
            client,
            task_queue=os.environ["TEMPORAL_TASK_QUEUE"],
            workflows=[ConnectionRequestWorkflow],
            activities=NOOP_ACTIVITIES,
            activity_executor=executor,
            max_concurrent_activities=16,
            max_cached_workflows=int(os.environ.get("WORKER_MAX_CACHED_WORKFLOWS", "1000")),
            graceful_shutdown_timeout=timedelta(seconds=20),
        )
        async with worker:
            print(f"no-op {POLLING} {os.environ['TEMPORAL_TASK_QUEUE']}", flush=True)
            await stop.wait()


# --- driving onboardings through the Temporal client (figure 1) -------------------------------


@dataclass
class Job:
    request_id: int
    authorization_id: int


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


def onboarding_input(request_id: int) -> ConnectionRequestInput:
    """What the web app copies in for an invitation with the default settings."""
    return ConnectionRequestInput(
        request_id=request_id,
        send_invite=True,
        account_name=f"Client {request_id}",
        marketplace=MARKETPLACE,
        requested_by="Bench Keeper",
        expires_after_seconds=14 * DAY,
        reminder_offsets_seconds=[2 * DAY, 5 * DAY, 9 * DAY],
        reminder_pause_seconds=DAY,
    )


async def onboard(client: Client, task_queue: str, job: Job) -> str:
    """Start, hand over the authorization (the callback's update), wait for the result."""
    marketplace = marketplaces.get(MARKETPLACE)
    handle = await client.start_workflow(
        ConnectionRequestWorkflow.run,
        onboarding_input(job.request_id),
        id=workflow_id_for(job.request_id, MARKETPLACE),
        task_queue=task_queue,
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(search_attributes.ACCOUNT_ID, str(job.request_id)),
                SearchAttributePair(search_attributes.MARKETPLACE, marketplace.country),
                SearchAttributePair(search_attributes.SELLER_EMAIL_DOMAIN, "example.com"),
                SearchAttributePair(search_attributes.ONBOARDING_STATUS, "sent"),
            ]
        ),
    )
    outcome = await handle.execute_update(
        ConnectionRequestWorkflow.submit_authorization,
        AuthorizationSubmitted(job.authorization_id),
        id=f"authorization-{uuid.uuid4().hex}",
    )
    if outcome.outcome != "connected":
        return f"update answered {outcome.outcome}"
    result = await handle.result()
    return "" if result.status == "connected" else f"workflow ended {result.status}"


async def drive(
    client: Client, task_queue: str, jobs: list[Job], concurrency: int
) -> tuple[list[float], list[str]]:
    slots = asyncio.Semaphore(concurrency)
    seconds: list[float] = []
    failures: list[str] = []

    async def one(job: Job) -> None:
        async with slots:
            began = time.perf_counter()
            try:
                error = await asyncio.wait_for(onboard(client, task_queue, job), ONBOARD_TIMEOUT)
            except Exception as err:  # noqa: BLE001 (counted and shown, the run goes on)
                error = f"{type(err).__name__}: {err}"
            if error:
                failures.append(f"request {job.request_id}: {error}")
            else:
                seconds.append(time.perf_counter() - began)

    await asyncio.gather(*(one(job) for job in jobs))
    return seconds, failures


class RealJobs:
    """Request rows and authorizations with fresh codes, as the callback would have left them."""

    def __init__(self, parts: Parts, settings: dict[str, str]) -> None:
        self.parts = parts
        self.db_path = parts.workdir / "app.db"
        self.config = load_config({**os.environ, **settings})
        self.local = threading.local()

    def _code(self, _: int) -> tuple[str, str]:
        """A seller signs in at the stand-in and confirms; Amazon's redirect carries the code."""
        http = getattr(self.local, "http", None)
        if http is None:  # one signed-in seller per thread, as a browser that stays signed in
            http = self.local.http = requests.Session()
            self.parts.sessions.append(http)
        url = amazon.consent_url(
            self.config, marketplaces.get(MARKETPLACE), secrets.token_urlsafe(24)
        )
        query = parse_qs(urlsplit(consent(url, AMAZON_LOGIN, session=http)).query)
        return query["spapi_oauth_code"][0], query["selling_partner_id"][0]

    def prepare(self, n: int) -> list[Job]:
        ids = insert_rows(
            self.db_path, n, kind="invite", status="sent", email=f"{uuid.uuid4().hex}@example.com"
        )
        with ThreadPoolExecutor(max_workers=4, thread_name_prefix="consent") as pool:
            codes = list(pool.map(self._code, ids))
        keys = self.config["TOKEN_ENCRYPTION_KEY"]
        now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
        jobs = []
        with contextlib.closing(sqlite3.connect(self.db_path, timeout=30)) as con, con:
            for request_id, (code, seller_id) in zip(ids, codes, strict=True):
                authorization_id = con.execute(
                    "INSERT INTO authorizations (public_id, request_id, selling_partner_id,"
                    " code_encrypted, outcome, outcome_message, received_at)"
                    " VALUES (?, ?, ?, ?, 'pending', '', ?)",
                    (uuid.uuid4().hex, request_id, seller_id, encrypt(keys, code), now),
                ).lastrowid
                jobs.append(Job(request_id, authorization_id))
        return jobs


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


@dataclass
class WebOnboarding:
    seconds: float
    error: str
    workflow_id: str
    callback: CallbackResult | None


def web_onboarding(parts: Parts, bookkeepers: queue.Queue) -> WebOnboarding:
    """Add an account and send the request; invitation; landing; consent; callback; result."""
    bookkeeper = bookkeepers.get()
    began = time.perf_counter()
    workflow_id = ""
    try:
        missing: list[tuple[str, str]] = []
        sellers = prepare_sellers(parts, bookkeeper, 1, missing)
        if not sellers:
            return WebOnboarding(0.0, f"no invitation: {missing}", "", None)
        workflow_id = sellers[0].workflow_id
        callback = return_from_amazon(sellers[0])
        if not callback.connected:
            return WebOnboarding(0.0, f"callback: {callback.error}", workflow_id, callback)
        handle = parts.client.get_workflow_handle_for(ConnectionRequestWorkflow.run, workflow_id)
        result = parts.loop.run(handle.result(), timeout=ONBOARD_TIMEOUT)
        error = "" if result.status == "connected" else f"workflow ended {result.status}"
        return WebOnboarding(time.perf_counter() - began, error, workflow_id, callback)
    except Exception as err:  # noqa: BLE001 (counted and shown, the run goes on)
        return WebOnboarding(0.0, f"{type(err).__name__}: {err}", workflow_id, None)
    finally:
        bookkeepers.put(bookkeeper)


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


async def task_counts(client: Client, workflow_ids: list[str]) -> dict[str, Counter]:
    """Per worker identity: workflow tasks completed and activity tasks started."""
    counts: dict[str, Counter] = {"workflow tasks": Counter(), "activity tasks": Counter()}
    gate = asyncio.Semaphore(16)

    async def one(workflow_id: str) -> None:
        async with gate:
            history = await client.get_workflow_handle(workflow_id).fetch_history()
        for event in history.events:
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
                identity = event.workflow_task_completed_event_attributes.identity
                counts["workflow tasks"][identity] += 1
            elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
                identity = event.activity_task_started_event_attributes.identity
                counts["activity tasks"][identity] += 1

    await asyncio.gather(*(one(w) for w in workflow_ids))
    return counts


# --- callbacks after eviction (figure 3) ------------------------------------------------------


async def accepting_task(client: Client, workflow_id: str) -> dict[str, Any]:
    """The workflow task that accepted the update: which queue it was scheduled on (the worker's
    sticky queue or the normal one), and how long it took in the worker (started -> completed,
    which includes a replay when the workflow had been evicted)."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    scheduled: dict[int, tuple[int, float]] = {}
    started: dict[int, float] = {}
    last: dict[str, Any] = {}
    for event in history.events:
        at = timestamp_seconds(event.event_time)
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
            queue_kind = event.workflow_task_scheduled_event_attributes.task_queue.kind
            scheduled[event.event_id] = (queue_kind, at)
        elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
            started[event.workflow_task_started_event_attributes.scheduled_event_id] = at
        elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            task = event.workflow_task_completed_event_attributes.scheduled_event_id
            queue_kind, _ = scheduled.get(task, (0, at))
            last = {
                "sticky": queue_kind == TaskQueueKind.TASK_QUEUE_KIND_STICKY,
                "in_worker": at - started.get(task, at),
            }
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            return {**last, "events_before": event.event_id}
    return {}


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


def cache_counts(metrics_address: str) -> dict[str, float]:
    """The worker's cache counters now, summed over their label sets."""
    text = requests.get(f"http://{metrics_address}/metrics", timeout=30).text
    counts = dict.fromkeys(CACHE_METRICS.values(), 0.0)
    for line in text.splitlines():
        name = line.split("{", 1)[0].split(" ", 1)[0]
        if name in CACHE_METRICS:
            counts[CACHE_METRICS[name]] += float(line.rsplit(" ", 1)[1])
    return counts


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


def spawn_worker(
    stack: contextlib.ExitStack,
    parts: Parts,
    name: str,
    argv: list[str],
    env: dict[str, str],
    task_queue: str,
) -> Child:
    """Start a worker process; ready once it says it polls (worker.py logs that just before its
    Worker starts polling; the server's poller list shows a second worker only once its polls
    happen to reach the queue's root partition, up to half a minute here). Whether each worker
    really worked is read from the histories afterwards."""
    child = spawn(stack, parts.workdir, name, argv, env)
    parts.children.append(child)

    def says_it_polls() -> bool:
        with contextlib.suppress(OSError):
            return POLLING in child.log_path.read_text(errors="replace")
        return False

    wait_until(name, says_it_polls, parts.children)
    wait_until(name, worker_polls(parts.loop, parts.client, task_queue), parts.children)
    time.sleep(1.0)
    return child


def retire(parts: Parts, child: Child) -> None:
    """Stop a worker the bench no longer needs; it is no longer checked for being alive."""
    stop_child(child)
    parts.children.remove(child)


def loads() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def split(total: int, rounds: int) -> list[int]:
    return [total // rounds + (1 if i < total % rounds else 0) for i in range(rounds)]


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
        target = parts.client.service_client.config.target_host
        settings = app_settings(
            parts.workdir,
            parts.app_url,
            parts.amazon_url,
            target,
            parts.mailbox.port,
            parts.task_queue,
        )
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
            bookkeepers.put(Bookkeeper(parts).sign_up(parts.mailbox))
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


def round_json(r: Round) -> dict[str, Any]:
    return {
        "path": r.path,
        "workers": r.workers,
        "n": r.n,
        "ok": r.ok,
        "wall_s": r.wall,
        "per_s": r.rate,
        "latency_ms": asdict(r.latency),
        "failures": r.failures[:5],
        "failure_count": len(r.failures),
        "cpu": r.cpu.as_json(max(r.ok, 1)),
        "rss_mb": r.rss_mb,
    }


def callbacks_json(c: CallbackSet) -> dict[str, Any]:
    ok = [r for r in c.results if r.connected]
    tasks = [t for t in c.tasks if t]
    return {
        "label": c.label,
        "evicted": c.evicted,
        "concurrency": c.concurrency,
        "callback_ms": asdict(Summary.of([r.seconds for r in ok])),
        "connected": len(ok),
        "failures": [r.error for r in c.results if not r.connected][:5],
        "failure_count": sum(1 for r in c.results if not r.connected),
        "finishing_pages": sum(1 for r in c.results if r.refreshes),
        "accepting_task_sticky": sum(1 for t in tasks if t.get("sticky")),
        "accepting_task_normal": sum(1 for t in tasks if not t.get("sticky")),
        "accepting_task_in_worker_ms": asdict(Summary.of([t["in_worker"] for t in tasks])),
        "events_before_update": statistics.median([t["events_before"] for t in tasks])
        if tasks
        else None,
        "cpu": c.cpu.as_json(max(len(ok), 1)),
        "worker_cache_during_callbacks": c.cache,
    }


def summarise(figures: dict[str, Any], pairs: list[tuple[Round, Round]], web: list[Round]) -> None:
    def median(values: list[float]) -> float:
        return statistics.median(values) if values else float("nan")

    real = median([r.rate for r, _ in pairs])
    noop = median([n.rate for _, n in pairs])
    one = median([r.rate for r in web if r.workers == 1])
    two = median([r.rate for r in web if r.workers == 2])
    figures["medians"] = {
        "real_client_per_s": real,
        "noop_client_per_s": noop,
        "ratio_real_noop": real / noop,
        "round_ratios": [r.rate / n.rate for r, n in pairs],
        "web_1_worker_per_s": one,
        "web_2_workers_per_s": two,
        "ratio_web_noop": one / noop,
        "ratio_two_one": two / one,
    }


def report(f: dict[str, Any]) -> None:
    m = f["medians"]
    a = f["args"]
    ev = f["eviction"]
    lines = [
        "",
        "Onboarding bench: full onboardings per second, two workers, callbacks after eviction",
        f"  os.cpu_count() = {f['cpu_count']}; Python {f['python']}; load average (1/5/15 min):"
        + "; ".join(f" {k} {'/'.join(str(x) for x in v)}" for k, v in f["load"].items()),
        f"  --rounds {a['rounds']} x (--real-per-round {a['real_per_round']},"
        f" --noop-per-round {a['noop_per_round']}), --concurrency {a['concurrency']};"
        f" --web-rounds {a['web_rounds']} x 2 x --web-per-round {a['web_per_round']},"
        f" --web-concurrency {a['web_concurrency']}; --cache {a['cache']},"
        f" --fillers {a['fillers']}, --evicted-sellers {a['evicted_sellers']},"
        f" --cached-sellers {a['cached_sellers']}, --evict-concurrency {a['evict_concurrency']}",
        "",
        "1. Onboardings driven through the Temporal client (start, update submit_authorization,"
        " result)",
        f"  {'round':<8} {'real /s':>9} {'no-op /s':>9} {'ratio':>7}   real p50/p99 ms"
        "     no-op p50/p99 ms   failures real/no-op",
    ]
    for i, pair in enumerate(f["client_rounds"], 1):
        r, n = pair["real"], pair["noop"]
        lines.append(
            f"  {i:<8} {r['per_s']:>9.1f} {n['per_s']:>9.1f} {r['per_s'] / n['per_s']:>7.2f}"
            f"   {r['latency_ms']['p50']:>6.0f} / {r['latency_ms']['p99']:<6.0f}"
            f"     {n['latency_ms']['p50']:>6.0f} / {n['latency_ms']['p99']:<6.0f}"
            f"     {r['failure_count']} / {n['failure_count']}"
        )
    ratio = m["ratio_real_noop"]
    lines += [
        f"  median: real {m['real_client_per_s']:.1f} /s, no-op {m['noop_client_per_s']:.1f} /s,"
        f" ratio {ratio:.2f} (goal >= 0.5: {'MET' if ratio >= 0.5 else 'NOT MET'})",
        "  CPU per onboarding (ms), last round pair:",
    ]
    last = f["client_rounds"][-1]
    for path in ("real", "noop"):
        cpu = last[path]["cpu"]
        lines.append(
            f"    {path:<6} "
            + ", ".join(f"{k} {v:.1f}" for k, v in cpu["cpu_ms_each"].items())
            + "  (cores: "
            + ", ".join(f"{k} {v:.2f}" for k, v in cpu["cores"].items())
            + ")"
        )
    for failure in [x for p in f["client_rounds"] for x in p["real"]["failures"]][:3]:
        lines.append(f"    real failure: {failure}")
    lines += [
        "",
        "2. Full onboardings through the web app (send, invitation, landing, consent,"
        " callback, result)",
        f"  {'round':<8} {'workers':>7} {'ok/n':>9} {'per s':>7}  p50/p99 ms   RSS MB per worker"
        "   worker cores",
    ]
    for i, r in enumerate(f["web_rounds"], 1):
        rss = ", ".join(f"{k} {v:.0f}" for k, v in r["rss_mb"].items() if k.startswith("worker"))
        cores = ", ".join(
            f"{k} {v:.2f}" for k, v in r["cpu"]["cores"].items() if k.startswith("worker")
        )
        lines.append(
            f"  {i:<8} {r['workers']:>7} {r['ok']:>4}/{r['n']:<4} {r['per_s']:>7.2f}"
            f"  {r['latency_ms']['p50']:>5.0f}/{r['latency_ms']['p99']:<5.0f}  {rss}   {cores}"
        )
        for failure in r["failures"][:2]:
            lines.append(f"    failure: {failure}")
    lines.append(
        f"  median: 1 worker {m['web_1_worker_per_s']:.2f} /s, 2 workers"
        f" {m['web_2_workers_per_s']:.2f} /s (ratio {m['ratio_two_one']:.2f});"
        f" web / no-op client {m['ratio_web_noop']:.2f}"
    )
    for i, counts in enumerate(f.get("two_worker_tasks", []), 1):
        lines.append(
            f"  two-worker round {i}: "
            + "; ".join(
                f"{kind}: " + ", ".join(f"{who} {n}" for who, n in sorted(c.items()))
                for kind, c in counts.items()
            )
        )
    lines += [
        "",
        f"3. Callback -> Connected (GET /amazon/callback until the Connected page), worker"
        f" cache {ev['cache']}; {ev['fillers']} newer requests woke between the evicted sellers'"
        f" consent and their return; oldest code {ev['oldest_code_seconds']:.0f} s",
        f"  {'':<24} {'at once':>7} {'n':>4} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}"
        "  update's workflow task: in worker p50/p99 ms, sticky/normal queue",
    ]
    for s in ev["sets"]:
        c = s["callback_ms"]
        t = s["accepting_task_in_worker_ms"]
        goal = ""
        if s["evicted"]:
            goal = f"  goal p99 < 1000: {'MET' if c['p99'] < 1000 else 'NOT MET'}"
        lines.append(
            f"  {s['label']:<24} {s['concurrency']:>7} {c['n']:>4} {c['p50']:>8.1f}"
            f" {c['p99']:>8.1f} {c['max']:>8.1f}  {t['p50']:.1f}/{t['p99']:.1f},"
            f" {s['accepting_task_sticky']}/{s['accepting_task_normal']};"
            f" failures {s['failure_count']}, finishing {s['finishing_pages']}{goal}"
        )
        cores = s["cpu"]["cores"]
        lines.append("      cores: " + ", ".join(f"{k} {v:.2f}" for k, v in cores.items()))
        cache = s["worker_cache_during_callbacks"]
        lines.append(
            "      the worker's cache during the callbacks (its metrics): "
            + ", ".join(f"{k} {v:.0f}" for k, v in cache.items())
        )
    print("\n".join(lines), flush=True)


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
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s %(message)s", datefmt="%H:%M:%S"
    )
    for noisy in ("werkzeug", "temporalio", "mail.log"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    with stop_by_itself(args.time_limit):
        figures = run(args)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str))
    report(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
