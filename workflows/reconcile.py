"""Keeping the app in step with what ops did in Temporal (see web/reconcile.py)."""

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.emails import EmailActivities
    from activities.invitations import InvitationActivities
    from activities.reconcile import ReconcileActivities
    from vocabulary.messages import (
        ClosedByOperations,
        InvitationNoticeInput,
        NoticeInput,
        Orphan,
        Reconciled,
        ReconcileInput,
    )
    from vocabulary.notices import InvitationNotice, RequestNotice
    from vocabulary.policies import SHORT
    from workflows.emailing import send_email


@workflow.defn
class ClosedByOperationsWorkflow:
    """Closes a request or invitation whose workflow ops terminated (or that failed) in
    Temporal: status closed, links dead, and the bookkeeper or inviting admin told once. Its id
    names the row and the run, so however many pages notice, it runs once."""

    @workflow.run
    async def run(self, orphan: Orphan) -> ClosedByOperations:
        closed = await workflow.execute_activity_method(
            ReconcileActivities.close_by_operations,
            orphan,
            start_to_close_timeout=SHORT,
            summary=f"Close the {orphan.kind}: its workflow was {orphan.how}",
        )
        if closed.changed:
            if orphan.kind == "request":
                method = EmailActivities.send_notice
                notice = NoticeInput(orphan.row_id, RequestNotice.CLOSED_BY_OPERATIONS)
            else:
                method = InvitationActivities.notify_inviter
                notice = InvitationNoticeInput(orphan.row_id, InvitationNotice.CLOSED_BY_OPERATIONS)
            await send_email(
                method,
                notice,
                "Tell the bookkeeper operations closed it",
                deadline=timedelta(hours=6),
            )
        return closed


@workflow.defn
class ReconcileWorkflow:
    """Started by the `reconcile-<task queue>` schedule every RECONCILE_EVERY: finds open rows
    whose workflow is over (closing them) or was reset (adopting the new run)."""

    @workflow.run
    async def run(self, input: ReconcileInput) -> Reconciled:
        return await workflow.execute_activity_method(
            ReconcileActivities.reconcile_open_rows,
            input,
            start_to_close_timeout=timedelta(minutes=10),
            heartbeat_timeout=timedelta(minutes=1),
            summary="Compare open requests, invitations and live connections with their workflows",
        )
