"""A worker of `ConnectionRequestWorkflow` whose activities do nothing: what the workflow and
Temporal cost without the product's side effects (`python -m bench.onboarding --noop-worker`)."""

from __future__ import annotations

import asyncio
import os
import signal
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from temporalio import activity
from temporalio.client import Client
from temporalio.worker import Worker

from activities.amazon import AmazonActivities
from activities.connections import ConnectionActivities
from activities.emails import EmailActivities
from harness.parts import POLLING
from harness.processes import NAMESPACE
from vocabulary.messages import (
    AuthorizationRef,
    ChangeEmailInput,
    Closed,
    CloseRequestInput,
    Done,
    EmailChange,
    EmailsSent,
    EventInput,
    ExchangeResult,
    InvitationInput,
    MarketplaceCheck,
    NoticeInput,
    OutcomeInput,
    RequestRef,
    StoredConnection,
)
from workflows.connection_request import ConnectionRequestWorkflow


@activity.defn(name="confirm_request_saved")
def noop_confirm_request_saved(input: RequestRef) -> Done:
    return Done()


@activity.defn(name="send_invitation")
def noop_send_invitation(input: InvitationInput) -> EmailsSent:
    return EmailsSent([])


@activity.defn(name="send_notice")
def noop_send_notice(input: NoticeInput) -> EmailsSent:
    return EmailsSent([])


@activity.defn(name="record_event")
def noop_record_event(input: EventInput) -> Done:
    return Done()


@activity.defn(name="exchange_authorization_code")
def noop_exchange_authorization_code(input: AuthorizationRef) -> ExchangeResult:
    return ExchangeResult("A2DEMOUSSELL01")


@activity.defn(name="check_marketplace")
def noop_check_marketplace(input: AuthorizationRef) -> MarketplaceCheck:
    return MarketplaceCheck(True, "Bench Store")


@activity.defn(name="store_connection")
def noop_store_connection(input: AuthorizationRef) -> StoredConnection:
    return StoredConnection(input.authorization_id)


@activity.defn(name="record_outcome")
def noop_record_outcome(input: OutcomeInput) -> Done:
    return Done()


@activity.defn(name="remove_connection")
def noop_remove_connection(input: RequestRef) -> Done:
    return Done()


@activity.defn(name="close_request")
def noop_close_request(input: CloseRequestInput) -> Closed:
    return Closed(input.status)


@activity.defn(name="change_client_email")
def noop_change_client_email(input: ChangeEmailInput) -> EmailChange:
    return EmailChange(changed=True)


NOOP_ACTIVITIES = [
    noop_confirm_request_saved,
    noop_send_invitation,
    noop_send_notice,
    noop_record_event,
    noop_exchange_authorization_code,
    noop_check_marketplace,
    noop_store_connection,
    noop_record_outcome,
    noop_remove_connection,
    noop_close_request,
    noop_change_client_email,
]
# What ConnectionRequestWorkflow calls, by the product's own definitions: the no-op worker must
# answer to exactly these names.
REAL_ACTIVITIES = [
    ConnectionActivities.confirm_request_saved,
    EmailActivities.send_invitation,
    EmailActivities.send_notice,
    ConnectionActivities.record_event,
    AmazonActivities.exchange_authorization_code,
    AmazonActivities.check_marketplace,
    ConnectionActivities.store_connection,
    ConnectionActivities.record_outcome,
    ConnectionActivities.remove_connection,
    ConnectionActivities.close_request,
    ConnectionActivities.change_client_email,
]


def _activity_name(fn) -> str:
    definition = activity._Definition.from_callable(fn)
    assert definition is not None and definition.name, fn
    return definition.name


def check_noop_names() -> None:
    noop = sorted(_activity_name(fn) for fn in NOOP_ACTIVITIES)
    real = sorted(_activity_name(fn) for fn in REAL_ACTIVITIES)
    if noop != real:
        raise SystemExit(f"no-op activity names {noop} differ from the product's {real}")


async def noop_worker_main() -> None:
    """ConnectionRequestWorkflow with no-op activities, configured as worker.py's Worker is
    (16 activity threads and slots, the cache from WORKER_MAX_CACHED_WORKFLOWS)."""
    check_noop_names()
    client = await Client.connect(os.environ["TEMPORAL_ADDRESS"], namespace=NAMESPACE)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    with ThreadPoolExecutor(max_workers=16) as executor:
        worker = Worker(
            client,
            task_queue=os.environ["TEMPORAL_TASK_QUEUE"],
            workflows=[ConnectionRequestWorkflow],
            activities=NOOP_ACTIVITIES,
            activity_executor=executor,
            max_concurrent_activities=16,
            max_cached_workflows=int(os.environ.get("WORKER_MAX_CACHED_WORKFLOWS", "1000")),
            graceful_shutdown_timeout=timedelta(seconds=20),
        )
        async with worker:
            print(f"no-op {POLLING} {os.environ['TEMPORAL_TASK_QUEUE']}", flush=True)
            await stop.wait()


# --- driving onboardings through the Temporal client (figure 1) -------------------------------
