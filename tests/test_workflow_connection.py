"""ConnectionWorkflow alone: the real workflow on a time-skipping dev server, its activities
same-named stand-ins (tests/workflow_stand_ins.py). Checks, their timing, what ends a
connection's life and who is told."""

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle

from tests.workflow_stand_ins import DAY, StandIns, failing_for, fresh, player, refused
from vocabulary import search_attributes
from vocabulary.messages import (
    ConnectionInput,
    ConnectionLife,
    ConnectionRequestInput,
    DisconnectRequest,
    Health,
    NoticeInput,
    RenewalAsked,
    RenewalInput,
    StoredConnection,
)
from vocabulary.notices import RequestNotice
from vocabulary.policies import HEALTH_CHECK_DEADLINE
from vocabulary.statuses import ConnectionState, StuckReason
from workflows.connection import LAPSE_CHECK_MARGIN, ConnectionWorkflow
from workflows.connection_request import ConnectionRequestWorkflow

pytest_plugins = ["tests.workflow_stand_ins"]

CHECKED = datetime(2026, 12, 1, 9, 0)


@dataclass
class Case:
    env: object
    stand_ins: StandIns
    task_queue: str
    connection_id: int

    async def start(self, **overrides) -> WorkflowHandle:
        fields = dict(
            connection_id=self.connection_id,
            account_id=42,
            account_name="Acme Widgets Ltd",
            marketplace="UK",
            life=ConnectionLife(check_every_seconds=int(DAY.total_seconds())),
            first_check_after_seconds=int(DAY.total_seconds()),
        )
        fields.update(overrides)
        return await self.env.client.start_workflow(
            ConnectionWorkflow.run,
            ConnectionInput(**fields),
            id=fresh("amazon-connection"),
            task_queue=self.task_queue,
        )

    async def checked(self, handle: WorkflowHandle, count: int) -> None:
        """Skip to the `count`-th check and wait until it is answered."""
        while len(self.stand_ins.of("check_connection")) < count:
            await self.env.fast_forward(handle, DAY + timedelta(minutes=1))
            await self.stand_ins.wait_for("check_connection", len(self.checks()))
        await self.settled(handle)

    async def settled(self, handle: WorkflowHandle) -> None:
        """No activity under way: the last check's answer is taken in."""
        for _ in range(200):
            description = await handle.describe()
            if not description.raw_description.pending_activities:
                return
            await asyncio.sleep(0.02)
        raise AssertionError("a check stayed under way")

    async def until(self, handle: WorkflowHandle, name: str, step: timedelta = DAY) -> None:
        """Skip ahead `step` at a time until the activity `name` has been tried."""
        for _ in range(60):
            if self.stand_ins.of(name):
                await self.settled(handle)
                return
            await self.env.fast_forward(handle, step)
            await asyncio.sleep(0.05)
        raise AssertionError(f"{name} never ran")

    def checks(self) -> list:
        return self.stand_ins.of("check_connection")

    async def attributes(self, handle: WorkflowHandle) -> tuple:
        """(ConnectionStatus, StuckReason) as ops see them, once the workflow has said one."""
        for _ in range(200):
            get = (await handle.describe()).typed_search_attributes.get
            status = get(search_attributes.CONNECTION_STATUS)
            if status is not None:
                return status, get(search_attributes.STUCK_REASON)
            await asyncio.sleep(0.02)
        raise AssertionError("no ConnectionStatus")


@pytest.fixture
def play(loop, workflow_env):
    """play(scenario): run `async scenario(case)` with the real workflow and the stand-ins."""
    workflows = [ConnectionWorkflow, ConnectionRequestWorkflow]  # a renewal is a child request
    return player(loop, workflow_env, workflows, StandIns.connection_request, Case)


def healthy(request_id: int = 5) -> Health:
    return Health(ConnectionState.HEALTHY, request_id, CHECKED)


def test_checks_come_at_their_interval_and_the_query_and_search_attribute_say_healthy(play):
    async def scenario(case: Case) -> None:
        handle = await case.start()
        assert await case.attributes(handle) == (ConnectionState.HEALTHY, None)
        status = await handle.query(ConnectionWorkflow.status)
        assert (status.status, status.checks, status.checked_at) == ("healthy", 0, None)
        first_due = status.next_check_at
        await case.checked(handle, 2)
        calls = [c for c in case.stand_ins.calls if c.name == "check_connection"]
        assert abs(calls[0].scheduled_at - first_due) < timedelta(seconds=5)
        assert abs(calls[1].scheduled_at - calls[0].scheduled_at - DAY) < timedelta(minutes=2)
        assert case.checks()[0].connection_id == case.connection_id
        status = await handle.query(ConnectionWorkflow.status)
        assert (status.status, status.checks) == ("healthy", 2)
        assert status.checked_at is not None
        assert case.stand_ins.names() == ["check_connection", "check_connection"]

    play(scenario)


