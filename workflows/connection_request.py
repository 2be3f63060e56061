"""A connection request: invite, remind, expire; on Amazon's answer connect and confirm."""

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.amazon import AmazonActivities
    from activities.connections import ConnectionActivities
    from activities.emails import EmailActivities
    from vocabulary.messages import (
        AuthorizationOutcome,
        AuthorizationRef,
        AuthorizationSubmitted,
        CancelRequest,
        Closed,
        CloseRequestInput,
        ConnectionRequestInput,
        ConnectionRequestResult,
        EventInput,
        InvitationInput,
        NoticeInput,
        OutcomeInput,
        RequestRef,
        StoredConnection,
    )
    from vocabulary.notices import RequestNotice
    from vocabulary.policies import (
        AMAZON_RETRY,
        CONFIRMATION_DEADLINE,
        EMAIL_RETRY,
        EXCHANGE_DEADLINE,
        FLAG_AFTER_ATTEMPTS,
        HELP_NOTICE_DEADLINE,
        SAVED_DEADLINE,
        SAVED_RETRY,
        SHORT,
    )
    from vocabulary.statuses import (
        ABANDONED,
        OPERATIONS,
        OUTCOME_MESSAGES,
        Outcome,
        RequestState,
        StuckReason,
    )
    from workflows.cancellation import is_cancellation, reraise_cancellation
    from workflows.connection import start_connection_life
    from workflows.emailing import send_email
    from workflows.request_messages import RequestMessages
    from workflows.request_visibility import RequestVisibility
    from workflows.schedule import next_wake

# The seller's steps, as the timeline names them.
PROGRESS = {
    RequestState.OPENED: "Opened the link",
    RequestState.CONSENT_STARTED: "Went to Amazon to sign in and confirm",
    "direct_started": "Started connecting directly",
    "amazon_started": "Started the renewal at Amazon (Manage Your Apps)",
}


