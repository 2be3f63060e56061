"""Noticing what ops did to a workflow in Temporal that its code never saw.

Request Cancellation runs workflow code: the workflow closes its request itself. Terminate and
Reset do not: a terminated run leaves its row open, and a reset carries the same request on in a
new run. Here an open row is compared with its run: a run that carries it on is adopted; a run
that is over closes the row "by operations" through ClosedByOperationsWorkflow, which also tells
the bookkeeper (its id makes that happen once). The worker's schedule checks every open row each
RECONCILE_EVERY (activities/reconcile.py); the request page and the seller's link check their
own row when opened (services/reconcile.py).
"""

import asyncio
import contextlib
from dataclasses import dataclass

from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from core.extensions import db
from core.invitations import UserInvitation
from core.requests import ConnectionRequest
from core.timeline import add_event
from vocabulary.messages import InvitationStatus, Orphan, RequestStatus
from vocabulary.statuses import OPERATIONS

REQUEST = "request"
INVITATION = "invitation"
MODELS = {REQUEST: ConnectionRequest, INVITATION: UserInvitation}
# A page or a seller's link waits this long (seconds) for the check before it carries on.
CHECK_TIMEOUT = 3.0
# By name: workflows.reconcile imports this module (through its activities).
CLOSED_BY_OPERATIONS = "ClosedByOperationsWorkflow"


@dataclass
class Target:
    """What the check needs of a row, so it can run away from the database session."""

    kind: str
    row_id: int
    workflow_id: str
    run_id: str

    @classmethod
    def of(cls, row: ConnectionRequest | UserInvitation) -> "Target":
        kind = REQUEST if isinstance(row, ConnectionRequest) else INVITATION
        return cls(kind, row.id, row.workflow_id, row.workflow_run_id or "")


@dataclass
class Verdict:
    running: bool = False
    adopt_run_id: str = ""  # a reset: the request carries on in this run
    how: str = ""  # how the row's run ended, in Temporal's words


async def judge(client: Client, target: Target) -> Verdict:
    """Is the row's run still running, carried on by a reset run, or over?"""
    try:
        handle = client.get_workflow_handle(target.workflow_id, run_id=target.run_id or None)
        description = await handle.describe()
        if description.status == WorkflowExecutionStatus.RUNNING:
            return Verdict(running=True)
        how = description.status.name.lower() if description.status else "closed"
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        how = "gone"
    latest = client.get_workflow_handle(target.workflow_id)
    try:
        description = await latest.describe()
        if (
            description.status == WorkflowExecutionStatus.RUNNING
            and description.run_id != target.run_id
        ):
            if target.kind == REQUEST:
                status = await latest.query("status", result_type=RequestStatus)
                same = status.request_id == target.row_id
            else:
                status = await latest.query("status", result_type=InvitationStatus)
                same = status.invitation_id == target.row_id
            if same:
                return Verdict(adopt_run_id=description.run_id)
    except RPCError:
        pass  # no newer run, or one that cannot answer: the row's run is simply over
    return Verdict(how=how)


def adopt(target: Target, run_id: str) -> bool:
    """Point the row at the run that carries it on after ops reset its workflow."""
    row = db.session.get(MODELS[target.kind], target.row_id)
    if row is None or not row.is_open or (row.workflow_run_id or "") != target.run_id:
        return False
    row.workflow_run_id = run_id
    if target.kind == REQUEST:
        add_event(
            row.id, "reset", OPERATIONS, "Reset in Temporal; the request carries on from there."
        )
    db.session.commit()
    return True


async def start_closing(client: Client, orphan: Orphan, task_queue: str, wait: float = 0):
    """Start (once per row and run) the workflow that closes the row and tells the bookkeeper;
    with `wait`, wait that long for it to finish."""
    workflow_id = f"closed-by-operations-{orphan.kind}-{orphan.row_id}-{orphan.run_id or 'none'}"
    try:
        handle = await client.start_workflow(
            CLOSED_BY_OPERATIONS,
            orphan,
            id=workflow_id,
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            static_summary=f"Close {orphan.kind} {orphan.row_id}: its workflow was {orphan.how}",
        )
    except WorkflowAlreadyStartedError:
        handle = client.get_workflow_handle(workflow_id)
    if wait:  # a slow or stopped worker closes the row when it can
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(handle.result(), wait)
