"""The benchmarks' product: every part started once, in the topology of `make run`, and stopped
in reverse order when the ExitStack unwinds (also on Ctrl-C, SIGTERM or a time limit).

The Temporal dev server with the Procfile's flags, `flask --app web db upgrade`, then the Amazon
stand-in, the worker and the web app, each a process configured by environment variables only,
sharing one SQLite app database; the SMTP sink stays in this process. `--in-process` (see
`harness.in_process`) keeps the older topology: everything but Temporal in this process.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import requests
from temporalio.client import Client

from harness.processes import (
    LOOPBACK,
    NAMESPACE,
    Child,
    app_settings,
    db_upgrade,
    http_answers,
    rate_limits,
    spawn,
    stop_child,
    temporal_argv,
    venv_binary,
    wait_ready,
    worker_polls,
)
from tests.support import BackgroundLoop, Mailbox, free_port

# Names of the parts in the CPU figures.
BENCH, WEB, WORKER, STAND_IN, TEMPORAL = "bench", "web", "worker", "stand-in", "Temporal server"
ONE_PROCESS = "bench+web+worker+stand-in"
POLLING = "worker polling task queue"  # worker.py's line once its Worker is built

log = logging.getLogger("bench")


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
    marks: object | None = None  # harness.in_process.Marks, --in-process only
    sessions: list[requests.Session] = field(default_factory=list)
    children: list[Child] = field(default_factory=list)  # the processes started, in order
    settings: dict[str, str] = field(default_factory=dict)  # what the app processes read

    @property
    def bare_task_queue(self) -> str:
        return f"{self.task_queue}-bare"  # no worker polls it


def bench_settings(
    workdir: Path, app_url: str, amazon_url: str, target: str, mail_port: int, task_queue: str
) -> dict[str, str]:
    """`app_settings` for the benchmarks, plus the stand-in's (sandbox/config.py)."""
    return {
        **app_settings(workdir / "app.db", app_url, amazon_url, target, mail_port, task_queue),
        "SANDBOX_REDIRECT_URIS": f"{app_url}/amazon/callback",
        # The rate limits stay on (what they cost each request is part of the figures), raised
        # above what the bench's one bookkeeper sends; each send has a client account of its own,
        # so the daily cap per account is never reached.
        **rate_limits(
            "1000000 per hour",
            ("LOGIN", "SIGNUP", "SEND", "INVITE", "ACCOUNTS", "SELLER_LINK"),
        ),
    }


def start_temporal(
    stack: contextlib.ExitStack, workdir: Path, temporal_config: list[str]
) -> tuple[Child, str]:
    """The dev server with the Procfile's flags, on a free port, headless; returns its address."""
    port = free_port()
    argv = temporal_argv(workdir / "temporal.db", port, temporal_config)
    return spawn(stack, workdir, "temporal", argv, dict(os.environ)), f"{LOOPBACK}:{port}"


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

    wait_ready("the Temporal dev server", connected, children)
    return loop, clients[0]


def start_server(
    stack: contextlib.ExitStack, prefix: str, temporal_config: list[str]
) -> tuple[Path, list[Child], BackgroundLoop, Client]:
    """A temporary directory, the dev server in it and the bench's client on a loop thread; the
    children list, which the caller extends, is shown (their output's end) if the run fails."""
    workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=prefix)))
    log.info("work directory %s", workdir)
    log.info("starting the Temporal dev server (SQLite file, WAL)")
    temporal_child, target = start_temporal(stack, workdir, temporal_config)
    children = [temporal_child]

    def show_output(exc_type, exc, traceback) -> bool:
        # A failed run says what its children said; their files go with the work directory.
        if exc_type is not None and not issubclass(exc_type, (SystemExit, KeyboardInterrupt)):
            for child in children:
                log.error("the end of %s's output:\n%s", child.name, child.tail(40))
        return False

    stack.push(show_output)
    loop, client = connect_when_ready(stack, target, children)
    return workdir, children, loop, client


def start_separate(
    stack: contextlib.ExitStack,
    workdir: Path,
    settings: dict[str, str],
    children: list[Child],
) -> dict[str, int]:
    """Web app, worker and stand-in as `make run` starts them; returns their pids."""
    # As `make run`: the environment (and .env) plus the settings; no debug, no reloader.
    env = {**os.environ, **settings, "FLASK_DEBUG": "0", "PYTHONUNBUFFERED": "1"}
    log.info("creating the app database: flask --app web db upgrade")
    db_upgrade(env, workdir / "migrate.log")
    python, flask = sys.executable, venv_binary("flask")
    port = settings["APP_BASE_URL"].rsplit(":", 1)[1]
    amazon_port = settings["AMAZON_SELLER_CENTRAL_URL"].rsplit(":", 1)[1]
    amazon = spawn(
        stack,
        workdir,
        STAND_IN,
        [python, "-m", "sandbox", "--host", LOOPBACK, "--port", amazon_port],
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
    return {WEB: web.pid, WORKER: worker.pid, STAND_IN: amazon.pid}


def start_parts(stack: contextlib.ExitStack, args: argparse.Namespace) -> Parts:
    """Every part, separate (as `make run`) or, with `args.in_process`, in this process."""
    workdir, children, loop, client = start_server(stack, "connect-bench-", args.temporal_config)
    task_queue = f"bench-{uuid.uuid4().hex[:8]}"
    target = client.service_client.config.target_host
    mailbox = Mailbox()  # the mail catcher's stand-in: stays in this process
    marks = None
    if args.in_process:
        from harness.in_process import Marks, start_in_process

        marks = Marks()
        mailbox.start()
        stack.callback(mailbox.stop)
        app_url, amazon_url, settings = start_in_process(
            stack, workdir, loop, client, mailbox, task_queue, marks
        )
        pids = {ONE_PROCESS: os.getpid(), TEMPORAL: children[0].pid}
        topology = [
            "in this one process (--in-process): the SMTP sink, the Amazon stand-in, the worker",
            "(worker.build_worker) and the web app (werkzeug threaded server, CSRF on);",
        ]
    else:
        app_url = f"http://{LOOPBACK}:{free_port()}"
        amazon_url = f"http://{LOOPBACK}:{free_port()}"
        settings = bench_settings(workdir, app_url, amazon_url, target, mailbox.port, task_queue)
        pids = start_separate(stack, workdir, settings, children)
        mailbox.start()
        stack.callback(mailbox.stop)
        pids = {BENCH: os.getpid(), **pids, TEMPORAL: children[0].pid}
        topology = [
            "as `make run`, each its own process configured by environment variables: the web",
            "app (flask --app web run: werkzeug threaded, CSRF on), the worker (python worker.py),",
            "the Amazon stand-in (python -m sandbox), one SQLite app database file; in this",
            "process: the clients and the SMTP sink;",
        ]
        wait_ready("the Amazon stand-in", http_answers(f"{amazon_url}/"), children)
        wait_ready("the web app", http_answers(f"{app_url}/static/style.css"), children)
        wait_ready("the worker", worker_polls(loop, client, task_queue), children)

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
        settings=settings,
    )
    stack.callback(lambda: [s.close() for s in parts.sessions])
    return parts


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

    wait_ready(name, says_it_polls, parts.children)
    wait_ready(name, worker_polls(parts.loop, parts.client, task_queue), parts.children)
    time.sleep(1.0)
    return child


def retire(parts: Parts, child: Child) -> None:
    """Stop a worker the bench no longer needs; it is no longer checked for being alive."""
    stop_child(child)
    parts.children.remove(child)
