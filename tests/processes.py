"""The product as separate OS processes, for fault tests that stop, kill and restart its parts.

`Product` starts, each on a free loopback port and configured only by environment variables (as
the Procfile starts them under `make run`): the Temporal dev server on a SQLite file, the Amazon
stand-in (`python -m sandbox`), the worker (`python worker.py`) and the web app (`flask --app web
run`), sharing one SQLite app database whose schema `flask --app web db upgrade` creates. Mail
goes to an in-test SMTP sink that can be taken down and brought back on the same port.

Every process writes stdout and stderr to `<workdir>/<name>.log`; a failed start raises with the
log's tail. `Process.stop()` sends SIGTERM (SIGKILL if it lingers), `kill9()` SIGKILL, `start()`
starts it again with the same command, environment and ports. Waits are bounded; `Product` stops
everything it started when its `with` block ends, however it ends.

People use the product over real HTTP with `requests` sessions (CSRF is on, as in production):
`BookkeeperBrowser` signs up, adds accounts and sends requests; `SellerBrowser` follows the
emailed link, consents at the stand-in and returns to the callback.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import requests
from aiosmtpd.controller import Controller
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

import temporal_dev
from tests.amazon_seller import consent
from tests.support import BackgroundLoop, Mailbox, free_port, link_in, text_of, unique_email

ROOT = Path(__file__).resolve().parents[1]
# The venv running the tests (its temporal, flask and python), else the repository's.
BIN = Path(sys.executable).parent
if not (BIN / "temporal").exists():
    BIN = ROOT / ".venv" / "bin"
LOOPBACK = "127.0.0.1"
NAMESPACE = "default"
HTTP_TIMEOUT = 30.0  # seconds for any one HTTP exchange
START_TIMEOUT = 90.0  # seconds for a process to become ready
STOP_TIMEOUT = 30.0  # seconds between SIGTERM and SIGKILL (the worker drains for up to 20 s)
SENDER = "LedgerBridge <no-reply@bookkeeping.test>"
AMAZON_LOGIN = "seller-us@example.com"  # a stand-in seller who sells in the US marketplace
# Inherited settings that must not leak into the processes: each gets exactly what we set.
_PRODUCT_PREFIXES = (
    "APP_",
    "SECRET_KEY",
    "DATABASE_URL",
    "TEMPORAL_",
    "MAIL_",
    "AMAZON_",
    "LWA_",
    "SPAPI_",
    "TOKEN_ENCRYPTION_KEY",
    "CONNECT_",
    "DIRECT_CONNECT_",
    "CALLBACK_WAIT_SECONDS",
    "RATELIMIT_",
    "TRUSTED_PROXIES",
    "LIMIT_",
    "SANDBOX_",
    "FLASK_",
)

_CSRF_INPUT = re.compile(r'<input[^>]*\bname="csrf_token"[^>]*>')
_VALUE = re.compile(r'\bvalue="([^"]*)"')
_VERIFY_LINK = re.compile(r"https?://\S+/verify/[A-Za-z0-9_-]+")
_REFRESH = re.compile(r'http-equiv="refresh" content="(\d+);url=([^"]+)"')

# Processes still running when the interpreter exits (a crash between start and clean-up).
_LIVE: set[Process] = set()


@atexit.register
def _kill_leftovers() -> None:
    for process in list(_LIVE):
        process.kill9()


def wait_until(
    condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.2
) -> Any:
    """Poll `condition` until it returns something truthy; AssertionError after `timeout`."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            result = condition()
        except Exception as err:  # not ready yet: keep the reason for the message
            result, last_error = None, err
        if result:
            return result
        if time.monotonic() > deadline:
            reason = f" (last error: {last_error!r})" if last_error else ""
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}{reason}")
        time.sleep(interval)


# --- processes -------------------------------------------------------------------------------


