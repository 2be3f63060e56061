"""Running it: `make run` stops cleanly on SIGINT/SIGTERM, status polls stay out of the access
log, the dev server's flags are defined once and make no outside calls, and the runbook's
`temporal` commands are valid CLI commands."""

import contextlib
import logging
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from flask import Flask, abort, jsonify
from werkzeug.serving import make_server

import temporal_dev
from core import logs
from vocabulary import search_attributes

ROOT = Path(__file__).parents[1]
TEMPORAL = Path(sys.executable).parent / "temporal"

# A stand-in for each process of the Procfile: records its pid and a grandchild's, then waits.
CHILD = """
import os, subprocess, sys, time
name = sys.argv[1]
grandchild = subprocess.Popen(["sleep", "600"])
pids = os.path.join(os.path.dirname(__file__), f"{name}.pids")
open(pids, "w").write(f"{os.getpid()} {grandchild.pid}")
print(f"{name} ready", flush=True)
time.sleep(600)
"""


@pytest.fixture
def make_run(tmp_path):
    """Starts `make run` with a two-process Procfile, in its own process group as a terminal runs
    it, once both processes are up; stops whatever is left afterwards."""
    (tmp_path / "child.py").write_text(CHILD)
    (tmp_path / "Procfile").write_text(
        "".join(
            f"{name}: {sys.executable} {tmp_path / 'child.py'} {name}\n" for name in ("one", "two")
        )
    )
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{tmp_path / 'app.db'}")
    # -o: never reinstall the shared venv from a test.
    argv = ["make", "-s", "-C", str(ROOT), "-o", ".venv/.installed", "run"]
    process = subprocess.Popen(
        [*argv, f"PROCFILE={tmp_path / 'Procfile'}"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        process_group=0,
    )
    output: list[str] = []
    threading.Thread(target=lambda: output.extend(process.stdout), daemon=True).start()
    try:
        deadline = time.monotonic() + 30
        while sum("ready" in line for line in output) < 2:
            assert time.monotonic() < deadline, "".join(output)
            assert process.poll() is None, "".join(output)
            time.sleep(0.1)
        yield process, output
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=20)
        for pids in tmp_path.glob("*.pids"):
            for pid in pids.read_text().split():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)


def started_pids(tmp_path: Path) -> list[int]:
    return [
        int(pid)
        for name in ("one", "two")
        for pid in (tmp_path / f"{name}.pids").read_text().split()
    ]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for good; only its parent has not read its status.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(") ")[-1][0] != "Z"


@pytest.mark.slow
@pytest.mark.parametrize(
    "how",
    ["SIGTERM to make", "SIGINT to the group (Ctrl-C)", "SIGTERM to the group (timeout)"],
)
def test_make_run_stops_cleanly(make_run, tmp_path, how):
    process, output = make_run
    pids = started_pids(tmp_path)
    sig = signal.SIGTERM if "SIGTERM" in how else signal.SIGINT
    if "group" in how:
        os.killpg(process.pid, sig)
    else:
        process.send_signal(sig)
    process.wait(timeout=20)
    text = "".join(output)
    # make dies of the signal it was sent (GNU make re-raises it), but reports no failed recipe.
    assert process.returncode in (0, -sig), text
    assert not re.search(r"\*\*\* .*(Error|Terminated|Interrupt)", text), text
    assert not [pid for pid in pids if alive(pid)], text


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_bin_run_exits_0_when_asked_to_stop(tmp_path, sig):
    (tmp_path / "child.py").write_text(CHILD)
    (tmp_path / "Procfile").write_text(f"one: {sys.executable} {tmp_path / 'child.py'} one\n")
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "bin/run"), "-f", str(tmp_path / "Procfile")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        process_group=0,
    )
    for line in process.stdout:
        if "one ready" in line:
            break
    pids = [int(pid) for pid in (tmp_path / "one.pids").read_text().split()]
    process.send_signal(sig)  # to bin/run alone, as `kill <pid>` does
    rest = process.communicate(timeout=20)[0]
    assert process.returncode == 0, rest
    assert not [pid for pid in pids if alive(pid)]


def test_a_process_that_fails_still_fails_make_run(tmp_path):
    (tmp_path / "Procfile").write_text(f"bad: {sys.executable} -c 'raise SystemExit(3)'\n")
    result = subprocess.run(
        [sys.executable, str(ROOT / "bin/run"), "-f", str(tmp_path / "Procfile")],
        capture_output=True,
        timeout=30,
    )
    assert result.returncode == 3


