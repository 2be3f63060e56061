"""The stored connections of `bench/connections_scale.py`: real authorizations at the Amazon
stand-in, their rows in the app database, their ConnectionWorkflows and what their histories
say."""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
import statistics
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus

from core import marketplaces
from core.amazon import consent_url, exchange_code
from core.connection_life import connection_workflow_id
from harness.drivers import MARKETPLACE
from harness.history import gather, timestamp_seconds
from harness.stats import Summary
from harness.workload import insert_rows
from tests.amazon_seller import consent
from tests.support import BackgroundLoop
from vocabulary import search_attributes
from vocabulary.messages import ConnectionInput, ConnectionLife
from vocabulary.statuses import ConnectionState
from workflows.connection import ConnectionWorkflow
from workflows.markdown import escape

SELLER = "seller-us@example.com"  # the stand-in's demo seller who sells in the US (MARKETPLACE)
SELLER_ID = "A2DEMOUSSELL01"
HTTP_TIMEOUT = 30
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')

# --- real authorizations at the stand-in ---------------------------------------------------------


def _code(redirect: str) -> str:
    return parse_qs(urlsplit(redirect).query)["spapi_oauth_code"][0]


def authorize(config: dict[str, Any], n: int) -> list[str]:
    """n refresh tokens of the demo US seller, each from a consent of its own: sign in once (the
    tests' seller, `tests.amazon_seller.consent`), then per connection confirm the consent form
    (a fresh code in Amazon's redirect) and trade the code with the app's own client."""
    marketplace = marketplaces.get(MARKETPLACE)
    url = consent_url(config, marketplace, uuid.uuid4().hex)
    with requests.Session() as session:
        tokens = [exchange_code(config, _code(consent(url, SELLER, session=session))).refresh_token]
        page = session.get(url, timeout=HTTP_TIMEOUT)
        form = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        form |= {"csrf_token": _CSRF.search(page.text).group(1), "action": "confirm"}
        action = url.split("?", 1)[0]
        while len(tokens) < n:
            answer = session.post(
                action,
                data={**form, "state": uuid.uuid4().hex},
                allow_redirects=False,
                timeout=HTTP_TIMEOUT,
            )
            if answer.status_code != 302:
                raise RuntimeError(f"the stand-in's consent answered HTTP {answer.status_code}")
            code = _code(answer.headers["Location"])
            tokens.append(exchange_code(config, code).refresh_token)
    return tokens


def authorize_all(config: dict[str, Any], n: int, threads: int) -> list[str]:
    shares = [n // threads + (1 if i < n % threads else 0) for i in range(threads)]
    with ThreadPoolExecutor(threads) as pool:
        found = pool.map(lambda k: authorize(config, k), [s for s in shares if s])
    return [token for share in found for token in share]


def stand_in_counts(amazon_url: str) -> dict[str, int]:
    """The stand-in's own count of refresh grants and Sellers API calls (/_sandbox/stats)."""
    stats = requests.get(f"{amazon_url}/_sandbox/stats", timeout=HTTP_TIMEOUT).json()
    return {"refresh": stats["token"]["refresh_token"], "sellers_api": stats["participations"]}


# --- the app database ----------------------------------------------------------------------------


def insert_connections(db_path: Path, tokens: list[bytes]) -> list[int]:
    """Per encrypted refresh token: an account, its owner's membership and the connected request
    that stored it (`insert_rows`), and the `amazon_connections` row, healthy and never checked.
    Returns the connection ids (== account and request ids), in insertion order."""
    ids = insert_rows(db_path, len(tokens), status="connected", email="owner@example.com")
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
    with contextlib.closing(sqlite3.connect(db_path, timeout=30)) as con, con:
        con.executemany(
            "INSERT INTO amazon_connections (id, account_id, marketplace, selling_partner_id,"
            " store_name, refresh_token_encrypted, request_id, connected_at, status,"
            " authorized_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (i, i, MARKETPLACE, SELLER_ID, "Demo Goods US", token, i, now)
                + (ConnectionState.HEALTHY.value, now)
                for i, token in zip(ids, tokens, strict=True)
            ],
        )
    return ids


def checked_count(db_path: Path, ids: list[int]) -> int:
    with contextlib.closing(sqlite3.connect(db_path, timeout=30)) as con:
        return con.execute(
            "SELECT COUNT(*) FROM amazon_connections WHERE id BETWEEN ? AND ?"
            " AND checked_at IS NOT NULL",
            (ids[0], ids[-1]),
        ).fetchone()[0]


def verdicts(db_path: Path, ids: list[int]) -> dict[str, int]:
    """How many rows are checked, and how many have each status."""
    with contextlib.closing(sqlite3.connect(db_path, timeout=30)) as con:
        rows = con.execute(
            "SELECT status, checked_at IS NOT NULL, COUNT(*) FROM amazon_connections"
            " WHERE id BETWEEN ? AND ? GROUP BY 1, 2",
            (ids[0], ids[-1]),
        ).fetchall()
    found: dict[str, int] = {"rows": 0, "checked": 0}
    for status, checked, count in rows:
        found["rows"] += count
        found["checked"] += count if checked else 0
        found[f"status {status}"] = found.get(f"status {status}", 0) + count
    return found


# --- Temporal ------------------------------------------------------------------------------------


def connection_input(connection_id: int, every: int) -> ConnectionInput:
    """As the request that stored it makes it: no first check time (a random moment of the
    first interval), the default checks per run and authorization lifetime."""
    return ConnectionInput(
        connection_id=connection_id,
        account_id=connection_id,
        account_name=f"Client {connection_id}",
        marketplace=MARKETPLACE,
        life=ConnectionLife(check_every_seconds=every),
    )