class Process:
    """One OS process of the product: started, stopped, killed and restarted by the tests."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str],
        log_path: Path,
        ready: Callable[[Process], bool],
        ready_timeout: float = START_TIMEOUT,
    ) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.log_path = log_path
        self.ready = ready
        self.ready_timeout = ready_timeout
        self.popen: subprocess.Popen | None = None

    def __repr__(self) -> str:
        return f"<Process {self.name} pid={self.pid} running={self.running}>"

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def start(self) -> Process:
        """Start (again) with the same command and environment; return once it is ready."""
        assert not self.running, f"{self.name} is already running"
        with self.log_path.open("ab") as log:
            log.write(f"\n=== {time.strftime('%H:%M:%S')} start: {' '.join(self.argv)}\n".encode())
            self.popen = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # In pytest's process group: whatever stops the test run stops these too.
            )
        _LIVE.add(self)
        self.wait_ready()
        return self

    def wait_ready(self, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (timeout or self.ready_timeout)
        last_error: BaseException | None = None
        while True:
            if not self.running:
                raise AssertionError(
                    f"{self.name} exited with code {self.popen.returncode if self.popen else None}"
                    f" while starting; log tail:\n{self.tail()}"
                )
            try:
                if self.ready(self):
                    return
            except Exception as err:  # not ready yet
                last_error = err
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{self.name} not ready after {timeout or self.ready_timeout:.0f} s"
                    f" (last check: {last_error!r}); log tail:\n{self.tail()}"
                )
            time.sleep(0.2)

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """SIGTERM, and SIGKILL if it has not exited within `timeout`; returns the exit code."""
        if not self.running:
            return self.popen.returncode if self.popen else None
        assert self.popen is not None
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self._note(f"did not exit within {timeout:.0f} s of SIGTERM: SIGKILL")
            self.popen.kill()
            self.popen.wait(10)
        _LIVE.discard(self)
        self._note(f"stopped (exit code {self.popen.returncode})")
        return self.popen.returncode

    def kill9(self) -> None:
        """SIGKILL: no clean-up, no goodbye."""
        if self.running:
            assert self.popen is not None
            self.popen.kill()
            self.popen.wait(10)
            self._note("killed with SIGKILL")
        _LIVE.discard(self)

    def restart(self) -> Process:
        self.stop()
        return self.start()

    def _note(self, text: str) -> None:
        with self.log_path.open("ab") as log:
            log.write(f"=== {time.strftime('%H:%M:%S')} {text}\n".encode())

    def log_size(self) -> int:
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def tail(self, lines: int = 60, since: int = 0) -> str:
        """The last `lines` lines of the log (from byte offset `since`)."""
        if not self.log_path.exists():
            return "(no log)"
        with self.log_path.open("rb") as log:
            log.seek(since)
            text = log.read().decode(errors="replace")
        return "\n".join(text.splitlines()[-lines:])


# --- the SMTP sink ---------------------------------------------------------------------------


class RestartableMailbox(Mailbox):
    """The tests' SMTP sink, which can go down (connections refused) and come back on its port.

    `unavailable = True` (from Mailbox) answers every message with 451 instead.
    """

    def __init__(self) -> None:
        super().__init__()
        self._port = self._controller.port
        self._up = False

    @property
    def port(self) -> int:
        return self._port

    @property
    def up(self) -> bool:
        return self._up

    def start(self) -> None:
        if self._up:
            return
        # A Controller cannot be started twice: a new one, on the same port.
        self._controller = Controller(self, hostname=LOOPBACK, port=self._port)
        self._controller.start()
        self._up = True

    def stop(self) -> None:
        if self._up:
            self._controller.stop()
            self._up = False

    def message_ids(self, address: str, subject: str) -> set[str]:
        """The distinct Message-IDs of the messages to `address` whose subject has `subject`:
        a retried send keeps its Message-ID, so this counts emails, not deliveries."""
        return {str(m["Message-ID"]) for m in self.matching(address, subject)}

    def matching(self, address: str, subject: str) -> list[EmailMessage]:
        return [m for m in self.to(address) if subject in str(m["Subject"])]


# --- a slow network ---------------------------------------------------------------------------


class LatencyProxy:
    """A loopback TCP proxy that delivers everything the upstream sends back `delay` seconds late
    (requests go through at once): a slow link between one process and another."""

    def __init__(self, loop: BackgroundLoop, upstream_port: int) -> None:
        self.loop = loop
        self.upstream_port = upstream_port
        self.port = free_port()
        self.delay = 0.0
        self._server: asyncio.base_events.Server | None = None

    @property
    def address(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    def start(self) -> None:
        async def serve() -> asyncio.base_events.Server:
            return await asyncio.start_server(self._connection, LOOPBACK, self.port)

        self._server = self.loop.run(serve(), 10)

    def stop(self) -> None:
        if self._server is not None:
            server, self._server = self._server, None

            async def close() -> None:
                server.close()
                if hasattr(server, "close_clients"):  # Python 3.13+
                    server.close_clients()

            self.loop.run(close(), 10)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        try:
            upstream = await asyncio.open_connection(LOOPBACK, self.upstream_port)
        except OSError:
            writer.close()
            return
        up_reader, up_writer = upstream
        await asyncio.gather(
            self._pump(reader, up_writer, late=False),
            self._pump(up_reader, writer, late=True),
            return_exceptions=True,
        )

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, late: bool
    ) -> None:
        """Copy until EOF; with `late`, each chunk `delay` seconds after it arrived, in order."""
        loop = asyncio.get_running_loop()
        chunks: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def read() -> None:
            try:
                while data := await reader.read(65536):
                    chunks.put_nowait((loop.time() + (self.delay if late else 0.0), data))
            finally:
                chunks.put_nowait((0.0, b""))

        reading = asyncio.create_task(read())
        try:
            while True:
                due, data = await chunks.get()
                if not data:
                    break
                await asyncio.sleep(max(0.0, due - loop.time()))
                writer.write(data)
                await writer.drain()
        finally:
            reading.cancel()
            writer.close()


# --- the product -----------------------------------------------------------------------------


def _base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_PRODUCT_PREFIXES)}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _http_ok(url: str) -> Callable[[Process], bool]:
    def check(_: Process) -> bool:
        return requests.get(url, timeout=2).status_code == 200

    return check


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
            _http_ok(f"{self.web_url}/login"),
        )
        self.processes = [self.temporal, self.amazon, self.worker, self.web]
        self.slow_link = LatencyProxy(self.loop, self.temporal_port)  # web -> Temporal, on demand
        self._stack = contextlib.ExitStack()

    # ---- configuration, as the Procfile and .env.example give it ----------------------------

    def app_env(self) -> dict[str, str]:
        """What the web app and the worker read (web/config.py), as `make run` would set it."""
        env = _base_env()
        env.update(
            {
                "APP_ENV": "development",
                "SECRET_KEY": "faults-secret-key",  # stable across restarts: sessions survive
                "DATABASE_URL": f"sqlite:///{self.db_path}",
                "APP_BASE_URL": self.web_url,
                "TEMPORAL_ADDRESS": self.temporal_address,
                "TEMPORAL_NAMESPACE": NAMESPACE,
                "TEMPORAL_TASK_QUEUE": self.task_queue,
                "MAIL_SERVER": LOOPBACK,
                "MAIL_PORT": str(self.mailbox.port),
                "MAIL_USE_TLS": "false",
                "MAIL_DEFAULT_SENDER": SENDER,
                "LWA_TOKEN_URL": f"{self.amazon_url}/auth/o2/token",
                "AMAZON_SELLER_CENTRAL_URL": self.amazon_url,
                "SPAPI_ENDPOINT": self.amazon_url,
                "CONNECT_REMINDERS": "",  # no reminders in the middle of a fault
                "CONNECT_EXPIRES_AFTER": "14d",
                # Rate limits are tested elsewhere (tests/test_limits.py); a hundred requests
                # from one bookkeeper must not run into them here.
                **{
                    f"LIMIT_{name}": "10000 per second"
                    for name in (
                        "LOGIN",
                        "SIGNUP",
                        "SEND",
                        "INVITE",
                        "ASK_NEW_LINK",
                        "ACCOUNTS",
                        "SELLER_LINK",
                    )
                },
            }
        )
        env.update(self.settings)
        return env

    def _temporal(self) -> Process:
        argv = temporal_dev.argv(
            *("--db-filename", str(self.temporal_db)),
            *("--ip", LOOPBACK, "--port", str(self.temporal_port)),
            "--headless",
            *("--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal"),
            *("--log-level", "warn"),
        )
        return Process(
            "temporal", argv, _base_env(), self.workdir / "temporal.log", self._temporal_ready
        )

    def _amazon(self) -> Process:
        env = _base_env()
        env["SANDBOX_REDIRECT_URIS"] = f"{self.web_url}/amazon/callback"
        argv = [str(BIN / "python"), "-m", "sandbox", "--host", LOOPBACK]
        argv += ["--port", str(self.amazon_port)]
        return Process(
            "amazon",
            argv,
            env,
            self.workdir / "amazon.log",
            _http_ok(f"{self.amazon_url}/_sandbox/faults"),
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
        pid = pid or self.worker.pid
        assert self.client is not None
        client = self.client

        async def pollers(kind: TaskQueueType.ValueType) -> list[str]:
            response = await client.workflow_service.describe_task_queue(
                DescribeTaskQueueRequest(
                    namespace=NAMESPACE,
                    task_queue=TaskQueue(name=self.task_queue),
                    task_queue_type=kind,
                )
            )
            return [p.identity for p in response.pollers]

        prefix = f"{pid}@"
        for kind in (
            TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
            TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
        ):
            if not any(identity.startswith(prefix) for identity in self.run(pollers(kind), 10)):
                return False
        return True

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
        log = self.workdir / "migrate.log"
        with log.open("ab") as out:
            done = subprocess.run(
                [str(BIN / "flask"), "--app", "web", "db", "upgrade"],
                env=self.app_env(),
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=120,
            )
        if done.returncode != 0:
            raise AssertionError(f"db upgrade failed:\n{log.read_text()[-3000:]}")

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

    def bookkeeper(self) -> BookkeeperBrowser:
        return BookkeeperBrowser(self).sign_up()

    def seller(self) -> SellerBrowser:
        return SellerBrowser(self)

    def invitation_link(self, client_email: str, timeout: float = 60) -> str:
        return link_in(self.mailbox.wait_for(client_email, "asks you to connect", timeout)[0])


# --- people over HTTP ------------------------------------------------------------------------


def csrf_token(page: str) -> str | None:
    tag = _CSRF_INPUT.search(page)
    value = _VALUE.search(tag.group(0)) if tag else None
    return value.group(1) if value else None


def expect(response: requests.Response, status: int, what: str) -> requests.Response:
    if response.status_code != status:
        raise AssertionError(
            f"{what}: expected HTTP {status}, got {response.status_code}: {response.text[:800]}"
        )
    return response


def title_of(page: str) -> str:
    found = re.search(r"<h1>(.*?)</h1>", page, flags=re.S)
    return found.group(1).strip() if found else page[:300]


class Browser:
    """A requests session on the web app that posts forms with the page's CSRF token."""

    def __init__(self, product: Product) -> None:
        self.product = product
        self.http = requests.Session()
        self.csrf = ""

    def _url(self, url: str) -> str:
        return url if url.startswith("http") else self.product.web_url + url

    def _seen(self, response: requests.Response) -> requests.Response:
        token = csrf_token(response.text)
        if token:
            self.csrf = token
        return response

    def get(self, url: str, timeout: float = HTTP_TIMEOUT) -> requests.Response:
        return self._seen(self.http.get(self._url(url), timeout=timeout, allow_redirects=False))

    def post(self, url: str, data: dict[str, str] | None = None) -> requests.Response:
        response = self.http.post(
            self._url(url),
            data={"csrf_token": self.csrf, **(data or {})},
            timeout=HTTP_TIMEOUT,
            allow_redirects=False,
        )
        return self._seen(response)


