"""The product as separate OS processes, for fault tests that stop, kill and restart its parts.

`Product` starts, each on a free loopback port and configured only by environment variables (as
the Procfile starts them under `make run`): the Temporal dev server on a SQLite file, the Amazon
stand-in (`python -m sandbox`), the worker (`python worker.py`) and the web app (`flask --app web
run`), sharing one SQLite app database whose schema `flask --app web db upgrade` creates. Mail
goes to an in-test SMTP sink that can be taken down and brought back on the same port.

Every process writes stdout and stderr to `<workdir>/<name>.log`; a failed start raises with the
log's tail. Waits are bounded; `Product` stops everything it started when its `with` block ends,
however it ends. People use it through `harness.drivers` (`bookkeeper()`, `seller()`).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import requests
from temporalio.client import Client

from harness.drivers import Bookkeeper, SellerBrowser
from harness.mail import INVITE_SUBJECT, RestartableMailbox
from harness.network import LatencyProxy
from harness.processes import (
    BIN,
    LOOPBACK,
    NAMESPACE,
    Process,
    app_settings,
    base_env,
    db_upgrade,
    http_ok,
    polls,
    rate_limits,
    temporal_argv,
)
from tests.support import BackgroundLoop, free_port, link_in


class Product:
    """Temporal, the Amazon stand-in, the worker and the web app as processes; an SMTP sink."""

    def __init__(self, workdir: Path, **settings: str) -> None:
        self.workdir = workdir
        self.db_path = workdir / "app.db"
        self.temporal_db = workdir / "temporal.db"
        self.temporal_port = free_port()
        self.amazon_port = free_port()
        self.web_port = free_port()
        self.temporal_address = f"{LOOPBACK}:{self.temporal_port}"
        self.amazon_url = f"http://{LOOPBACK}:{self.amazon_port}"
        self.web_url = f"http://{LOOPBACK}:{self.web_port}"
        self.task_queue = f"faults-{uuid.uuid4().hex[:8]}"
        self.loop = BackgroundLoop()
        self.mailbox = RestartableMailbox()
        self.client: Client | None = None  # the tests' own Temporal client (ops' view)
        self.settings = settings
        self.temporal = self._temporal()
        self.amazon = self._amazon()
        self.worker = self._app_process(
            "worker", [str(BIN / "python"), "worker.py"], self._worker_ready
        )
        self.web = self._app_process(
            "web",
            [
                str(BIN / "flask"),
                "--app",
                "web",
                "run",
                "--host",
                LOOPBACK,
                "--port",
                str(self.web_port),
            ],
            http_ok(f"{self.web_url}/login"),
        )
        self.processes = [self.temporal, self.amazon, self.worker, self.web]
        self.slow_link = LatencyProxy(self.loop, self.temporal_port)  # web -> Temporal, on demand
        self._stack = contextlib.ExitStack()

    # ---- configuration, as the Procfile and .env.example give it ----------------------------

    def app_env(self) -> dict[str, str]:
        """What the web app and the worker read (web/config.py), as `make run` would set it."""
        env = base_env()
        common = app_settings(
            self.db_path,
            self.web_url,
            self.amazon_url,
            self.temporal_address,
            self.mailbox.port,
            self.task_queue,
        )
        env.update(common)
        env.update(
            {
                "SECRET_KEY": "faults-secret-key",  # stable across restarts: sessions survive
                "CONNECT_REMINDERS": "",  # no reminders in the middle of a fault
                "CONNECT_EXPIRES_AFTER": "14d",
                # Rate limits are tested elsewhere (tests/test_limits.py); a hundred requests
                # from one bookkeeper must not run into them here.
                **rate_limits(
                    "10000 per second",
                    (
                        "LOGIN",
                        "SIGNUP",
                        "SEND",
                        "INVITE",
                        "ASK_NEW_LINK",
                        "ACCOUNTS",
                        "SELLER_LINK",
                    ),
                ),
            }
        )
        env.update(self.settings)
        return env

    def _temporal(self) -> Process:
        argv = temporal_argv(self.temporal_db, self.temporal_port)
        return Process(
            "temporal", argv, base_env(), self.workdir / "temporal.log", self._temporal_ready
        )

    def _amazon(self) -> Process:
        env = base_env()
        env["SANDBOX_REDIRECT_URIS"] = f"{self.web_url}/amazon/callback"
        argv = [str(BIN / "python"), "-m", "sandbox", "--host", LOOPBACK]
        argv += ["--port", str(self.amazon_port)]
        return Process(
            "amazon",
            argv,
            env,
            self.workdir / "amazon.log",
            http_ok(f"{self.amazon_url}/_sandbox/faults"),
        )

    def _app_process(self, name: str, argv: list[str], ready: Callable[[Process], bool]) -> Process:
        return Process(name, argv, self.app_env(), self.workdir / f"{name}.log", ready)

    # ---- readiness --------------------------------------------------------------------------

    def run(self, coro, timeout: float = 60) -> Any:
        """Run a coroutine on the tests' event loop (the Temporal client lives there)."""
        return self.loop.run(coro, timeout)

    def _temporal_ready(self, _: Process) -> bool:
        async def check() -> Client:
            client = await asyncio.wait_for(
                Client.connect(self.temporal_address, namespace=NAMESPACE), 5
            )
            # Visibility answers, and knows our search attributes.
            query = 'OnboardingStatus = "none" AND StuckReason = "none"'
            async for _ in client.list_workflows(query, limit=1):
                break
            return client

        self.client = self.run(check(), timeout=15)
        return True

    def _worker_ready(self, process: Process) -> bool:
        """The worker process itself polls the task queue (pollers are named pid@host)."""
        return self.worker_polls(process.pid)

    def worker_polls(self, pid: int | None = None) -> bool:
        """The worker process itself polls the task queue (pollers are named pid@host)."""
        assert self.client is not None
        return polls(self.loop, self.client, self.task_queue, pid or self.worker.pid)

    # ---- lifecycle --------------------------------------------------------------------------

    def __enter__(self) -> Product:
        try:
            self._stack.callback(self.loop.stop)
            self.mailbox.start()
            self._stack.callback(self.mailbox.stop)
            self.temporal.start()
            self._stack.callback(self.temporal.stop)
            self.migrate()
            for process in (self.amazon, self.worker, self.web):
                process.start()
                self._stack.callback(process.stop)
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self._stack.close()

    @contextlib.contextmanager
    def web_with_slow_temporal(self, delay: float) -> Iterator[None]:
        """The web app restarted to reach Temporal through a link that answers `delay` s late;
        restarted again on the direct address afterwards."""
        self.slow_link.delay = delay
        self.slow_link.start()
        direct = self.web.env["TEMPORAL_ADDRESS"]
        self.web.env["TEMPORAL_ADDRESS"] = self.slow_link.address
        try:
            self.web.restart()
            yield
        finally:
            self.web.env["TEMPORAL_ADDRESS"] = direct
            self.web.restart()
            self.slow_link.stop()

    def migrate(self) -> None:
        """Create the schema as `make run` does: `flask --app web db upgrade`."""
        db_upgrade(self.app_env(), self.workdir / "migrate.log")

    def ensure_up(self) -> None:
        """Start whatever a previous test stopped or killed, and bring the mail server back."""
        self.mailbox.unavailable = False
        self.mailbox.reject.clear()
        self.mailbox.start()
        for process in self.processes:  # in dependency order
            if not process.running:
                process.start()

    def log_marks(self) -> dict[str, int]:
        return {p.name: p.log_size() for p in self.processes}

    def logs_since(self, marks: dict[str, int], lines: int = 40) -> str:
        return "\n".join(
            f"----- {p.name} log (pid {p.pid}, running {p.running}) -----\n"
            + p.tail(lines, since=min(marks.get(p.name, 0), p.log_size()))
            for p in self.processes
        )

    # ---- the Amazon stand-in's control API ---------------------------------------------------

    def amazon_reset(self) -> None:
        requests.post(f"{self.amazon_url}/_sandbox/reset", timeout=5).raise_for_status()

    def amazon_faults(self, **faults: dict) -> dict:
        response = requests.post(f"{self.amazon_url}/_sandbox/faults", json=faults, timeout=5)
        response.raise_for_status()
        return response.json()

    def amazon_stats(self) -> dict:
        return requests.get(f"{self.amazon_url}/_sandbox/stats", timeout=5).json()

    # ---- the app database, read from the test ------------------------------------------------

    def db_rows(self, sql: str, *params: Any) -> list[tuple]:
        """Rows from the shared SQLite database (WAL: reading never blocks the product)."""
        connection = sqlite3.connect(self.db_path, timeout=30)
        try:
            return connection.execute(sql, params).fetchall()
        finally:
            connection.close()

    @contextlib.contextmanager
    def db_locked(self) -> Iterator[sqlite3.Connection]:
        """Hold the app database's write lock (BEGIN EXCLUSIVE) until the block ends."""
        connection = sqlite3.connect(self.db_path, timeout=0, isolation_level=None)
        try:
            connection.execute("BEGIN EXCLUSIVE")
            yield connection
        finally:
            with contextlib.suppress(sqlite3.Error):
                connection.execute("ROLLBACK")
            connection.close()

    # ---- Temporal, as ops see it ------------------------------------------------------------

    def list_ids(self, query: str) -> list[str]:
        assert self.client is not None
        client = self.client

        async def ids() -> list[str]:
            return [e.id async for e in client.list_workflows(query)]

        return self.run(ids())

    def handle(self, workflow_id: str, **options: Any):
        assert self.client is not None
        return self.client.get_workflow_handle(workflow_id, **options)

    # ---- people -----------------------------------------------------------------------------

    def bookkeeper(self) -> Bookkeeper:
        return Bookkeeper(self.web_url).sign_up(self.mailbox)

    def seller(self) -> SellerBrowser:
        return SellerBrowser(self.web_url)

    def invitation_link(self, client_email: str, timeout: float = 60) -> str:
        return link_in(self.mailbox.wait_for(client_email, INVITE_SUBJECT, timeout)[0])


# --- people over HTTP ------------------------------------------------------------------------