# ---- the access log ------------------------------------------------------------------------


@pytest.fixture
def served_app():
    """A small app with the project's logging, behind werkzeug's real request handler."""
    app = Flask(__name__)
    app.testing = True

    @app.get("/accounts/<int:account_id>/status")
    def status(account_id: int):
        if account_id == 500:
            raise RuntimeError("broken")
        if account_id == 404:
            abort(404)
        return jsonify(version="1")

    @app.get("/accounts/<int:account_id>")
    def show(account_id: int):
        return "page"

    logs.init_app(app)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def get(url: str) -> int:
    try:
        with urllib.request.urlopen(url) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_successful_status_polls_stay_out_of_the_access_log(served_app, caplog):
    caplog.set_level(logging.INFO, logger="werkzeug")
    assert get(f"{served_app}/accounts/7/status") == 200
    assert get(f"{served_app}/accounts/7/status?since=3") == 200
    assert get(f"{served_app}/accounts/7") == 200
    assert get(f"{served_app}/accounts/404/status") == 404
    assert get(f"{served_app}/accounts/500/status") == 500
    lines = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    assert not [line for line in lines if "/accounts/7/status" in line], lines
    assert [line for line in lines if "GET /accounts/7 " in line and '" 200 ' in line], lines
    assert [line for line in lines if "/accounts/404/status" in line and '" 404 ' in line], lines
    assert [line for line in lines if "/accounts/500/status" in line and '" 500 ' in line], lines


# ---- the dev server's flags ----------------------------------------------------------------


def test_dev_server_flags_register_every_search_attribute():
    flags = temporal_dev.FLAGS
    registered = {flags[i + 1] for i, flag in enumerate(flags) if flag == "--search-attribute"}
    assert registered == {f"{key.name}=Keyword" for key in search_attributes.ALL}


def test_dev_server_makes_no_outside_calls():
    """The server's version check and the Web UI's newsfeed both call temporal.io."""
    flags = " ".join(temporal_dev.FLAGS)
    assert "frontend.enableServerVersionCheck=false" in flags
    assert "--ui-disable-news-fetch" in flags


def test_every_dev_server_uses_the_shared_flags():
    procfile = (ROOT / "Procfile").read_text()
    assert re.search(r"^temporal: \S*python temporal_dev\.py ", procfile, re.M)
    assert "--search-attribute" not in procfile
    conftest = (ROOT / "tests/conftest.py").read_text()
    assert "temporal_dev.FLAGS" in conftest
    readme = (ROOT / "README.md").read_text()
    separately = readme.split("## Running the pieces separately", 1)[1].split("\n## ", 1)[0]
    assert "temporal_dev.py" in separately


def test_dev_server_accepts_the_shared_flags(tmp_path):
    """`temporal server start-dev` would refuse an unknown flag or a malformed value at once."""
    argv = temporal_dev.argv("--headless", "--ip", "127.0.0.1", "--port", "0", "--help")
    result = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr


# ---- the runbook -----------------------------------------------------------------------------


def runbook_commands() -> list[str]:
    """Every `temporal …` command line in the README and docs/operations.md."""
    commands = []
    for doc in ("README.md", "docs/operations.md"):
        for line in (ROOT / doc).read_text().splitlines():
            line = line.strip()
            if re.match(r"^(\.venv/bin/)?temporal (workflow|schedule|operator) ", line):
                commands.append(line.split(" #", 1)[0])
    return commands


def test_runbook_names_the_cli_it_means():
    commands = runbook_commands()
    assert len(commands) >= 6
    operations = (ROOT / "docs/operations.md").read_text()
    readme = (ROOT / "README.md").read_text()
    for text in (operations, readme):
        assert ".venv/bin/temporal" in text or 'PATH="$PWD/.venv/bin:$PATH"' in text


@pytest.mark.parametrize("command", runbook_commands())
def test_runbook_command_parses(command):
    """Each command, pointed at a closed port, fails to connect: so every flag and value parsed."""
    argv = shlex.split(command)
    argv[0] = str(TEMPORAL)
    argv += ["--address", "127.0.0.1:1"]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert "unknown flag" not in result.stderr and "unknown command" not in result.stderr, (
        result.stderr
    )
    assert re.search(r"connect|dial|unavailable|refused", result.stderr, re.I), result.stderr
