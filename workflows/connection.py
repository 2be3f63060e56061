"""A stored connection's life: checked regularly, and told apart when Amazon ends it."""

from contextlib import suppress
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.amazon import AmazonActivities
    from activities.connections import ConnectionActivities
    from activities.emails import EmailActivities
    from core.connection_life import connection_workflow_id
    from vocabulary import search_attributes
    from vocabulary.messages import (
        CheckInput,
        ConnectionInput,
        ConnectionLife,
        ConnectionResult,
        ConnectionStatus,
        DisconnectRequest,
        Health,
        NoticeInput,
        RenewalAsked,
        RenewalInput,
        StoredConnection,
    )
    from vocabulary.notices import RequestNotice
    from vocabulary.policies import (
        CONFIRMATION_DEADLINE,
        HEALTH_CHECK_DEADLINE,
        HEALTH_CHECK_RETRY,
        SHORT,
    )
    from vocabulary.statuses import ConnectionState, RequestState, StuckReason
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


# The check that finds an authorization nobody renewed lapsed, this long after it ended.
LAPSE_CHECK_MARGIN = timedelta(minutes=1)


def _utc(at: datetime | None) -> datetime | None:
    """The database's naive UTC, as workflow.now() is: aware."""
    return at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at


async def start_connection_life(
    stored: StoredConnection, account_name: str, marketplace: str, life: ConnectionLife
) -> None:
    """From the request that stored the connection: its own workflow, a child that outlives
    the request. A renewal or reconnect of the same connection finds it running and tells it
    the seller authorized it again (the renewal clock restarts; the next check uses the token
    just stored)."""
    workflow_id = connection_workflow_id(stored.connection_id)
    try:
        await workflow.start_child_workflow(
            ConnectionWorkflow.run,
            ConnectionInput(
                connection_id=stored.connection_id,
                account_id=stored.account_id,
                account_name=account_name,
                marketplace=marketplace,
                life=life,
                authorized_at=stored.authorized_at,
            ),
            id=workflow_id,
            parent_close_policy=ParentClosePolicy.ABANDON,
            search_attributes=search_attributes.of_connection(stored.account_id, marketplace),
            static_summary=f"Amazon {marketplace} connection of {escape(account_name)}",
        )
    except WorkflowAlreadyStartedError:
        handle = workflow.get_external_workflow_handle_for(ConnectionWorkflow.run, workflow_id)
        with suppress(ApplicationError):  # it ended meanwhile: its row says the rest
            await handle.signal(ConnectionWorkflow.authorized, stored)