class BookkeeperBrowser(Browser):
    """Signs up, adds client accounts, previews and sends connection requests."""

    def sign_up(self) -> BookkeeperBrowser:
        self.get("/signup")
        self.email = unique_email("bookkeeper")
        data = {
            "name": "Bea Keeper",
            "email": self.email,
            "password": "correct horse battery",
            "firm_name": "Ledger & Co",
        }
        response = self.post("/signup", data)
        if response.status_code == 200 and "Check your email" in response.text:
            # The login works once the emailed link is followed with the password chosen.
            message = self.product.mailbox.wait_for(self.email, "Finish signing up", 30)[-1]
            link = _VERIFY_LINK.search(text_of(message))
            assert link, f"no confirmation link in: {text_of(message)}"
            expect(self.get(link.group(0)), 200, "the confirmation page")
            response = self.post(link.group(0), {"password": data["password"]})
        expect(response, 302, "sign up")
        expect(self.get("/accounts/new"), 200, "the new-account page, logged in")
        return self

    def add_account(self, name: str = "Acme Widgets Ltd") -> int:
        if not self.csrf:
            self.get("/accounts/new")
        response = expect(self.post("/accounts/new", {"name": name}), 302, "add account")
        return int(response.headers["Location"].rsplit("/", 1)[-1])

    def send_request(self, account_id: int, marketplace: str = "US") -> dict[str, Any]:
        """Preview, then press 'Send Request to Connect'; the form data, and the send's seconds."""
        data = {
            "marketplace": marketplace,
            "client_name": "Sam Seller",
            "client_email": unique_email("seller"),
            "note": "",
        }
        url = f"/accounts/{account_id}/connect/request"
        expect(self.post(url, {**data, "action": "preview"}), 303, "preview")
        preview = expect(self.get(f"{url}/preview"), 200, "preview page")
        assert "Send Request to Connect" in preview.text, title_of(preview.text)
        draft = re.search(r'name="draft" value="([^"]+)"', preview.text).group(1)
        started = time.monotonic()
        sent = self.post(f"{url}/send", {"draft": draft})
        data["send_seconds"] = time.monotonic() - started
        expect(sent, 303, "send")
        assert "/requests/" in sent.headers["Location"], sent.headers["Location"]
        return data


