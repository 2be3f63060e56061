"""Open connection requests made without the web app: rows inserted by plain SQL into the app
database, one `ConnectionRequestWorkflow` started per row by the Temporal client, as the web app
would, and a wait until every one of them is waiting for its seller."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from temporalio.client import Client

from core.requests import workflow_id_for
from harness.cpu import CpuUse
from harness.drivers import MARKETPLACE
from harness.parts import TEMPORAL, WORKER
from harness.processes import Child
from vocabulary.messages import ConnectionRequestInput
from workflows.connection_request import ConnectionRequestWorkflow

EXPIRES_AFTER = 30 * 86400  # seconds: nothing expires during the run
SETTLE_TIMEOUT = 1200.0  # seconds to wait for every workflow to reach its wait for the seller
SETTLED_CORES = 0.05  # the worker counts as idle below this over SETTLE_WINDOW
SETTLE_WINDOW = 3.0

log = logging.getLogger("bench.scale")


def insert_rows(
    db_path: Path,
    n: int,
    kind: str = "direct",
    status: str = "consent_started",
    email: str = "bench@example.com",
) -> list[int]:
    """One user (`email`, unique per database); per request an account, an admin membership and
    an open request of `kind` in `status`. Returns the request ids in insertion order (the order
    the workflows are started in)."""
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
    with contextlib.closing(sqlite3.connect(db_path, timeout=30)) as con, con:
        user = con.execute(
            "INSERT INTO users (name, email, firm_name, password_hash, email_verified_at,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?)",
            ("Bench Keeper", email, "Bench & Co", "!", now, now),
        ).lastrowid
        first = (con.execute("SELECT COALESCE(MAX(id), 0) FROM client_accounts").fetchone())[0]
        account_ids = list(range(first + 1, first + n + 1))
        con.executemany(
            "INSERT INTO client_accounts (id, name, created_at) VALUES (?, ?, ?)",
            [(a, f"Client {a}", now) for a in account_ids],
        )
        con.executemany(
            "INSERT INTO memberships (account_id, user_id, role, created_at) VALUES (?, ?, ?, ?)",
            [(a, user, "admin", now) for a in account_ids],
        )
        con.executemany(
            "INSERT INTO connection_requests (id, public_id, account_id, requested_by_id, kind,"
            " marketplace, client_name, client_email, note, status, status_detail,"
            " reminders_sent, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, '', ?, '', 0, ?, ?)",
            [
                (a, uuid.uuid4().hex, a, user, kind, MARKETPLACE, f"Client {a}")
                + (f"c{a}@example.com", status, now, now)
                for a in account_ids
            ],
        )
    return account_ids  # request id == account id here


def count_events(db_path: Path, kind: str) -> int:
    with contextlib.closing(sqlite3.connect(db_path, timeout=30)) as con:
        return con.execute(
            "SELECT COUNT(*) FROM request_events WHERE kind = ?", (kind,)
        ).fetchone()[0]


def has_event(con: sqlite3.Connection, request_id: int, kind: str) -> bool:
    row = con.execute(
        "SELECT 1 FROM request_events WHERE request_id = ? AND kind = ? LIMIT 1", (request_id, kind)
    ).fetchone()
    return row is not None


# --- Temporal ----------------------------------------------------------------------------------


def request_input(request_id: int, **settings: Any) -> ConnectionRequestInput:
    """The workflow input for request row `request_id`: by default no invitation, a 30-day
    expiry and no reminders (nothing happens by itself during a run); `settings` change that."""
    values: dict[str, Any] = {
        "request_id": request_id,
        "send_invite": False,
        "account_name": f"Client {request_id}",
        "marketplace": MARKETPLACE,
        "requested_by": "bench@example.com",
        "expires_after_seconds": EXPIRES_AFTER,
        "reminder_offsets_seconds": [],
    }
    return ConnectionRequestInput(**{**values, **settings})


async def start_all(
    client: Client, task_queue: str, ids: list[int], concurrency: int
) -> list[float]:
    """Start one workflow per request id, `concurrency` calls in flight; returns each call's
    seconds. Started in id order (each call waits for a slot in order)."""
    slots = asyncio.Semaphore(concurrency)
    seconds: list[float] = []

    async def one(request_id: int) -> None:
        async with slots:
            began = time.perf_counter()
            await client.start_workflow(
                ConnectionRequestWorkflow.run,
                request_input(request_id),
                id=workflow_id_for(request_id, MARKETPLACE),
                task_queue=task_queue,
            )
            seconds.append(time.perf_counter() - began)

    tasks = []
    for request_id in ids:
        await slots.acquire()  # keep the start order close to the id order
        slots.release()
        tasks.append(asyncio.create_task(one(request_id)))
        await asyncio.sleep(0)
    await asyncio.gather(*tasks)
    return seconds


def settle(
    db_path: Path,
    n: int,
    worker: Child,
    temporal_child: Child,
    idle_cores: float | None = SETTLED_CORES,
) -> float:
    """Wait until all n workflows recorded 'direct_started' and the worker's CPU is below
    `idle_cores` (None: do not wait for that, when other work keeps the worker busy); returns
    the seconds that took."""
    began = time.monotonic()
    pids = {WORKER: worker.pid, TEMPORAL: temporal_child.pid}
    while True:
        worker.check()
        temporal_child.check()
        done = count_events(db_path, "direct_started")
        cpu = CpuUse()
        with cpu.measure(pids):
            time.sleep(SETTLE_WINDOW)
        log.info(
            "%d of %d waiting for the seller; worker %.2f cores, Temporal %.2f cores",
            done,
            n,
            cpu.cores(WORKER),
            cpu.cores(TEMPORAL),
        )
        if done >= n and (idle_cores is None or cpu.cores(WORKER) < idle_cores):
            return time.monotonic() - began
        if time.monotonic() - began > SETTLE_TIMEOUT:
            raise RuntimeError(f"only {done} of {n} workflows settled in {SETTLE_TIMEOUT:.0f} s")