@workflow.defn
class ConnectionWorkflow:
    """One stored connection, from Connected on: a health check every `check_every_seconds`
    (a refresh grant and the Sellers API call). Amazon refusing the refresh token ends it as
    revoked, or lapsed past the authorization's lifetime, with the bookkeeper emailed once;
    Amazon down is retried quietly until the next check. At the first of RENEWAL_REMINDERS
    before the authorization ends it asks the owner to renew it (a renewal request, a child
    whose own reminders fall at the others) and is *renewal due* until the seller authorizes
    again. It starts afresh (continue-as-new) every `checks_per_run` checks.

    Signal `authorized(StoredConnection)`: the seller authorized it again (a renewal or a
    reconnect stored a new token): healthy, and the renewal clock restarts.
    Signal `disconnect(DisconnectRequest)`: a bookkeeper disconnected it (the web app already
    deleted the token); the owner is told how to remove the app at Amazon too.
    Query `status() -> ConnectionStatus`.
    Started by the request that connected it (a child that outlives it).
    """

    def __init__(self) -> None:
        self._input: ConnectionInput | None = None
        self._status = ConnectionState.HEALTHY
        self._checked_at: datetime | None = None
        self._next_check_at: datetime | None = None
        self._checks = 0
        self._disconnect: DisconnectRequest | None = None
        self._stuck: StuckReason | None = None
        self._authorized_at: datetime | None = None
        self._renewal_asked_for: datetime | None = None
        self._clock_changed = False

    @workflow.run
    async def run(self, input: ConnectionInput) -> ConnectionResult:
        self._input = input
        self._authorized_at = _utc(input.authorized_at)
        self._renewal_asked_for = _utc(input.renewal_asked_for)
        if self._renewal_asked():
            self._status = ConnectionState.RENEWAL_DUE
        self._publish()
        every = timedelta(seconds=input.life.check_every_seconds)
        if input.first_check_after_seconds is None:
            # Spread over the first interval: thousands connected at once are not all checked
            # at once ever after.
            first = every * workflow.random().uniform(0.05, 1.0)
        else:
            first = timedelta(seconds=input.first_check_after_seconds)
        self._next_check_at = workflow.now() + first
        while True:
            renew_at = self._renewal_at()
            wake_at = (
                self._next_check_at if renew_at is None else min(renew_at, self._next_check_at)
            )
            self._clock_changed = False
            try:
                await workflow.wait_condition(
                    lambda: self._disconnect is not None or self._clock_changed,
                    timeout=max(wake_at - workflow.now(), timedelta(seconds=1)),
                    timeout_summary=(
                        f"Ask the owner to renew at {wake_at:%Y-%m-%d %H:%M} UTC"
                        if wake_at == renew_at
                        else f"Health check at {wake_at:%Y-%m-%d %H:%M} UTC"
                    ),
                )
            except TimeoutError:
                if wake_at == renew_at:
                    await self._ask_renewal()
                    continue
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
                        replace(
                            input,
                            first_check_after_seconds=input.life.check_every_seconds,
                            authorized_at=self._authorized_at,
                            renewal_asked_for=self._renewal_asked_for,
                        )
                    )
                continue
            if self._disconnect is not None:
                return await self._disconnected()

    @workflow.signal
    def authorized(self, stored: StoredConnection) -> None:
        self._reauthorized(_utc(stored.authorized_at))

    @workflow.signal
    def disconnect(self, request: DisconnectRequest) -> None:
        self._disconnect = request

    @workflow.query
    def status(self) -> ConnectionStatus:
        return ConnectionStatus(
            self._status,
            self._checked_at,
            self._next_check_at,
            self._checks,
            self._authorized_at,
            self._renewal_time(),
        )

    def _reauthorized(self, at: datetime | None) -> None:
        """The seller authorized it again: healthy, and the renewal clock starts from `at`."""
        if at is None or at == self._authorized_at:
            return
        self._authorized_at = at
        self._status = ConnectionState.HEALTHY
        self._clock_changed = True
        self._publish()

    def _ends_at(self) -> datetime | None:
        assert self._input is not None
        if self._authorized_at is None:
            return None
        return self._authorized_at + timedelta(
            seconds=self._input.life.authorization_lifetime_seconds
        )

    def _renewal_time(self) -> datetime | None:
        """When the owner is (or was) asked to renew this authorization; None without
        RENEWAL_REMINDERS or a known authorization time."""
        assert self._input is not None
        ends_at = self._ends_at()
        offsets = self._input.life.renewal_offsets_seconds
        if ends_at is None or not offsets:
            return None
        return ends_at - timedelta(seconds=offsets[0])

    def _renewal_asked(self) -> bool:
        """The owner has been asked to renew the current authorization."""
        return (
            self._renewal_asked_for is not None and self._renewal_asked_for == self._authorized_at
        )

    def _renewal_at(self) -> datetime | None:
        """When to ask for renewal next; None once asked for this authorization."""
        return None if self._renewal_asked() else self._renewal_time()

    async def _ask_renewal(self) -> None:
        """Ask the owner to renew (a renewal request, or the open request for the marketplace),
        and check again the moment the authorization ends, should nobody renew it."""
        assert self._input is not None
        i, ends_at = self._input, self._ends_at()
        assert ends_at is not None
        self._renewal_asked_for = self._authorized_at
        asked: RenewalAsked = await workflow.execute_activity_method(
            ConnectionActivities.ask_renewal,
            RenewalInput(i.connection_id, ends_at, i.life.renewal_offsets_seconds[1:]),
            start_to_close_timeout=SHORT,
            summary="Open the renewal request (the connection is due for renewal)",
        )
        if not asked.request_id:
            return  # the connection is gone: the next check ends this
        self._status = ConnectionState.RENEWAL_DUE
        self._publish()
        if asked.start is not None:
            # By the type's name: connection_request imports this module.
            with suppress(WorkflowAlreadyStartedError):
                await workflow.start_child_workflow(
                    "ConnectionRequestWorkflow",
                    asked.start,
                    id=asked.workflow_id,
                    parent_close_policy=ParentClosePolicy.ABANDON,
                    search_attributes=search_attributes.of_request(
                        i.account_id,
                        i.marketplace,
                        asked.start.seller_email_domain,
                        RequestState.SENT,
                    ),
                    static_summary=f"Renew {escape(i.account_name)}'s Amazon {i.marketplace}"
                    " connection",
                )
        assert self._next_check_at is not None
        self._next_check_at = min(self._next_check_at, ends_at + LAPSE_CHECK_MARGIN)

    async def _check(self) -> Health | None:
        """One health check; None when Amazon did not answer in time (tried again next time)
        or refused the app itself (flagged for ops until a check passes)."""
        assert self._input is not None
        self._checks += 1
        try:
            health: Health = await workflow.execute_activity_method(
                AmazonActivities.check_connection,
                CheckInput(
                    self._input.connection_id, self._input.life.authorization_lifetime_seconds
                ),
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
        # Renewed without a signal reaching this run (ops restarted it, say): the row knows.
        self._reauthorized(_utc(health.authorized_at))
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
            f" {timedelta(seconds=i.life.check_every_seconds)}"
        )

    def _set_stuck(self, reason: StuckReason | None) -> None:
        if reason == self._stuck:
            return
        self._stuck = reason
        key = search_attributes.STUCK_REASON
        workflow.upsert_search_attributes([key.value_set(reason) if reason else key.value_unset()])