class SellerBrowser(Browser):
    """The seller account's owner: a browser on our site, and another at Amazon's."""

    def __init__(self, product: Product) -> None:
        super().__init__(product)
        self.amazon = requests.Session()
        self.refreshes = 0  # 'finishing' pages followed on the last return from Amazon

    def go_to_amazon(self, link: str) -> str:
        """Open the emailed link and press 'Continue to Amazon'; Amazon's consent URL."""
        expect(self.get(link), 200, "landing page")
        response = expect(self.post(link), 303, "continue to Amazon")
        return response.headers["Location"]

    def consent(self, link: str, amazon_login: str = AMAZON_LOGIN) -> str:
        """From the emailed link to Amazon's redirect back to the app (not yet followed)."""
        redirect = consent(self.go_to_amazon(link), amazon_login, session=self.amazon)
        assert redirect.startswith(f"{self.product.web_url}/amazon/callback?"), redirect
        return redirect

    def return_from_amazon(self, redirect: str, timeout: float = 120) -> requests.Response:
        """Follow Amazon's redirect, and the 'finishing' page's refreshes, to a final page."""
        response = self.get(redirect)
        deadline = time.monotonic() + timeout
        self.refreshes = 0
        while response.status_code == 202:
            refresh = _REFRESH.search(response.text)
            assert refresh, f"a 202 without a refresh: {response.text[:500]}"
            assert time.monotonic() < deadline, f"still 'finishing' after {timeout:.0f} s"
            time.sleep(int(refresh.group(1)))
            self.refreshes += 1
            response = self.get(refresh.group(2))
        return response


def connected(response: requests.Response) -> bool:
    return response.status_code == 200 and "<h1>Connected</h1>" in response.text


def describe_page(response: requests.Response) -> str:
    return f"HTTP {response.status_code}: {title_of(response.text)}"