def test_the_first_check_is_spread_over_the_first_interval(play):
    async def scenario(case: Case) -> None:
        dues = []
        for _ in range(4):
            handle = await case.start(first_check_after_seconds=None)
            started = (await handle.describe()).start_time
            due = (await handle.query(ConnectionWorkflow.status)).next_check_at
            assert timedelta(0) < due - started <= DAY
            dues.append(due - started)
            await handle.terminate()
        assert len({round(d.total_seconds()) for d in dues}) > 1  # not all at one moment

    play(scenario)


@pytest.mark.parametrize(
    ("ended", "notice"),
    [
        (ConnectionState.REVOKED, RequestNotice.REVOKED_BOOKKEEPER),
        (ConnectionState.LAPSED, RequestNotice.LAPSED_BOOKKEEPER),
    ],
)
def test_revoked_or_lapsed_ends_it_and_tells_the_bookkeeper_once(play, ended, notice):
    async def scenario(case: Case) -> None:
        case.stand_ins.script("check_connection", healthy(), Health(ended, 7, CHECKED))
        handle = await case.start(
            life=ConnectionLife(int(DAY.total_seconds()), authorization_lifetime_seconds=30 * 86400)
        )
        await case.env.fast_forward(handle, None)
        assert (await handle.result()).status == ended
        assert case.stand_ins.of("send_notice") == [NoticeInput(7, notice)]
        assert await case.attributes(handle) == (ended, None)
        assert (await handle.query(ConnectionWorkflow.status)).status == ended
        assert case.checks()[0].authorization_lifetime_seconds == 30 * 86400

    play(scenario)


def test_amazon_down_is_retried_quietly_and_the_next_check_tries_again(play):
    async def scenario(case: Case) -> None:
        case.stand_ins.script(
            "check_connection", failing_for(HEALTH_CHECK_DEADLINE + timedelta(minutes=1))
        )
        handle = await case.start()
        await case.checked(handle, 1)
        await case.env.fast_forward(handle, HEALTH_CHECK_DEADLINE + timedelta(minutes=2))
        await case.settled(handle)
        assert await case.attributes(handle) == (ConnectionState.HEALTHY, None)
        assert case.stand_ins.names() == ["check_connection"]  # no email, no alarm
        await case.checked(handle, 2)
        status = await handle.query(ConnectionWorkflow.status)
        assert (status.status, status.checks) == ("healthy", 2)

    play(scenario)


def test_amazon_refusing_the_app_flags_ops_until_a_check_passes(play):
    async def scenario(case: Case) -> None:
        reason = StuckReason.AMAZON_CREDENTIALS
        case.stand_ins.script("check_connection", refused("AppRefused", "refused", reason.value))
        handle = await case.start()
        await case.checked(handle, 1)
        assert await case.attributes(handle) == (ConnectionState.HEALTHY, reason)
        assert len(case.checks()) == 1  # not retried
        await case.checked(handle, 2)
        assert await case.attributes(handle) == (ConnectionState.HEALTHY, None)
        assert "send_notice" not in case.stand_ins.names()

    play(scenario)


def test_disconnect_tells_the_owner_and_ends_it(play):
    async def scenario(case: Case) -> None:
        handle = await case.start()
        await handle.signal(ConnectionWorkflow.disconnect, DisconnectRequest("Bea Keeper", 9))
        assert (await handle.result()).status == ConnectionState.DISCONNECTED
        assert case.stand_ins.of("send_notice") == [
            NoticeInput(9, RequestNotice.DISCONNECTED_OWNER)
        ]
        assert "check_connection" not in case.stand_ins.names()
        assert (await case.attributes(handle))[0] == ConnectionState.DISCONNECTED

    play(scenario)


def test_a_connection_found_gone_ends_without_emails(play):
    async def scenario(case: Case) -> None:
        case.stand_ins.script("check_connection", Health(ConnectionState.DISCONNECTED))
        handle = await case.start()
        await case.env.fast_forward(handle, None)
        assert (await handle.result()).status == ConnectionState.DISCONNECTED
        assert case.stand_ins.names() == ["check_connection"]

    play(scenario)


def test_it_starts_afresh_after_its_checks_per_run_so_its_history_stays_small(play):
    async def scenario(case: Case) -> None:
        handle = await case.start(checks_per_run=2)
        first_run = (await handle.describe()).run_id
        await case.checked(handle, 2)
        latest = case.env.client.get_workflow_handle(handle.id)
        for _ in range(100):
            description = await latest.describe()
            if description.run_id != first_run:
                break
            await asyncio.sleep(0.05)
        assert description.run_id != first_run
        assert description.status == WorkflowExecutionStatus.RUNNING
        status = await latest.query(ConnectionWorkflow.status)
        assert (status.status, status.checks) == ("healthy", 0)
        # The new run checks a whole interval after the last check, not at a random moment.
        last = [c for c in case.stand_ins.calls if c.name == "check_connection"][-1]
        assert abs(status.next_check_at - last.scheduled_at - DAY) < timedelta(minutes=2)

    play(scenario)


# A short life for the renewal tests: a 10-day authorization, renewal asked 3 days before its end
# with a reminder 1 day before, checked every 30 days (so only the renewal's own steps happen).
SHORT_LIFE = ConnectionLife(30 * 86400, 10 * 86400, [3 * 86400, 86400])


