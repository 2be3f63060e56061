"""The reconciliation's own path: the schedule the worker keeps, and the run it starts, which
closes rows whose workflow ops terminated (without anyone opening a page)."""

import time
import uuid
from datetime import timedelta

from temporalio.client import ScheduleIntervalSpec

from core.extensions import db
from core.requests import RequestEvent
from tests.support import Bookkeeper, request_of, wait_for_status
from vocabulary.messages import Reconciled, ReconcileInput
from worker import ensure_reconcile_schedule
from workflows.reconcile import ReconcileWorkflow


def reconcile_now(app, temporal_env, loop) -> Reconciled:
    queue = app.config["TEMPORAL_TASK_QUEUE"]
    return loop.run(
        temporal_env.client.execute_workflow(
            ReconcileWorkflow.run,
            ReconcileInput(queue),
            id=f"reconcile-test-{uuid.uuid4().hex[:8]}",
            task_queue=queue,
        )
    )


def test_scheduled_run_closes_a_terminated_request_once(app, client, mailbox, temporal_env, loop):
    """Terminate in Temporal; nobody opens a page; the scheduled run closes it and mails once."""
    bookkeeper = Bookkeeper(client).sign_up()
    account_id = bookkeeper.add_account("Quiet Terminated Ltd")
    sent = bookkeeper.send_request(account_id)
    mailbox.wait_for(sent["client_email"], "asks you to connect")
    request = request_of(app, account_id)
    handle = temporal_env.client.get_workflow_handle(
        request.workflow_id, run_id=request.workflow_run_id
    )
    loop.run(handle.terminate("ops pressed Terminate"))

    result = reconcile_now(app, temporal_env, loop)
    assert result.closing >= 1 and result.open_rows >= 1
    closed = wait_for_status(app, account_id, "closed")
    assert "terminated in Temporal" in closed.status_detail
    with app.app_context():
        kinds = db.session.scalars(
            db.select(RequestEvent.kind).filter_by(request_id=closed.id, actor="operations")
        ).all()
    assert kinds == ["closed"]
    mailbox.wait_for(bookkeeper.email, "closed by operations")

    reconcile_now(app, temporal_env, loop)  # a second pass finds nothing more to do
    time.sleep(0.5)
    assert len(mailbox.wait_for(bookkeeper.email, "closed by operations")) == 1


def test_open_requests_with_running_workflows_are_left_alone(
    app, client, mailbox, temporal_env, loop
):
    """The scheduled run changes nothing for requests whose workflow is running."""
    bookkeeper = Bookkeeper(client).sign_up()
    account_id = bookkeeper.add_account("Still Running Ltd")
    sent = bookkeeper.send_request(account_id)
    mailbox.wait_for(sent["client_email"], "asks you to connect")
    reconcile_now(app, temporal_env, loop)
    assert request_of(app, account_id).status == "sent"


def test_worker_keeps_one_schedule_at_the_configured_interval(temporal_env, loop):
    """Creating the schedule twice keeps one, with the latest interval."""
    client = temporal_env.client
    queue = f"schedule-{uuid.uuid4().hex[:8]}"
    schedule_id = loop.run(ensure_reconcile_schedule(client, queue, timedelta(minutes=5)))
    loop.run(ensure_reconcile_schedule(client, queue, timedelta(minutes=7)))
    handle = client.get_schedule_handle(schedule_id)
    try:
        description = loop.run(handle.describe())
        assert description.schedule.spec.intervals == [
            ScheduleIntervalSpec(every=timedelta(minutes=7))
        ]
        assert description.schedule.action.workflow == "ReconcileWorkflow"
    finally:
        loop.run(handle.delete())
