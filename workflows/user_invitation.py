"""Inviting a user into an account: send, remind, expire, or accept (option 2)."""

import asyncio
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.invitations import InvitationActivities
    from vocabulary import search_attributes
    from vocabulary.messages import (
        AcceptInput,
        AcceptInvitation,
        CancelRequest,
        Closed,
        CloseInvitationInput,
        InvitationAccepted,
        InvitationNoticeInput,
        InvitationStatus,
        ResendRequest,
        UserInvitationEmailInput,
        UserInvitationInput,
        UserInvitationResult,
    )
    from vocabulary.notices import InvitationNotice
    from vocabulary.policies import EMAIL_RETRY, SAVED_DEADLINE, SAVED_RETRY, SHORT
    from vocabulary.statuses import ABANDONED, OPERATIONS, InvitationState
    from workflows.cancellation import is_cancellation, reraise_cancellation
    from workflows.emailing import send_email
    from workflows.markdown import escape
    from workflows.schedule import next_wake


@workflow.defn
class UserInvitationWorkflow:
    """One invitation of an email address into an account.

    Update `accept(AcceptInvitation) -> InvitationAccepted`: adds the user as a member.
    Update `resend(ResendRequest) -> InvitationStatus`: a fresh link; earlier links stop working.
    Update `withdraw(CancelRequest) -> InvitationStatus`: the admin withdraws the invitation; it
    answers once the row says so. Signal `cancel(CancelRequest)` does the same without an answer.
    Query `status() -> InvitationStatus`.

    Cancellation requested in Temporal (ops) closes it as a withdrawal by "operations" and tells
    the inviting admin; Terminate and Reset are noticed by the app's reconciliation.
    """

    def __init__(self) -> None:
        self._input: UserInvitationInput | None = None
        self._status = InvitationState.PENDING
        self._sent_at = datetime.min
        self._reminders_sent = 0
        self._accepting: AcceptInvitation | None = None
        self._accepted: InvitationAccepted | None = None
        self._cancelled: CancelRequest | None = None
        self._schedule_changed = False
        self._settled = False  # the row holds the final status (withdraw answers then)

    @workflow.run
    async def run(self, input: UserInvitationInput) -> UserInvitationResult:
        self._input = input
        try:
            return await self._story(input)
        except (asyncio.CancelledError, ActivityError) as err:
            if not is_cancellation(err):
                raise
            # An acceptance under way is left to the app: its row is no longer pending.
            if self._status == InvitationState.PENDING and self._accepting is None:
                await self._close_row(InvitationState.CANCELLED, OPERATIONS)
                if self._status == InvitationState.CANCELLED:
                    await self._notify(
                        InvitationNotice.WITHDRAWN_BY_OPERATIONS,
                        "Tell the inviting admin ops withdrew it",
                    )
                await workflow.wait_condition(workflow.all_handlers_finished)
            raise asyncio.CancelledError() from err  # the run ends Canceled, as ops asked

    async def _story(self, input: UserInvitationInput) -> UserInvitationResult:
        self._sent_at = workflow.now()
        try:
            await workflow.execute_activity_method(
                InvitationActivities.confirm_invitation_saved,
                AcceptInput(input.invitation_id, 0),
                start_to_close_timeout=SHORT,
                schedule_to_close_timeout=SAVED_DEADLINE,
                retry_policy=SAVED_RETRY,
                summary="Wait until the web app has saved the invitation",
            )
        except ActivityError as err:
            reraise_cancellation(err)
            return UserInvitationResult(ABANDONED)
        await self._send("sent", input.invited_by, supersede=False)
        self._publish()
        while True:
            wake_at, reminder = next_wake(
                self._sent_at,
                input.reminder_offsets_seconds,
                self._reminders_sent,
                self._deadline(),
            )
            self._schedule_changed = False
            try:
                await workflow.wait_condition(
                    lambda: (
                        self._accepting is not None
                        or self._cancelled is not None
                        or self._schedule_changed
                    ),
                    timeout=max(wake_at - workflow.now(), timedelta(seconds=1)),
                    timeout_summary=(
                        f"Reminder {reminder} of {len(input.reminder_offsets_seconds)}"
                        f" at {wake_at:%Y-%m-%d %H:%M} UTC"
                        if reminder
                        else f"Wait for the invitee until {wake_at:%Y-%m-%d %H:%M} UTC"
                    ),
                )
            except TimeoutError:
                if reminder:
                    await self._send("reminder", "system", supersede=False, number=reminder)
                    self._reminders_sent = reminder
                    self._publish()
                    continue
                return await self._close(InvitationState.EXPIRED, "system")
            if self._accepting is not None:
                break
            if self._cancelled is not None:
                return await self._close(InvitationState.CANCELLED, self._cancelled.actor)
        member = await workflow.execute_activity_method(
            InvitationActivities.add_member,
            AcceptInput(input.invitation_id, self._accepting.user_id),
            start_to_close_timeout=SHORT,
            summary="Add the user to the account",
        )
        self._accepted = InvitationAccepted(member.account_id)
        self._set_status(InvitationState.ACCEPTED)
        self._settled = True
        await self._notify(InvitationNotice.JOINED, "Tell the inviting admin the user joined")
        await workflow.wait_condition(workflow.all_handlers_finished)
        return UserInvitationResult(InvitationState.ACCEPTED)

    def _deadline(self) -> datetime:
        assert self._input is not None
        return self._sent_at + timedelta(seconds=self._input.expires_after_seconds)

    async def _send(self, reason: str, actor: str, supersede: bool, number: int = 0) -> None:
        assert self._input is not None
        total = len(self._input.reminder_offsets_seconds)
        await workflow.execute_activity_method(
            InvitationActivities.send_user_invitation,
            UserInvitationEmailInput(
                invitation_id=self._input.invitation_id,
                reason=reason,
                expires_at=self._deadline(),
                supersede_links=supersede,
                reminder_number=number,
                reminders_total=total,
            ),
            start_to_close_timeout=SHORT,
            retry_policy=EMAIL_RETRY,
            summary=f"Reminder {number} of {total}" if number else "Email the invitation",
        )

    def _set_status(self, status: str) -> None:
        """The one place the status changes; ops' view follows it at once."""
        self._status = status
        self._publish()

    def _publish(self) -> None:
        """Keep the search attribute and the UI's current details in step with the status."""
        workflow.upsert_search_attributes(
            [search_attributes.ONBOARDING_STATUS.value_set(self._status)]
        )
        workflow.set_current_details(self._details(self._reminders_sent))

    def _details(self, reminders_sent: int) -> str:
        i = self._input
        assert i is not None
        lines = [
            f"**{self._status.capitalize()}** · {escape(i.account_name)} · invited by"
            f" {escape(i.invited_by)} · someone at {escape(i.email_domain)}"
        ]
        if self._status == InvitationState.PENDING:
            lines.append(
                f"Reminders sent: {reminders_sent} of {len(i.reminder_offsets_seconds)} · expires"
                f" {self._deadline():%Y-%m-%d %H:%M} UTC"
            )
        return "\n\n".join(lines)

    async def _notify(self, notice: InvitationNotice, summary: str) -> None:
        assert self._input is not None
        await send_email(
            InvitationActivities.notify_inviter,
            InvitationNoticeInput(self._input.invitation_id, notice),
            summary,
            deadline=timedelta(hours=6),
        )

    async def _close(self, status: str, actor: str) -> UserInvitationResult:
        await self._close_row(status, actor)
        if status == InvitationState.EXPIRED:
            await self._notify(
                InvitationNotice.EXPIRED, "Tell the inviting admin the invitation expired"
            )
        await workflow.wait_condition(workflow.all_handlers_finished)
        return UserInvitationResult(status)

    async def _close_row(self, status: str, actor: str) -> None:
        """Close the row (its links die with it) and publish the status it ended in."""
        assert self._input is not None
        closed: Closed = await workflow.execute_activity_method(
            InvitationActivities.close_invitation,
            CloseInvitationInput(self._input.invitation_id, status, actor),
            start_to_close_timeout=SHORT,
            summary=f"Close the invitation: {status}",
        )
        self._set_status(closed.status or status)
        self._settled = True

    @workflow.update
    async def accept(self, request: AcceptInvitation) -> InvitationAccepted:
        """Add the signed-in user whose address matches; answer once they are a member."""
        if self._accepting is None:
            self._accepting = request
        await workflow.wait_condition(lambda: self._accepted is not None)
        assert self._accepted is not None
        return self._accepted

    @accept.validator
    def _validate_accept(self, request: AcceptInvitation) -> None:
        if self._accepting is not None and self._accepting.user_id == request.user_id:
            return  # accepting twice gives the same answer
        if (
            self._status != InvitationState.PENDING
            or self._cancelled is not None
            or self._accepting is not None
        ):
            raise ValueError(f"This invitation is {self._status_word()}.")

    def _status_word(self) -> str:
        if self._cancelled is not None:
            return "withdrawn"
        return {
            InvitationState.ACCEPTED: "already accepted",
            InvitationState.EXPIRED: "expired",
            InvitationState.CANCELLED: "withdrawn",
        }.get(self._status, "already being accepted")

    @workflow.update
    async def resend(self, request: ResendRequest) -> InvitationStatus:
        """Email a fresh link now; earlier links stop working; the clock starts again."""
        self._sent_at = workflow.now()  # first: the email says the new deadline
        self._reminders_sent = 0
        await self._send("resent", request.actor, supersede=True)
        self._schedule_changed = True
        self._publish()
        return self.status()

    @workflow.update
    async def withdraw(self, request: CancelRequest) -> InvitationStatus:
        """The admin withdraws the invitation; answers once the row is closed."""
        if self._cancelled is None:
            self._cancelled = request
        await workflow.wait_condition(lambda: self._settled)
        return self.status()

    @withdraw.validator
    def _validate_withdraw(self, request: CancelRequest) -> None:
        if self._status != InvitationState.PENDING or self._accepting is not None:
            raise ValueError(f"This invitation is {self._status_word()}.")

    @resend.validator
    def _validate_resend(self, request: ResendRequest) -> None:
        if (
            self._status != InvitationState.PENDING
            or self._cancelled is not None
            or self._accepting is not None
        ):
            raise ValueError(f"This invitation is {self._status_word()}.")

    @workflow.signal
    def cancel(self, request: CancelRequest) -> None:
        """The admin withdraws the invitation."""
        if self._status == InvitationState.PENDING and self._accepting is None:
            self._cancelled = request

    @workflow.query
    def status(self) -> InvitationStatus:
        assert self._input is not None
        return InvitationStatus(
            status=self._status,
            reminders_sent=self._reminders_sent,
            reminders_total=len(self._input.reminder_offsets_seconds),
            expires_at=self._deadline(),
            invitation_id=self._input.invitation_id,
        )
