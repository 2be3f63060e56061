"""The messages a connection request's workflow answers: Amazon's authorization, the
bookkeeper's resend, change of address and withdrawal (updates), the seller's steps and the
bookkeeper's cancel (signals), and its status (query). ConnectionRequestWorkflow inherits them;
they act on its state through its own steps (_invite, _set_status, ...)."""

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.connections import ConnectionActivities
    from vocabulary import search_attributes
    from vocabulary.messages import (
        AuthorizationOutcome,
        AuthorizationSubmitted,
        CancelRequest,
        ChangeEmailInput,
        ChangeEmailRequest,
        EmailChange,
        RequestStatus,
        ResendRequest,
        SellerProgress,
    )
    from vocabulary.policies import SHORT
    from vocabulary.statuses import RequestState


class RequestMessages:
    # ---- messages --------------------------------------------------------------------------

    @workflow.update
    async def submit_authorization(self, submitted: AuthorizationSubmitted) -> AuthorizationOutcome:
        """Take Amazon's authorization and answer once it is connected or refused."""
        if submitted.authorization_id not in self._outcomes:
            self._pending = submitted
        await workflow.wait_condition(lambda: submitted.authorization_id in self._outcomes)
        return self._outcomes[submitted.authorization_id]

    @submit_authorization.validator
    def _validate_authorization(self, submitted: AuthorizationSubmitted) -> None:
        if submitted.authorization_id in self._outcomes:
            return  # a replayed callback gets the same answer
        if self._closed or self._cancelled is not None:
            raise ValueError("This connection request is closed.")
        if (
            self._pending is not None
            and self._pending.authorization_id != submitted.authorization_id
        ):
            raise ValueError("Another authorization for this request is being processed.")

    @workflow.update
    async def resend(self, request: ResendRequest) -> RequestStatus:
        """Email a fresh link now; earlier links stop working; the clock starts again."""
        self._restart_clock()  # first: the email says the new deadline
        await self._invite("resent", request.actor, supersede=True)
        return self.status()

    @workflow.update
    async def change_email(self, request: ChangeEmailRequest) -> RequestStatus:
        """Send the request to another address; links to the old one stop working. The same
        address again is a plain resend."""
        assert self._input is not None
        change: EmailChange = await workflow.execute_activity_method(
            ConnectionActivities.change_client_email,
            ChangeEmailInput(self._input.request_id, request.new_email, request.actor),
            start_to_close_timeout=SHORT,
            summary="Change the seller's email address",
        )
        self._email_domain = search_attributes.email_domain(request.new_email)
        reason = "email_changed" if change.changed else "resent"
        self._restart_clock()  # first: the email says the new deadline
        await self._invite(reason, request.actor, supersede=True)
        return self.status()

    @workflow.update
    async def withdraw(self, request: CancelRequest) -> RequestStatus:
        """The bookkeeper withdraws the request; answers once the row is closed (or connected,
        when Amazon's answer was already being handled)."""
        if self._cancelled is None:
            self._cancelled = request
        await workflow.wait_condition(lambda: self._settled)
        return self.status()

    @withdraw.validator
    def _validate_withdraw(self, request: CancelRequest) -> None:
        if self._closed:
            raise ValueError("This connection request is already closed.")

    @resend.validator
    def _validate_resend(self, request: ResendRequest) -> None:
        self._require_open_invitation()

    @change_email.validator
    def _validate_change_email(self, request: ChangeEmailRequest) -> None:
        self._require_open_invitation()
        if "@" not in request.new_email or any(c in request.new_email for c in "\r\n <>,"):
            raise ValueError("That is not an email address.")

    def _require_open_invitation(self) -> None:
        assert self._input is not None
        if self._closed or self._cancelled is not None or self._pending is not None:
            raise ValueError("This connection request is no longer waiting for the seller.")
        if not self._input.send_invite:
            raise ValueError("A direct connection has no invitation to send.")

    def _restart_clock(self) -> None:
        """A fresh link: the seller's progress on the old one no longer counts."""
        self._sent_at = workflow.now()
        self._reminders_sent = 0
        self._consent_started_at = None
        self._schedule_changed = True
        self._opened = False
        self._set_status(RequestState.SENT)

    @workflow.signal
    def seller_opened(self, progress: SellerProgress) -> None:
        """The seller looked at the landing page (recorded once)."""
        if not self._closed and not self._opened:
            self._opened = True
            self._progress.append((RequestState.OPENED, progress.actor))
            if self._status in (RequestState.SENT, RequestState.REMINDED):
                self._set_status(RequestState.OPENED)

    @workflow.signal
    def consent_started(self, progress: SellerProgress) -> None:
        """The seller pressed 'Continue to Amazon': pause reminders."""
        if not self._closed:
            self._consent_started_at = workflow.now()
            self._progress.append((RequestState.CONSENT_STARTED, progress.actor))
            self._set_status(RequestState.CONSENT_STARTED)

    @workflow.signal
    def cancel(self, request: CancelRequest) -> None:
        """The bookkeeper withdraws the request."""
        if not self._closed:
            self._cancelled = request

    @workflow.query
    def status(self) -> RequestStatus:
        """Where the request stands, for ops and for the web app."""
        assert self._input is not None
        return RequestStatus(
            status=self._status,
            reminders_sent=self._reminders_sent,
            reminders_total=len(self._input.reminder_offsets_seconds),
            last_reminder_at=self._last_reminder_at,
            consent_started_at=self._consent_started_at,
            expires_at=self._deadline(),
            open=not self._closed,
            request_id=self._input.request_id,
        )