@workflow.defn
class ConnectionRequestWorkflow(RequestMessages, RequestVisibility):
    """One connection request, from invitation to a stored, confirmed connection.

    Update `submit_authorization(AuthorizationSubmitted) -> AuthorizationOutcome`: the callback
    hands over Amazon's authorization (a database reference, never the code) and waits for the
    outcome. Wrong account, expired code or Amazon trouble leave the request open for another try;
    the first wrong account of an invitation is emailed to the bookkeeper. So does Amazon
    refusing the app itself (its credentials, a role, a malformed call): not retried, emailed to
    the bookkeeper once, and flagged for ops in StuckReason until a try connects or it closes.
    Update `resend(ResendRequest) -> RequestStatus`: a fresh link; earlier links stop working.
    Update `change_email(ChangeEmailRequest) -> RequestStatus`: a fresh link to a new address
    (the same address again is a plain resend).
    Update `withdraw(CancelRequest) -> RequestStatus`: the bookkeeper withdraws the request; it
    answers once the row says so. Signal `cancel(CancelRequest)` does the same without an answer.
    Signal `seller_opened(SellerProgress)`, `consent_started(SellerProgress)`: the seller's steps;
    consent pauses reminders for `reminder_pause_seconds`.
    Query `status() -> RequestStatus`.

    Cancellation requested in Temporal (ops) closes the request as a withdrawal by "operations"
    and tells the bookkeeper; Terminate and Reset cannot run this code: the app's reconciliation
    (web/reconcile.py) notices them.
    """

    def __init__(self) -> None:
        self._input: ConnectionRequestInput | None = None
        self._status = RequestState.SENT
        self._sent_at = datetime.min
        self._reminders_sent = 0
        self._last_reminder_at: datetime | None = None
        self._consent_started_at: datetime | None = None
        self._opened = False
        self._pending: AuthorizationSubmitted | None = None
        self._outcomes: dict[int, AuthorizationOutcome] = {}
        self._cancelled: CancelRequest | None = None
        self._closed = False
        self._progress: list[tuple[str, str]] = []  # (status, actor) signals not yet recorded
        self._schedule_changed = False
        # One link-changing step at a time, in order: an invitation email (which may replace
        # the links) or the handling of Amazon's answer (which must not use a replaced link).
        self._emailing = asyncio.Lock()
        self._email_domain = ""
        self._settled = False  # the row holds the final status (withdraw answers then)
        self._told: set[RequestNotice] = set()  # the help notices sent, once each
        self._stored: StoredConnection | None = None  # the connection it stored
        self._email_failing = False
        self._app_refused: StuckReason | None = None  # Amazon refused the app: ops must act

    # ---- the story -------------------------------------------------------------------------

    @workflow.run
    async def run(self, input: ConnectionRequestInput) -> ConnectionRequestResult:
        self._input = input
        self._email_domain = input.seller_email_domain
        try:
            return await self._story(input)
        except (asyncio.CancelledError, ActivityError) as err:
            if not is_cancellation(err) or self._closed:
                raise
            return await self._cancelled_by_operations()

    async def _story(self, input: ConnectionRequestInput) -> ConnectionRequestResult:
        self._sent_at = workflow.now()
        try:
            await workflow.execute_activity_method(
                ConnectionActivities.confirm_request_saved,
                RequestRef(input.request_id),
                start_to_close_timeout=SHORT,
                schedule_to_close_timeout=SAVED_DEADLINE,
                retry_policy=SAVED_RETRY,
                summary="Wait until the web app has saved the request",
            )
        except ActivityError as err:
            reraise_cancellation(err)
            return ConnectionRequestResult(ABANDONED)
        if input.send_invite:
            await self._invite("sent", input.requested_by, supersede=False)
            self._publish()
        else:
            self._consent_started_at = workflow.now()
            if input.started_at_amazon:
                self._progress.append(("amazon_started", "the seller, at Amazon"))
            else:
                self._progress.append(("direct_started", input.requested_by))
            self._set_status(RequestState.CONSENT_STARTED)
        while True:
            await self._record_progress()
            wake_at, reminder = self._next_wake()
            self._schedule_changed = False
            try:
                await workflow.wait_condition(
                    lambda: (
                        self._pending is not None
                        or self._cancelled is not None
                        or self._schedule_changed
                        or bool(self._progress)
                    ),
                    timeout=max(wake_at - workflow.now(), timedelta(seconds=1)),
                    timeout_summary=(
                        f"Reminder {reminder} of {len(input.reminder_offsets_seconds)}"
                        f" at {wake_at:%Y-%m-%d %H:%M} UTC"
                        if reminder
                        else f"Wait for the seller until {wake_at:%Y-%m-%d %H:%M} UTC"
                    ),
                )
            except TimeoutError:
                if reminder:
                    await self._remind(reminder)
                    continue
                return await self._close(RequestState.EXPIRED, "The link expired unused.", "system")
            if self._cancelled is not None and self._pending is None:
                return await self._close(
                    RequestState.CANCELLED, "Withdrawn.", self._cancelled.actor
                )
            if self._pending is None:
                continue  # progress to record or a new schedule
            submitted = self._pending
            async with self._emailing:
                outcome = await self._connect(submitted)
            self._outcomes[submitted.authorization_id] = outcome
            self._pending = None
            if outcome.outcome == RequestState.CONNECTED:
                self._clear_app_refused()
                break
            if outcome.outcome == Outcome.WRONG_ACCOUNT:
                await self._tell_once(
                    RequestNotice.WRONG_ACCOUNT_BOOKKEEPER,
                    "Tell the bookkeeper the seller signed in with an account that does not"
                    " sell there",
                )
            elif outcome.outcome == Outcome.APP_REFUSED:
                await self._tell_once(
                    RequestNotice.APP_REFUSED_BOOKKEEPER,
                    "Tell the bookkeeper Amazon refused the app itself (ops alerted)",
                )
        self._closed = True
        self._set_status(RequestState.CONNECTED)
        self._settled = True
        result = await self._confirm()
        if result.status == RequestState.CONNECTED:
            assert self._stored is not None
            await start_connection_life(
                self._stored, input.account_name, input.marketplace, input.life
            )
        await workflow.wait_condition(workflow.all_handlers_finished)
        return result

    def _next_wake(self) -> tuple[datetime, int]:
        """When to wake next: (time, reminder number), where reminder 0 means expiry."""
        assert self._input is not None
        paused_until = None
        if self._consent_started_at is not None:
            # The seller is on their way: no nagging until they have had a day to finish.
            paused_until = self._consent_started_at + timedelta(
                seconds=self._input.reminder_pause_seconds
            )
        return next_wake(
            self._sent_at,
            self._input.reminder_offsets_seconds,
            self._reminders_sent,
            self._deadline(),
            paused_until,
        )

    def _deadline(self) -> datetime:
        assert self._input is not None
        return self._sent_at + timedelta(seconds=self._input.expires_after_seconds)

    async def _invite(self, reason: str, actor: str, supersede: bool, number: int = 0) -> None:
        assert self._input is not None
        async with self._emailing:
            if supersede:
                # Accepted while Amazon's answer was being handled: re-check now it is done.
                try:
                    self._require_open_invitation()
                except ValueError as err:
                    raise ApplicationError(str(err), non_retryable=True) from None
            summary = {
                "sent": "Email the invitation to the seller and a copy to the bookkeeper",
                "resent": "Email a fresh link to the seller (earlier links stop working)",
                "email_changed": "Email a fresh link to the seller's new address",
                "reminder": f"Reminder {number} of {len(self._input.reminder_offsets_seconds)}",
            }[reason]
            await self._email(
                EmailActivities.send_invitation,
                InvitationInput(
                    request_id=self._input.request_id,
                    reason=reason,
                    actor=actor,
                    expires_at=self._deadline(),
                    supersede_links=supersede,
                    reminder_number=number,
                    reminders_total=len(self._input.reminder_offsets_seconds),
                ),
                summary,
            )

    async def _remind(self, number: int) -> None:
        await self._invite("reminder", "system", supersede=False, number=number)
        self._reminders_sent = number
        self._last_reminder_at = workflow.now()
        self._set_status(
            RequestState.REMINDED
            if self._status in (RequestState.SENT, RequestState.OPENED)
            else self._status
        )

    async def _record_progress(self) -> None:
        """Record the seller's steps (signals) on the timeline, in the order they came."""
        assert self._input is not None
        while self._progress:
            event, actor = self._progress.pop(0)
            await workflow.execute_activity_method(
                ConnectionActivities.record_event,
                EventInput(
                    self._input.request_id, event, actor, PROGRESS[event], status=self._status
                ),
                start_to_close_timeout=SHORT,
                summary=f"Timeline: {event.replace('_', ' ')}",
            )

    async def _connect(self, submitted: AuthorizationSubmitted) -> AuthorizationOutcome:
        """Exchange the code, check the marketplace, store the connection."""
        ref = AuthorizationRef(submitted.authorization_id)
        try:
            await workflow.execute_activity_method(
                AmazonActivities.exchange_authorization_code,
                ref,
                start_to_close_timeout=timedelta(seconds=20),
                schedule_to_close_timeout=EXCHANGE_DEADLINE,
                retry_policy=AMAZON_RETRY,
                summary="Exchange Amazon's code for tokens",
            )
            check = await workflow.execute_activity_method(
                AmazonActivities.check_marketplace,
                ref,
                start_to_close_timeout=timedelta(seconds=20),
                schedule_to_close_timeout=timedelta(minutes=10),
                retry_policy=AMAZON_RETRY,
                summary="Check the seller sells in the requested marketplace",
            )
        except ActivityError as err:
            reraise_cancellation(err)
            cause = err.cause if isinstance(err.cause, ApplicationError) else None
            kind = cause.type if cause is not None else ""
            if kind == "AppRefused":
                assert cause is not None
                self._app_refused = StuckReason(cause.details[0])
                self._publish_stuck()
                return await self._record(ref, Outcome.APP_REFUSED)
            outcome = {"AmazonRefused": Outcome.CODE_EXPIRED, "LinkReplaced": Outcome.LINK_REPLACED}
            return await self._record(ref, outcome.get(kind, Outcome.AMAZON_UNAVAILABLE))
        if check.expected_seller:
            return await self._record(ref, Outcome.OTHER_SELLER)
        if not check.participates:
            return await self._record(ref, Outcome.WRONG_ACCOUNT)
        try:
            self._stored = await workflow.execute_activity_method(
                ConnectionActivities.store_connection,
                ref,
                start_to_close_timeout=SHORT,
                summary="Store the connection (refresh token encrypted)",
            )
        except ActivityError as err:
            reraise_cancellation(err)
            # Ops closed the row a moment before (the app's reconciliation): nothing stored.
            if isinstance(err.cause, ApplicationError) and err.cause.type == "RequestClosed":
                return await self._record(ref, Outcome.CLOSED)
            raise
        return AuthorizationOutcome(
            RequestState.CONNECTED, OUTCOME_MESSAGES[RequestState.CONNECTED]
        )

    async def _record(self, ref: AuthorizationRef, outcome: str) -> AuthorizationOutcome:
        await workflow.execute_activity_method(
            ConnectionActivities.record_outcome,
            OutcomeInput(ref.authorization_id, outcome, OUTCOME_MESSAGES[outcome]),
            start_to_close_timeout=SHORT,
            summary=f"Amazon error: {outcome.replace('_', ' ')}",
        )
        return AuthorizationOutcome(outcome, OUTCOME_MESSAGES[outcome])

    async def _tell_once(self, notice: RequestNotice, summary: str) -> None:
        """Email the bookkeeper a help notice, once per request, about a try that did not
        connect (the seller's page already says so): the seller used an account that does not
        sell in the marketplace, or Amazon refused the app itself."""
        assert self._input is not None
        if notice in self._told or not self._input.send_invite:
            return  # a member connecting directly sees the page; nobody else to tell
        self._told.add(notice)
        try:
            await self._notify(notice, summary, deadline=HELP_NOTICE_DEADLINE)
        except ActivityError as err:
            reraise_cancellation(err)
            workflow.logger.warning("the %s notice could not be sent", notice)

    async def _notify(
        self, notice: RequestNotice, summary: str, deadline: timedelta = CONFIRMATION_DEADLINE
    ) -> None:
        assert self._input is not None
        await self._email(
            EmailActivities.send_notice,
            NoticeInput(self._input.request_id, notice),
            summary,
            deadline=deadline,
        )

    async def _email(self, method, arg, summary: str, deadline: timedelta | None = None) -> None:
        """Send an email; after a few failed tries flag the request for ops and keep trying."""
        try:
            await workflow.execute_activity_method(
                method,
                arg,
                start_to_close_timeout=SHORT,
                retry_policy=replace(EMAIL_RETRY, maximum_attempts=FLAG_AFTER_ATTEMPTS),
                summary=summary,
            )
            return
        except ActivityError as err:
            reraise_cancellation(err)
            if isinstance(err.cause, ApplicationError) and err.cause.non_retryable:
                raise
        self._email_failing = True
        self._publish_stuck()
        try:
            await send_email(
                method, arg, f"{summary} (still trying: the mail server keeps failing)", deadline
            )
        finally:
            self._email_failing = False
            self._publish_stuck()

    async def _confirm(self) -> ConnectionRequestResult:
        """Tell both parties; if that fails for good, undo the connection (saga)."""
        assert self._input is not None
        request = RequestRef(self._input.request_id)
        try:
            await self._notify(
                RequestNotice.CONNECTED_BOOKKEEPER, "Email the bookkeeper: connected and ready"
            )
            if self._input.send_invite or self._input.started_at_amazon:
                await self._notify(
                    RequestNotice.CONNECTED_SELLER, "Email the seller: thank you, connected"
                )
            else:
                await self._notify(
                    RequestNotice.CONNECTED_INVITER,
                    "Email the admin who invited this member: connected",
                )
        except ActivityError:
            await workflow.execute_activity_method(
                ConnectionActivities.remove_connection,
                request,
                start_to_close_timeout=SHORT,
                summary="Compensate: remove the stored connection",
            )
            await workflow.execute_activity_method(
                ConnectionActivities.close_request,
                CloseRequestInput(
                    request.request_id,
                    RequestState.FAILED,
                    "The confirmation emails could not be sent.",
                    "system",
                ),
                start_to_close_timeout=SHORT,
                summary="Mark the request failed",
            )
            self._set_status(RequestState.FAILED)
            await self._notify(
                RequestNotice.FAILED_BOOKKEEPER, "Tell the bookkeeper the connection failed"
            )
            return ConnectionRequestResult(RequestState.FAILED)
        return ConnectionRequestResult(RequestState.CONNECTED)

    async def _close(self, status: str, detail: str, actor: str) -> ConnectionRequestResult:
        assert self._input is not None
        self._closed = True
        self._clear_app_refused()
        await self._close_row(status, detail, actor)
        # A renewal that expires is the connection's lapse, which its own workflow tells.
        if status == RequestState.EXPIRED and self._input.send_invite and not self._input.renewal:
            await self._notify(
                RequestNotice.EXPIRED_BOOKKEEPER, "Tell the bookkeeper the link expired"
            )
        await workflow.wait_condition(workflow.all_handlers_finished)
        return ConnectionRequestResult(status)

    async def _close_row(self, status: str, detail: str, actor: str) -> str:
        """Close the row (its links die with it); returns the status it ended in."""
        assert self._input is not None
        async with self._emailing:  # after an email under way, whose link dies too
            closed: Closed = await workflow.execute_activity_method(
                ConnectionActivities.close_request,
                CloseRequestInput(self._input.request_id, status, detail, actor),
                start_to_close_timeout=SHORT,
                summary=f"Close the request: {status}",
            )
        final = closed.status or status
        self._set_status(final)
        self._settled = True
        return final

    async def _cancelled_by_operations(self) -> ConnectionRequestResult:
        """Ops requested cancellation in Temporal: close exactly as a withdrawal, then end as
        Canceled. A connection stored a moment before stands, and is confirmed as usual."""
        assert self._input is not None
        self._closed = True
        self._clear_app_refused()
        final = await self._close_row(
            RequestState.CANCELLED, "Withdrawn by operations (cancelled in Temporal).", OPERATIONS
        )
        pending = self._pending
        if final == RequestState.CONNECTED:
            if pending is not None:
                self._outcomes[pending.authorization_id] = AuthorizationOutcome(
                    RequestState.CONNECTED, OUTCOME_MESSAGES[RequestState.CONNECTED]
                )
            result = await self._confirm()
            await workflow.wait_condition(workflow.all_handlers_finished)
            return result
        if pending is not None and pending.authorization_id not in self._outcomes:
            ref = AuthorizationRef(pending.authorization_id)
            self._outcomes[pending.authorization_id] = await self._record(ref, Outcome.CLOSED)
        if self._input.send_invite:
            await self._notify(
                RequestNotice.WITHDRAWN_BY_OPERATIONS,
                "Tell the bookkeeper ops withdrew the request",
            )
        await workflow.wait_condition(workflow.all_handlers_finished)
        raise asyncio.CancelledError()
