"""Whole onboardings, from the invitation to "Connected": through the Temporal client alone
(`drive`: start, the callback's update, the result; `RealJobs` prepares the rows and fresh
Amazon codes the real activities need), or through the web app as its people do
(`web_onboarding`)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import secrets
import sqlite3
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import requests
from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes

from core import amazon, marketplaces
from core.config import load_config
from core.crypto import encrypt
from core.requests import workflow_id_for
from harness.drivers import AMAZON_LOGIN, MARKETPLACE, CallbackResult, prepare_sellers, timed_return
from harness.parts import Parts
from harness.workload import insert_rows, request_input
from tests.amazon_seller import consent
from vocabulary import search_attributes
from vocabulary.messages import AuthorizationSubmitted, ConnectionRequestInput
from workflows.connection_request import ConnectionRequestWorkflow

ONBOARD_TIMEOUT = 120.0  # seconds one onboarding may take before it counts as failed
DAY = 86400


@dataclass
class Job:
    request_id: int
    authorization_id: int


def onboarding_input(request_id: int) -> ConnectionRequestInput:
    """What the web app copies in for an invitation with the default settings."""
    return request_input(
        request_id,
        send_invite=True,
        requested_by="Bench Keeper",
        expires_after_seconds=14 * DAY,
        reminder_offsets_seconds=[2 * DAY, 5 * DAY, 9 * DAY],
        reminder_pause_seconds=DAY,
    )


async def onboard(client: Client, task_queue: str, job: Job) -> str:
    """Start, hand over the authorization (the callback's update), wait for the result."""
    marketplace = marketplaces.get(MARKETPLACE)
    handle = await client.start_workflow(
        ConnectionRequestWorkflow.run,
        onboarding_input(job.request_id),
        id=workflow_id_for(job.request_id, MARKETPLACE),
        task_queue=task_queue,
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(search_attributes.ACCOUNT_ID, str(job.request_id)),
                SearchAttributePair(search_attributes.MARKETPLACE, marketplace.country),
                SearchAttributePair(search_attributes.SELLER_EMAIL_DOMAIN, "example.com"),
                SearchAttributePair(search_attributes.ONBOARDING_STATUS, "sent"),
            ]
        ),
    )
    outcome = await handle.execute_update(
        ConnectionRequestWorkflow.submit_authorization,
        AuthorizationSubmitted(job.authorization_id),
        id=f"authorization-{uuid.uuid4().hex}",
    )
    if outcome.outcome != "connected":
        return f"update answered {outcome.outcome}"
    result = await handle.result()
    return "" if result.status == "connected" else f"workflow ended {result.status}"


async def drive(
    client: Client, task_queue: str, jobs: list[Job], concurrency: int
) -> tuple[list[float], list[str]]:
    slots = asyncio.Semaphore(concurrency)
    seconds: list[float] = []
    failures: list[str] = []

    async def one(job: Job) -> None:
        async with slots:
            began = time.perf_counter()
            try:
                error = await asyncio.wait_for(onboard(client, task_queue, job), ONBOARD_TIMEOUT)
            except Exception as err:  # noqa: BLE001 (counted and shown, the run goes on)
                error = f"{type(err).__name__}: {err}"
            if error:
                failures.append(f"request {job.request_id}: {error}")
            else:
                seconds.append(time.perf_counter() - began)

    await asyncio.gather(*(one(job) for job in jobs))
    return seconds, failures


class RealJobs:
    """Request rows and authorizations with fresh codes, as the callback would have left them."""

    def __init__(self, parts: Parts, settings: dict[str, str]) -> None:
        self.parts = parts
        self.db_path = parts.workdir / "app.db"
        self.config = load_config({**os.environ, **settings})
        self.local = threading.local()

    def _code(self, _: int) -> tuple[str, str]:
        """A seller signs in at the stand-in and confirms; Amazon's redirect carries the code."""
        http = getattr(self.local, "http", None)
        if http is None:  # one signed-in seller per thread, as a browser that stays signed in
            http = self.local.http = requests.Session()
            self.parts.sessions.append(http)
        url = amazon.consent_url(
            self.config, marketplaces.get(MARKETPLACE), secrets.token_urlsafe(24)
        )
        query = parse_qs(urlsplit(consent(url, AMAZON_LOGIN, session=http)).query)
        return query["spapi_oauth_code"][0], query["selling_partner_id"][0]

    def prepare(self, n: int) -> list[Job]:
        ids = insert_rows(
            self.db_path, n, kind="invite", status="sent", email=f"{uuid.uuid4().hex}@example.com"
        )
        with ThreadPoolExecutor(max_workers=4, thread_name_prefix="consent") as pool:
            codes = list(pool.map(self._code, ids))
        keys = self.config["TOKEN_ENCRYPTION_KEY"]
        now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
        jobs = []
        with contextlib.closing(sqlite3.connect(self.db_path, timeout=30)) as con, con:
            for request_id, (code, seller_id) in zip(ids, codes, strict=True):
                authorization_id = con.execute(
                    "INSERT INTO authorizations (public_id, request_id, selling_partner_id,"
                    " code_encrypted, outcome, outcome_message, received_at)"
                    " VALUES (?, ?, ?, ?, 'pending', '', ?)",
                    (uuid.uuid4().hex, request_id, seller_id, encrypt(keys, code), now),
                ).lastrowid
                jobs.append(Job(request_id, authorization_id))
        return jobs


@dataclass
class WebOnboarding:
    seconds: float
    error: str
    workflow_id: str
    callback: CallbackResult | None


def web_onboarding(parts: Parts, bookkeepers: queue.Queue) -> WebOnboarding:
    """Add an account and send the request; invitation; landing; consent; callback; result."""
    bookkeeper = bookkeepers.get()
    began = time.perf_counter()
    workflow_id = ""
    try:
        missing: list[tuple[str, str]] = []
        sellers = prepare_sellers(parts, bookkeeper, 1, missing)
        if not sellers:
            return WebOnboarding(0.0, f"no invitation: {missing}", "", None)
        workflow_id = sellers[0].workflow_id
        callback = timed_return(sellers[0])
        if not callback.connected:
            return WebOnboarding(0.0, f"callback: {callback.error}", workflow_id, callback)
        handle = parts.client.get_workflow_handle_for(ConnectionRequestWorkflow.run, workflow_id)
        result = parts.loop.run(handle.result(), timeout=ONBOARD_TIMEOUT)
        error = "" if result.status == "connected" else f"workflow ended {result.status}"
        return WebOnboarding(time.perf_counter() - began, error, workflow_id, callback)
    except Exception as err:  # noqa: BLE001 (counted and shown, the run goes on)
        return WebOnboarding(0.0, f"{type(err).__name__}: {err}", workflow_id, None)
    finally:
        bookkeepers.put(bookkeeper)
