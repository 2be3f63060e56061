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
from tests.workflow_stand_ins import CONNECTION_REQUEST_ACTIVITIES, typed_activity
from vocabulary.messages import (
    Closed,
    Done,
    EmailChange,
    EmailsSent,
    ExchangeResult,
    Health,
    MarketplaceCheck,
    StoredConnection,
)
from vocabulary.statuses import ConnectionState
from workflows.connection import ConnectionWorkflow
from workflows.connection_request import ConnectionRequestWorkflow

# What each no-op activity answers: a success, at once, with nothing done. Names, inputs and
# outputs come from the fast tests' table, so the two sets of stand-ins cannot drift apart.
NOOP_ANSWERS = {
    "confirm_request_saved": lambda input: Done(),
    "send_invitation": lambda input: EmailsSent([]),
    "send_notice": lambda input: EmailsSent([]),
    "record_event": lambda input: Done(),
    "exchange_authorization_code": lambda input: ExchangeResult("A2DEMOUSSELL01"),
    "check_marketplace": lambda input: MarketplaceCheck(True, "Bench Store"),
    "store_connection": lambda input: StoredConnection(input.authorization_id),
    "record_outcome": lambda input: Done(),
    "remove_connection": lambda input: Done(),
    "close_request": lambda input: Closed(input.status),
    "change_client_email": lambda input: EmailChange(changed=True),
    "check_connection": lambda input: Health(ConnectionState.HEALTHY),
}
# Plain functions, so they run in the worker's thread pool as before.
NOOP_ACTIVITIES = [
    typed_activity(name, input_type, output_type, NOOP_ANSWERS[name])
    for name, (input_type, output_type) in CONNECTION_REQUEST_ACTIVITIES.items()
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
    AmazonActivities.check_connection,  # the connection's own workflow, a child
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
    """ConnectionRequestWorkflow (and the ConnectionWorkflow it starts) with no-op activities,
    configured as worker.py's Worker is (16 activity threads and slots, the cache from
    WORKER_MAX_CACHED_WORKFLOWS)."""
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
            workflows=[ConnectionRequestWorkflow, ConnectionWorkflow],
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