async def start_connections(
    client: Client, task_queue: str, ids: list[int], every: int, concurrency: int
) -> tuple[list[float], dict[int, str]]:
    """One ConnectionWorkflow per connection, `concurrency` start calls in flight, as
    `workflows.connection.start_connection_life` starts it; returns each call's seconds and
    each workflow's first run id."""
    slots = asyncio.Semaphore(concurrency)
    seconds: list[float] = []
    runs: dict[int, str] = {}

    async def one(connection_id: int) -> None:
        life = connection_input(connection_id, every)
        async with slots:
            began = time.perf_counter()
            handle = await client.start_workflow(
                ConnectionWorkflow.run,
                life,
                id=connection_workflow_id(connection_id),
                task_queue=task_queue,
                search_attributes=search_attributes.of_connection(
                    life.account_id, life.marketplace
                ),
                static_summary=(
                    f"Amazon {life.marketplace} connection of {escape(life.account_name)}"
                ),
            )
            seconds.append(time.perf_counter() - began)
            runs[connection_id] = handle.first_execution_run_id or handle.result_run_id or ""

    await asyncio.gather(*(one(i) for i in ids))
    return seconds, runs


async def run_history(client: Client, connection_id: int, run_id: str | None = None):
    """A run's events and the server's count of its events and bytes."""
    handle = client.get_workflow_handle(connection_workflow_id(connection_id), run_id=run_id)
    history = await handle.fetch_history()
    info = (await handle.describe()).raw_description.workflow_execution_info
    return history.events, info.history_length, info.history_size_bytes, info.status


def check_cycles(events) -> list[dict[str, float]]:
    """Per health check of a run's history, from one check timer's start to the next (or to the
    run's end): its events and their bytes (serialized), and how late each step was, in seconds:
    the timer firing after it was due, the activity queued (scheduled to started), the activity's
    run, and from firing to the next timer started (the whole check as the workflow sees it)."""
    cycles: list[dict[str, float]] = []
    current: dict[str, float] | None = None
    for event in events:
        at = timestamp_seconds(event.event_time)
        kind = event.event_type
        if kind in (
            EventType.EVENT_TYPE_TIMER_STARTED,
            EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
        ):
            if current is not None and "fired" in current:
                current["check_s"] = at - current["fired"]
                cycles.append(current)
            if kind != EventType.EVENT_TYPE_TIMER_STARTED:
                current = None
                continue
            timeout = event.timer_started_event_attributes.start_to_fire_timeout
            current = {"events": 0, "bytes": 0, "due": at + timestamp_seconds(timeout)}
        if current is None:
            continue
        current["events"] += 1
        current["bytes"] += event.ByteSize()
        if kind == EventType.EVENT_TYPE_TIMER_FIRED:
            current["fired"] = at
            current["timer_late_s"] = at - current["due"]
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            current["scheduled"] = at
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            current["activity_started"] = at
            current["queued_s"] = at - current.get("scheduled", at)
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            current["activity_s"] = at - current.get("activity_started", at)
    return cycles  # a check still under way when read is left out


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def long_run(
    loop: BackgroundLoop, client: Client, ids: list[int], runs: dict[int, str], timeout: float
) -> dict[str, Any]:
    """Wait for each sample connection's first run to continue as new; its history's figures."""
    deadline = time.monotonic() + timeout
    finished = []
    for connection_id in ids:
        while True:
            events, length, size, status = loop.run(
                run_history(client, connection_id, runs[connection_id]), timeout=60
            )
            if status == WorkflowExecutionStatus.CONTINUED_AS_NEW.value:
                finished.append((events, length, size))
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"connection {connection_id} did not continue as new in time")
            time.sleep(2)
    cycles = [c for events, _, _ in finished for c in check_cycles(events)]
    first_timer = []
    for events, _, _ in finished:
        starts = [e for e in events if e.event_type == EventType.EVENT_TYPE_TIMER_STARTED]
        first_timer.append(events.index(starts[0]) + 1 if starts else 0)
    return {
        "connections": len(finished),
        "checks_per_run": [len(check_cycles(events)) for events, _, _ in finished],
        "run_events": [length for _, length, _ in finished],
        "run_bytes": [size for _, _, size in finished],
        "events_to_first_timer": median(first_timer),
        "events_per_check": median([c["events"] for c in cycles]),
        "bytes_per_check": median([c["bytes"] for c in cycles]),
    }


def round_sample(
    loop: BackgroundLoop, client: Client, ids: list[int], sample: int
) -> dict[str, Any]:
    """The histories of `sample` connections spread over the start order, read after the round."""
    step = max(len(ids) // sample, 1)
    chosen = ids[::step][:sample]
    found = loop.run(gather([run_history(client, i) for i in chosen]), timeout=300)
    cycles = [c for events, _, _, _ in found for c in check_cycles(events)]
    return {
        "histories": len(found),
        "events_now": median([length for _, length, _, _ in found]),
        "bytes_now": median([size for _, _, size, _ in found]),
        "checks_read": len(cycles),
        "events_per_check": median([c["events"] for c in cycles]),
        "bytes_per_check": median([c["bytes"] for c in cycles]),
        "timer_late": Summary.of([c["timer_late_s"] for c in cycles]).__dict__,
        "activity_queued": Summary.of([c["queued_s"] for c in cycles if "queued_s" in c]).__dict__,
        "activity_run": Summary.of([c["activity_s"] for c in cycles if "activity_s" in c]).__dict__,
        "check_whole": Summary.of([c["check_s"] for c in cycles]).__dict__,
    }
