"""Before a page shows an open request or invitation, make sure its workflow is still there for
it (core/reconcile.py judges; the worker's schedule does the same for every open row)."""

from flask import current_app
from temporalio.client import Client

from core.extensions import db, temporal
from core.invitations import UserInvitation
from core.reconcile import CHECK_TIMEOUT, Target, Verdict, adopt, judge, start_closing
from core.requests import ConnectionRequest
from vocabulary.messages import Orphan


def check(row: ConnectionRequest | UserInvitation) -> bool:
    """Before showing an open row: make sure its workflow is still there for it. True when the
    row changed (refreshed). Temporal trouble never breaks the page: the schedule tries later."""
    if not row.is_open:
        return False
    target = Target.of(row)
    queue = current_app.config["TEMPORAL_TASK_QUEUE"]

    async def reconcile(client: Client) -> Verdict:
        verdict = await judge(client, target)
        if not verdict.running and not verdict.adopt_run_id:
            orphan = Orphan(target.kind, target.row_id, target.run_id, verdict.how)
            await start_closing(client, orphan, queue, wait=CHECK_TIMEOUT)
        return verdict

    try:
        verdict = temporal.run(reconcile, CHECK_TIMEOUT * 2)
    except Exception:
        current_app.logger.warning("could not check %s", target.workflow_id, exc_info=True)
        return False
    if verdict.running:
        return False
    if verdict.adopt_run_id:
        adopt(target, verdict.adopt_run_id)
    db.session.refresh(row)
    return True
