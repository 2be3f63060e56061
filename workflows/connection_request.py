"""The connection request: invite the seller, wait for Amazon's authorization, connect, confirm."""

from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.amazon import AmazonActivities
    from activities.connections import ConnectionActivities
    from activities.emails import EmailActivities
    from activities.types import (
        AuthorizationRef,
        CloseRequestInput,
        InviteEmailsInput,
        OutcomeInput,
        RequestRef,
    )

# Amazon's authorization code dies 5 minutes after the redirect: stop retrying well before.
EXCHANGE_DEADLINE = timedelta(minutes=4)
AMAZON_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=["AmazonRefused"],
)
EMAIL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    maximum_interval=timedelta(minutes=5),
    non_retryable_error_types=["EmailRejected"],
)
# Confirmation emails are the last step; when they cannot go out at all the saga compensates.
CONFIRMATION_DEADLINE = timedelta(hours=6)
SHORT = timedelta(seconds=30)


@dataclass
class ConnectionRequestInput:
    request_id: int
    send_invite: bool
    expires_after_seconds: int


@dataclass
class ConnectionRequestResult:
    status: str


@dataclass
class AuthorizationSubmitted:
    authorization_id: int


@dataclass
class AuthorizationOutcome:
    outcome: str
    message: str


@dataclass
class CancelRequest:
    reason: str


# Outcomes (mirrors web.connect.models.Authorization)
CONNECTED = "connected"
CODE_EXPIRED = "code_expired"
WRONG_ACCOUNT = "wrong_account"
AMAZON_UNAVAILABLE = "amazon_unavailable"

MESSAGES = {
    CONNECTED: "Your Amazon seller account is connected.",
    CODE_EXPIRED: "Amazon's one-time code expired or was already used. Start again and sign in"
    " to Amazon once more; it takes a minute.",
    WRONG_ACCOUNT: "The Amazon account you signed in with does not sell in this marketplace."
    " Sign in with the seller account that sells there.",
    AMAZON_UNAVAILABLE: "Amazon did not answer in time. Nothing was connected; please try again"
    " in a few minutes.",
}


@workflow.defn
class ConnectionRequestWorkflow:
    """One connection request, from invitation to a stored, confirmed connection.

    Update `submit_authorization(AuthorizationSubmitted) -> AuthorizationOutcome`: the callback
    hands over Amazon's authorization (a database reference, never the code) and waits for the
    outcome. Wrong account, expired code or Amazon trouble leave the request open for another try.
    Signal `cancel(CancelRequest)`: the bookkeeper withdraws the request.
    """

    def __init__(self) -> None:
        self._pending: AuthorizationSubmitted | None = None
        self._outcomes: dict[int, AuthorizationOutcome] = {}
        self._cancelled: CancelRequest | None = None
        self._closed = False

    @workflow.run
    async def run(self, input: ConnectionRequestInput) -> ConnectionRequestResult:
        request = RequestRef(input.request_id)
        deadline = workflow.now() + timedelta(seconds=input.expires_after_seconds)
        if input.send_invite:
            await workflow.execute_activity_method(
                EmailActivities.send_invite_emails,
                InviteEmailsInput(input.request_id, link_expires_at=deadline),
                start_to_close_timeout=SHORT,
                retry_policy=EMAIL_RETRY,
                summary="Email the invitation to the seller and a copy to the bookkeeper",
            )
        while True:
            try:
                await workflow.wait_condition(
                    lambda: self._pending is not None or self._cancelled is not None,
                    timeout=max(deadline - workflow.now(), timedelta(seconds=1)),
                    timeout_summary=f"Wait for the seller until {deadline:%Y-%m-%d %H:%M} UTC",
                )
            except TimeoutError:
                return await self._close(request, "expired", "The link expired unused.")
            if self._pending is None:
                reason = self._cancelled.reason if self._cancelled else ""
                return await self._close(request, "cancelled", reason)
            submitted = self._pending
            outcome = await self._connect(submitted)
            self._outcomes[submitted.authorization_id] = outcome
            self._pending = None
            if outcome.outcome == CONNECTED:
                break
        self._closed = True
        result = await self._confirm(request)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return result

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
            refused = isinstance(err.cause, ApplicationError) and err.cause.type == "AmazonRefused"
            return await self._record(ref, CODE_EXPIRED if refused else AMAZON_UNAVAILABLE)
        if not check.participates:
            return await self._record(ref, WRONG_ACCOUNT)
        await workflow.execute_activity_method(
            ConnectionActivities.store_connection,
            ref,
            start_to_close_timeout=SHORT,
            summary="Store the connection (refresh token encrypted)",
        )
        return AuthorizationOutcome(CONNECTED, MESSAGES[CONNECTED])

    async def _record(self, ref: AuthorizationRef, outcome: str) -> AuthorizationOutcome:
        await workflow.execute_activity_method(
            ConnectionActivities.record_outcome,
            OutcomeInput(ref.authorization_id, outcome, MESSAGES[outcome]),
            start_to_close_timeout=SHORT,
            summary=f"Record outcome: {outcome}",
        )
        return AuthorizationOutcome(outcome, MESSAGES[outcome])

    async def _confirm(self, request: RequestRef) -> ConnectionRequestResult:
        """Tell both parties; if that fails for good, undo the connection (saga)."""
        try:
            await workflow.execute_activity_method(
                EmailActivities.send_confirmation_emails,
                request,
                start_to_close_timeout=SHORT,
                schedule_to_close_timeout=CONFIRMATION_DEADLINE,
                retry_policy=EMAIL_RETRY,
                summary="Email the confirmation to the bookkeeper and the seller",
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
                    request.request_id, "failed", "The confirmation emails could not be sent."
                ),
                start_to_close_timeout=SHORT,
                summary="Mark the request failed",
            )
            await workflow.execute_activity_method(
                EmailActivities.send_failure_email,
                request,
                start_to_close_timeout=SHORT,
                schedule_to_close_timeout=CONFIRMATION_DEADLINE,
                retry_policy=EMAIL_RETRY,
                summary="Tell the bookkeeper the connection failed",
            )
            return ConnectionRequestResult("failed")
        return ConnectionRequestResult("connected")

    async def _close(
        self, request: RequestRef, status: str, detail: str
    ) -> ConnectionRequestResult:
        self._closed = True
        await workflow.execute_activity_method(
            ConnectionActivities.close_request,
            CloseRequestInput(request.request_id, status, detail),
            start_to_close_timeout=SHORT,
            summary=f"Close the request: {status}",
        )
        await workflow.wait_condition(workflow.all_handlers_finished)
        return ConnectionRequestResult(status)

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

    @workflow.signal
    def cancel(self, request: CancelRequest) -> None:
        """The bookkeeper withdraws the request."""
        if not self._closed:
            self._cancelled = request
