"""The typed Temporal gateway: start a request's or an invitation's run under its business-key
id, signal it, update it, by the workflow's own methods (never their names as strings). Rows are
anything with `workflow_id` and `workflow_run_id`; the process's one client runs the calls."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from flask import current_app
from temporalio.client import Client, WorkflowHandle
from temporalio.common import TypedSearchAttributes, WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from core.clock import utcnow
from core.extensions import db, temporal
from core.logs import note_workflow

TIMEOUT = 10.0  # seconds to wait for Temporal on a bookkeeper's click
SIGNAL_TIMEOUT = 3.0  # the seller's page must not wait long for a best-effort signal

Result = TypeVar("Result")


class AlreadyOpen(Exception):
    """Temporal refused a second run under a business key that has one in progress."""


class Unavailable(Exception):
    """Temporal could not start the workflow; nothing was written or sent."""


def save_and_start(row, start_workflow: Callable[[Any], None]) -> None:
    """Write `row` and start its workflow, or write nothing: AlreadyOpen when its business key
    has a run in progress, Unavailable when Temporal cannot be reached. The workflow waits for the
    row (confirm_*_saved), which is committed only once the start succeeded."""
    save_and_start_all([row], start_workflow)


def save_and_start_all(rows: list, start_workflow: Callable[[Any], None]) -> None:
    """`save_and_start` for rows that go together: all are written before any workflow starts
    (each one's first email sees the others), and committed only once every start succeeded;
    runs started before a failure find no row and give up (confirm_*_saved)."""
    db.session.add_all(rows)
    db.session.flush()
    try:
        for row in rows:
            start_workflow(row)
    except AlreadyOpen:
        db.session.rollback()
        raise
    except Exception as err:
        db.session.rollback()
        current_app.logger.exception("could not start the workflow of %s", type(row).__name__)
        raise Unavailable from err
    db.session.commit()


def handle(client: Client, row) -> WorkflowHandle:
    """The run behind a request or invitation."""
    return client.get_workflow_handle(row.workflow_id, run_id=row.workflow_run_id)


def start(
    row,
    run: Callable,
    input: Any,
    attributes: TypedSearchAttributes,
    summary: str,
    details: str,
) -> None:
    """Start `run` (a workflow's run method) for `row` and remember the run on it; AlreadyOpen if
    its business key has a run in progress."""
    task_queue = current_app.config["TEMPORAL_TASK_QUEUE"]
    # Shown at once; the workflow's first email writes the exact moment a breath later.
    row.expires_at = utcnow() + timedelta(seconds=input.expires_after_seconds)
    note_workflow(row.workflow_id)

    async def start_workflow(client: Client) -> str:
        started = await client.start_workflow(
            run,
            input,
            id=row.workflow_id,
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            search_attributes=attributes,
            static_summary=summary,
            static_details=details,
        )
        return started.result_run_id

    try:
        row.workflow_run_id = temporal.run(start_workflow, TIMEOUT)
    except WorkflowAlreadyStartedError as err:
        raise AlreadyOpen(row.workflow_id) from err


def signal(row, method: Callable[[Any, Any], Any], arg: Any, best_effort: bool = False) -> None:
    """Send the signal `method` (e.g. ConnectionRequestWorkflow.consent_started) to row's run.
    Best effort: Temporal trouble is logged, never raised (the seller's page must work)."""
    note_workflow(row.workflow_id)

    async def send(client: Client) -> None:
        await handle(client, row).signal(method, arg)

    try:
        temporal.run(send, SIGNAL_TIMEOUT if best_effort else TIMEOUT)
    except Exception:
        if not best_effort:
            raise
        current_app.logger.warning(
            "signal %s to %s not delivered", method.__name__, row.workflow_id, exc_info=True
        )


def update(row, method: Callable[[Any, Any], Any], arg: Any) -> Any:
    """Run the update `method` (e.g. ConnectionRequestWorkflow.withdraw) on row's run and return
    its answer, typed by the method."""
    note_workflow(row.workflow_id)

    async def run(client: Client):
        return await handle(client, row).execute_update(method, arg)

    return temporal.run(run, TIMEOUT)