def test_renewal_is_asked_before_the_end_and_a_renewal_restarts_the_clock(play):
    async def scenario(case: Case) -> None:
        authorized = datetime.now(UTC)
        renewal_id = fresh("connection-request-renewal")
        case.stand_ins.script(
            "ask_renewal",
            RenewalAsked(
                11,
                ConnectionRequestInput(
                    11,
                    True,
                    "Acme Widgets Ltd",
                    "UK",
                    "Bea Keeper",
                    3 * 86400,
                    [2 * 86400],
                    renewal=True,
                ),
                renewal_id,
            ),
        )
        handle = await case.start(life=SHORT_LIFE, authorized_at=authorized)
        status = await handle.query(ConnectionWorkflow.status)
        assert status.renewal_at == authorized + timedelta(days=7)
        await case.until(handle, "ask_renewal")
        [asked] = case.stand_ins.calls_of("ask_renewal")
        assert asked.input == RenewalInput(
            case.connection_id, authorized + timedelta(days=10), [86400]
        )
        assert abs(asked.scheduled_at - (authorized + timedelta(days=7))) < timedelta(minutes=1)
        assert await case.attributes(handle) == (ConnectionState.RENEWAL_DUE, None)
        status = await handle.query(ConnectionWorkflow.status)
        assert status.status == ConnectionState.RENEWAL_DUE
        # Nobody renews: it looks again the moment the authorization ends.
        assert status.next_check_at == authorized + timedelta(days=10) + LAPSE_CHECK_MARGIN
        # The renewal request runs as its own workflow: the owner is emailed.
        [invited] = await case.stand_ins.wait_for("send_invitation")
        assert (invited.request_id, invited.reason) == (11, "sent")
        child = case.env.client.get_workflow_handle(renewal_id)
        assert (await child.describe()).status == WorkflowExecutionStatus.RUNNING
        # The seller renews: the clock restarts from the new authorization.
        renewed = authorized + timedelta(days=8)
        await handle.signal(ConnectionWorkflow.authorized, StoredConnection(1, 42, renewed))
        status = await handle.query(ConnectionWorkflow.status)
        assert status.status == ConnectionState.HEALTHY
        assert status.authorized_at == renewed
        assert status.renewal_at == renewed + timedelta(days=7)
        assert await case.attributes(handle) == (ConnectionState.HEALTHY, None)
        await child.terminate()

    play(scenario)


def test_an_authorization_nobody_renews_is_found_lapsed_when_it_ends(play):
    async def scenario(case: Case) -> None:
        authorized = datetime.now(UTC)
        case.stand_ins.script("ask_renewal", RenewalAsked(11))  # an open request serves
        case.stand_ins.script("check_connection", Health(ConnectionState.LAPSED, 11, CHECKED))
        month = 30 * 86400
        handle = await case.start(
            life=SHORT_LIFE, authorized_at=authorized, first_check_after_seconds=month
        )
        await case.env.fast_forward(handle, None)
        assert (await handle.result()).status == ConnectionState.LAPSED
        [check] = case.stand_ins.calls_of("check_connection")
        ends = authorized + timedelta(days=10)
        assert abs(check.scheduled_at - ends - LAPSE_CHECK_MARGIN) < timedelta(minutes=1)
        assert case.stand_ins.names() == ["ask_renewal", "check_connection", "send_notice"]
        assert case.stand_ins.of("send_notice") == [
            NoticeInput(11, RequestNotice.LAPSED_BOOKKEEPER)
        ]

    play(scenario)


def test_renewal_is_asked_once_per_authorization_across_continue_as_new(play):
    async def scenario(case: Case) -> None:
        authorized = datetime.now(UTC)
        daily = ConnectionLife(86400, 10 * 86400, [3 * 86400])
        case.stand_ins.script("ask_renewal", RenewalAsked(11))
        handle = await case.start(life=daily, authorized_at=authorized, checks_per_run=2)
        await case.checked(handle, 9)
        assert len(case.stand_ins.of("ask_renewal")) == 1
        latest = case.env.client.get_workflow_handle(handle.id)
        status = await latest.query(ConnectionWorkflow.status)
        assert (status.status, status.authorized_at) == (ConnectionState.RENEWAL_DUE, authorized)

    play(scenario)


def test_a_check_finding_the_connection_renewed_restarts_the_clock(play):
    async def scenario(case: Case) -> None:
        """The row knows of a renewal whose signal never reached this run (ops restarted it)."""
        authorized = datetime.now(UTC)
        renewed = authorized + timedelta(hours=5)
        case.stand_ins.script(
            "check_connection", Health(ConnectionState.HEALTHY, 12, CHECKED, renewed)
        )
        handle = await case.start(
            life=SHORT_LIFE, authorized_at=authorized, first_check_after_seconds=3600
        )
        await case.checked(handle, 1)
        status = await handle.query(ConnectionWorkflow.status)
        assert (status.authorized_at, status.renewal_at) == (
            renewed,
            renewed + timedelta(days=7),
        )

    play(scenario)
