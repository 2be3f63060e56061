"""A stored connection's life: checked regularly, and told apart when Amazon ends it."""

from contextlib import suppress
from dataclasses import replace
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import ActivityError, ApplicationError, WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.amazon import AmazonActivities
    from activities.emails import EmailActivities
    from vocabulary import search_attributes
    from vocabulary.messages import (
        CheckInput,
        ConnectionInput,
        ConnectionResult,
        ConnectionStatus,
        DisconnectRequest,
        Health,
        NoticeInput,
        StoredConnection,
    )
    from vocabulary.notices import RequestNotice
    from vocabulary.policies import (
        CONFIRMATION_DEADLINE,
        HEALTH_CHECK_DEADLINE,
        HEALTH_CHECK_RETRY,
    )
    from vocabulary.statuses import ConnectionState, StuckReason
    from workflows.cancellation import reraise_cancellation
    from workflows.emailing import send_email
    from workflows.markdown import escape


# Who is told when Amazon ends a connection, and the step's summary.
ENDED_NOTICES = {
    ConnectionState.REVOKED: (
        RequestNotice.REVOKED_BOOKKEEPER,
        "Tell the bookkeeper Amazon access was revoked",
    ),
    ConnectionState.LAPSED: (
        RequestNotice.LAPSED_BOOKKEEPER,
        "Tell the bookkeeper the authorization lapsed",
    ),
}


def connection_workflow_id(connection_id: int) -> str:
    """One life per stored connection (its row lives on across reconnects)."""
    return f"amazon-connection-{connection_id}"


async def start_connection_life(
    stored: StoredConnection,
    account_name: str,
    marketplace: str,
    check_every_seconds: int,
    authorization_lifetime_seconds: int,
) -> None:
    """From the request that stored the connection: its own workflow, a child that outlives
    the request. A reconnect of the same connection finds it running and leaves it be: its next
    check uses the token just stored."""
    with suppress(WorkflowAlreadyStartedError):
        await workflow.start_child_workflow(
            ConnectionWorkflow.run,
            ConnectionInput(
                connection_id=stored.connection_id,
                account_id=stored.account_id,
                account_name=account_name,
                marketplace=marketplace,
                check_every_seconds=check_every_seconds,
                authorization_lifetime_seconds=authorization_lifetime_seconds,
            ),
            id=connection_workflow_id(stored.connection_id),
            parent_close_policy=ParentClosePolicy.ABANDON,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(search_attributes.ACCOUNT_ID, str(stored.account_id)),
                    SearchAttributePair(search_attributes.MARKETPLACE, marketplace),
                ]
            ),
            static_summary=f"Amazon {marketplace} connection of {escape(account_name)}",
        )


