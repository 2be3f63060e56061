"""The Temporal worker: runs connection-request workflows and their activities.

Configured by the same environment variables as the web app; `python worker.py` runs it.
"""

import asyncio
import logging
import os
import signal
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from flask import Flask
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
)
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import Worker

from activities.accounts import AccountEmailActivities
from activities.amazon import AmazonActivities
from activities.connections import ConnectionActivities
from activities.deps import Deps
from activities.emails import EmailActivities
from activities.invitations import InvitationActivities
from activities.reconcile import ReconcileActivities
from activities.webhooks import WebhookActivities
from core import webhook_outbox
from core.app import create_core_app
from core.logs import configure_logging
from vocabulary.messages import ReconcileInput
from vocabulary.webhooks import WebhookStreamInput
from workflows.reconcile import ReconcileWorkflow
from workflows.registry import WORKFLOWS

log = logging.getLogger("worker")


def build_worker(client: Client, app: Flask, executor: ThreadPoolExecutor) -> Worker:
    """The one Worker of this project, for the app's task queue; its activities are given their
    database, mailer, Amazon client and settings here, once."""
    deps = Deps.of(app)
    emails = EmailActivities(deps)
    amazon = AmazonActivities(deps)
    connections = ConnectionActivities(deps)
    invitations = InvitationActivities(deps)
    accounts = AccountEmailActivities(deps)
    reconcile = ReconcileActivities(deps, client)
    webhooks = WebhookActivities(deps)
    webhook_outbox.dispatch_with(webhook_starter(client, app.config["TEMPORAL_TASK_QUEUE"]))
    return Worker(
        client,
        task_queue=app.config["TEMPORAL_TASK_QUEUE"],
        workflows=WORKFLOWS,
        activities=[
            emails.send_invitation,
            emails.send_notice,
            amazon.exchange_authorization_code,
            amazon.check_marketplace,
            amazon.check_connection,
            connections.confirm_request_saved,
            connections.store_connection,
            connections.record_outcome,
            connections.record_event,
            connections.change_client_email,
            connections.remove_connection,
            connections.close_request,
            connections.ask_renewal,
            invitations.confirm_invitation_saved,
            invitations.send_user_invitation,
            invitations.add_member,
            invitations.close_invitation,
            invitations.notify_inviter,
            accounts.send_account_email,
            reconcile.close_by_operations,
            reconcile.reconcile_open_rows,
            webhooks.next_webhook_delivery,
            webhooks.deliver_webhook,
            webhooks.give_up_webhook_delivery,
            webhooks.notify_webhook_disabled,
        ],
        activity_executor=executor,
        max_concurrent_activities=16,
        max_cached_workflows=app.config["WORKER_MAX_CACHED_WORKFLOWS"],
        graceful_shutdown_timeout=timedelta(seconds=20),
    )


def webhook_starter(client: Client, task_queue: str) -> webhook_outbox.Dispatcher | None:
    """Starts (or nudges) webhook delivery workflows from an activity's thread once its commit
    recorded events, on the worker's event loop, without waiting: the activity goes on at once
    (a start that fails is left to the reconciliation's sweep)."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # built outside an event loop: the sweep starts them
        return None

    def logged(future) -> None:
        if not future.cancelled() and future.exception() is not None:
            log.warning("webhook delivery not started: %s", future.exception())

    def dispatch(streams: list[WebhookStreamInput]) -> None:
        for stream in streams:
            start = webhook_outbox.start_stream(client, stream, task_queue)
            asyncio.run_coroutine_threadsafe(start, loop).add_done_callback(logged)

    return dispatch


async def ensure_reconcile_schedule(client: Client, task_queue: str, every: timedelta) -> str:
    """The schedule that runs ReconcileWorkflow every `every` (created once, kept current)."""
    schedule_id = f"reconcile-{task_queue}"
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            ReconcileWorkflow.run,
            ReconcileInput(task_queue),
            id=f"reconcile-{task_queue}-run",
            task_queue=task_queue,
            static_summary="Compare open requests and invitations with their workflows",
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )
    try:
        await client.create_schedule(schedule_id, schedule)
    except ScheduleAlreadyRunningError:
        await client.get_schedule_handle(schedule_id).update(
            lambda _: ScheduleUpdate(schedule=schedule)
        )
    return schedule_id


def metrics_runtime(address: str) -> Runtime | None:
    """A Temporal runtime serving the SDK's metrics at http://{address}/metrics (None: default)."""
    if not address:
        return None
    return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=address)))


async def connect(
    address: str, namespace: str, attempts: int = 30, runtime: Runtime | None = None
) -> Client:
    """Connect, waiting for a server that is still starting (as under `make run`)."""
    for attempt in range(1, attempts + 1):
        try:
            return await Client.connect(address, namespace=namespace, runtime=runtime)
        except RuntimeError as err:
            if attempt == attempts:
                raise
            log.info("Temporal at %s not ready (%s); retrying", address, err)
            await asyncio.sleep(min(attempt, 5))
    raise AssertionError("unreachable")


async def main() -> None:
    app = create_core_app()
    configure_logging(app.config["LOG_FORMAT"])
    metrics = app.config["WORKER_METRICS_ADDRESS"]
    client = await connect(
        app.config["TEMPORAL_ADDRESS"],
        app.config["TEMPORAL_NAMESPACE"],
        runtime=metrics_runtime(metrics),
    )
    if metrics:
        log.info("worker metrics at http://%s/metrics", metrics)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    queue = app.config["TEMPORAL_TASK_QUEUE"]
    await ensure_reconcile_schedule(client, queue, app.config["RECONCILE_EVERY"])
    with ThreadPoolExecutor(max_workers=16) as executor:
        worker = build_worker(client, app, executor)
        log.info("worker polling task queue %s", app.config["TEMPORAL_TASK_QUEUE"])
        async with worker:
            await stop.wait()
        log.info("worker stopped")


if __name__ == "__main__":
    asyncio.run(main())
    # Everything is drained and closed by now; the SDK's native runtime threads can still touch
    # Python during interpreter teardown (seen as "Fatal Python error: PyGILState_Release", exit
    # -6, in 2 of 7 SIGTERM stops), which would make a clean stop look like a crash.
    logging.shutdown()
    os._exit(0)