@workflow.defn
class ConnectionWorkflow:
    """One stored connection, from Connected on: a health check every `check_every_seconds`
    (a refresh grant and the Sellers API call). Amazon refusing the refresh token ends it as
    revoked, with the bookkeeper emailed once; Amazon down is retried quietly until the next
    check. It starts afresh (continue-as-new) every `checks_per_run` checks.

    Signal `disconnect(DisconnectRequest)`: a bookkeeper disconnected it (the web app already
    deleted the token); the owner is told how to remove the app at Amazon too.
    Query `status() -> ConnectionStatus`.
    Started by the request that connected it (a child that outlives it); a reconnect of the same
    connection finds it running and it checks the new token next time.
    """

    def __init__(self) -> None:
        self._input: ConnectionInput | None = None
        self._status = ConnectionState.HEALTHY
        self._checked_at: datetime | None = None
        self._next_check_at: datetime | None = None
        self._checks = 0
        self._disconnect: DisconnectRequest | None = None
        self._stuck: StuckReason | None = None

    @workflow.run
    async def run(self, input: ConnectionInput) -> ConnectionResult:
        self._input = input
        self._publish()
        every = timedelta(seconds=input.check_every_seconds)
        if input.first_check_after_seconds is None:
            # Spread over the first interval: thousands connected at once are not all checked
            # at once ever after.
            first = every * workflow.random().uniform(0.05, 1.0)
        else:
            first = timedelta(seconds=input.first_check_after_seconds)
        self._next_check_at = workflow.now() + first
        while True:
            try:
                await workflow.wait_condition(
                    lambda: self._disconnect is not None,
                    timeout=max(self._next_check_at - workflow.now(), timedelta(seconds=1)),
                    timeout_summary=f"Health check at {self._next_check_at:%Y-%m-%d %H:%M} UTC",
                )
            except TimeoutError:
                health = await self._check()
                if health is not None and health.status != ConnectionState.HEALTHY:
                    return await self._ended(health)
                self._next_check_at = workflow.now() + every
                if (
                    self._checks >= input.checks_per_run
                    or workflow.info().is_continue_as_new_suggested()
                ):
                    await workflow.wait_condition(workflow.all_handlers_finished)
                    workflow.continue_as_new(
                        replace(input, first_check_after_seconds=input.check_every_seconds)
                    )
                continue
            return await self._disconnected()

    @workflow.signal
    def disconnect(self, request: DisconnectRequest) -> None:
        self._disconnect = request

    @workflow.query
    def status(self) -> ConnectionStatus:
        return ConnectionStatus(self._status, self._checked_at, self._next_check_at, self._checks)

    async def _check(self) -> Health | None:
        """One health check; None when Amazon did not answer in time (tried again next time)
        or refused the app itself (flagged for ops until a check passes)."""
        assert self._input is not None
        self._checks += 1
        try:
            health: Health = await workflow.execute_activity_method(
                AmazonActivities.check_connection,
                CheckInput(self._input.connection_id, self._input.authorization_lifetime_seconds),
                start_to_close_timeout=timedelta(seconds=30),
                schedule_to_close_timeout=HEALTH_CHECK_DEADLINE,
                retry_policy=HEALTH_CHECK_RETRY,
                summary="Health check: refresh the token and ask Amazon where the seller sells",
            )
        except ActivityError as err:
            reraise_cancellation(err)
            cause = err.cause
            if isinstance(cause, ApplicationError) and cause.type == "AppRefused":
                self._set_stuck(StuckReason(cause.details[0]))
            else:
                workflow.logger.warning("health check: Amazon did not answer; next time again")
            return None
        self._set_stuck(None)
        self._checked_at = health.checked_at
        return health

    async def _ended(self, health: Health) -> ConnectionResult:
        """Amazon ended it (revoked), or it was disconnected without a signal (row gone)."""
        self._status = ConnectionState(health.status)
        self._publish()
        if self._status in ENDED_NOTICES:
            notice, summary = ENDED_NOTICES[self._status]
            await self._tell(NoticeInput(health.request_id, notice), summary)
        return ConnectionResult(self._status)

    async def _disconnected(self) -> ConnectionResult:
        assert self._disconnect is not None
        self._status = ConnectionState.DISCONNECTED
        self._publish()
        await self._tell(
            NoticeInput(self._disconnect.request_id, RequestNotice.DISCONNECTED_OWNER),
            "Tell the owner it was disconnected, and how to remove the app at Amazon too",
        )
        return ConnectionResult(self._status)

    async def _tell(self, notice: NoticeInput, summary: str) -> None:
        """Email one party; after CONFIRMATION_DEADLINE of a failing mail server, give up (the
        account page says it all the same)."""
        try:
            await send_email(EmailActivities.send_notice, notice, summary, CONFIRMATION_DEADLINE)
        except ActivityError as err:
            reraise_cancellation(err)
            workflow.logger.warning("the %s email could not be sent", notice.notice)

    def _publish(self) -> None:
        assert self._input is not None
        workflow.upsert_search_attributes(
            [search_attributes.CONNECTION_STATUS.value_set(self._status)]
        )
        i = self._input
        workflow.set_current_details(
            f"**{self._status.capitalize()}** · {escape(i.account_name)} (account"
            f" {i.account_id}) · Amazon {i.marketplace} · checked every"
            f" {timedelta(seconds=i.check_every_seconds)}"
        )

    def _set_stuck(self, reason: StuckReason | None) -> None:
        if reason == self._stuck:
            return
        self._stuck = reason
        key = search_attributes.STUCK_REASON
        workflow.upsert_search_attributes([key.value_set(reason) if reason else key.value_unset()])
