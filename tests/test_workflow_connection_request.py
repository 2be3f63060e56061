"""ConnectionRequestWorkflow alone: the real workflow on a time-skipping dev server, every
activity a same-named stand-in (tests/workflow_stand_ins.py). Each test scripts the stand-ins'
answers, drives the workflow with signals, updates and fast-forwards, and checks what was
called, in what order, with what; the result; the status query; the search attributes."""

import asyncio
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError, WorkflowUpdateHandle
from temporalio.exceptions import ApplicationError, CancelledError

from tests.workflow_stand_ins import (
    DAY,
    StandIns,
    failing_for,
    failure,
    fresh,
    never_saved,
    player,
    refusal,
    refused,
    under_way,
)
from vocabulary import search_attributes
from vocabulary.messages import (
    AuthorizationOutcome,
    AuthorizationRef,
    AuthorizationSubmitted,
    CancelRequest,
    ChangeEmailInput,
    ChangeEmailRequest,
    Closed,
    CloseRequestInput,
    ConnectionRequestInput,
    EmailChange,
    EmailsSent,
    EventInput,
    ExchangeResult,
    InvitationInput,
    MarketplaceCheck,
    NoticeInput,
    OutcomeInput,
    RequestRef,
    ResendRequest,
    SellerProgress,
)
from vocabulary.policies import (
    CONFIRMATION_DEADLINE,
    EXCHANGE_DEADLINE,
    FLAG_AFTER_ATTEMPTS,
)
from vocabulary.statuses import OPERATIONS, OUTCOME_MESSAGES, Outcome, RequestState, StuckReason
from workflows.connection import ConnectionWorkflow
from workflows.connection_request import PROGRESS, ConnectionRequestWorkflow

pytest_plugins = ["tests.workflow_stand_ins"]

BOOKKEEPER = "bookkeeper@books.test"
SELLER = "seller"  # the actor of the seller's own steps


@dataclass
class Case:
    """One test's workflow: its stand-ins, its own task queue and workflow id."""

    env: object
    stand_ins: StandIns
    task_queue: str
    request_id: int

    async def start(self, **overrides) -> WorkflowHandle:
        fields = dict(
            request_id=self.request_id,
            send_invite=True,
            account_name="Acme Widgets Ltd",
            marketplace="UK",
            requested_by=BOOKKEEPER,
            expires_after_seconds=int((3 * DAY).total_seconds()),
            reminder_offsets_seconds=[int(DAY.total_seconds()), int((2 * DAY).total_seconds())],
            reminder_pause_seconds=int(DAY.total_seconds()),
            seller_email_domain="shop.test",
        )
        fields.update(overrides)
        return await self.env.client.start_workflow(
            ConnectionRequestWorkflow.run,
            ConnectionRequestInput(**fields),
            id=fresh("connection-request"),
            task_queue=self.task_queue,
        )

    async def status(self, handle: WorkflowHandle):
        return await handle.query(ConnectionRequestWorkflow.status)

    async def attributes(self, handle: WorkflowHandle) -> tuple:
        """(OnboardingStatus, SellerEmailDomain, StuckReason) as ops see them."""
        description = await handle.describe()
        get = description.typed_search_attributes.get
        return (
            get(search_attributes.ONBOARDING_STATUS),
            get(search_attributes.SELLER_EMAIL_DOMAIN),
            get(search_attributes.STUCK_REASON),
        )

    async def start_invited(self, **overrides) -> WorkflowHandle:
        """start(), then wait until the invitation is out (see invited)."""
        handle = await self.start(**overrides)
        await self.invited(handle)
        return handle

    async def submitting(
        self, handle: WorkflowHandle, authorization_id: int
    ) -> WorkflowUpdateHandle:
        """An authorization the workflow has accepted and is handling."""
        return await under_way(
            handle,
            ConnectionRequestWorkflow.submit_authorization,
            AuthorizationSubmitted(authorization_id),
        )

    async def seller(self, handle: WorkflowHandle, step: Callable) -> EventInput:
        """Signal one of the seller's steps (seller_opened, consent_started); wait until the
        workflow has recorded it, and return what it recorded."""
        before = len(self.stand_ins.of("record_event"))
        await handle.signal(step, SellerProgress(SELLER))
        return (await self.stand_ins.wait_for("record_event", before + 1))[-1]

    async def connect(self, handle: WorkflowHandle, authorization_id: int) -> None:
        """Submit an authorization Amazon accepts: it connects, and the workflow ends so."""
        assert (await self.submit(handle, authorization_id)).outcome == RequestState.CONNECTED
        assert (await handle.result()).status == RequestState.CONNECTED

    async def held_at(self, name: str, authorization_id: int, answer: Any = None) -> tuple:
        """Start, submit an authorization, and return once its handling waits in the activity
        `name`, held: (the workflow's handle, the authorization's update, the Held answer)."""
        held = self.stand_ins.hold_next(name, answer)
        handle = await self.start_invited()
        update = await self.submitting(handle, authorization_id)
        await held.started.wait()
        return handle, update, held

    async def submit(self, handle: WorkflowHandle, authorization_id: int) -> AuthorizationOutcome:
        return await handle.execute_update(
            ConnectionRequestWorkflow.submit_authorization,
            AuthorizationSubmitted(authorization_id),
        )

    async def invited(self, handle: WorkflowHandle) -> list[InvitationInput]:
        """Wait until the invitation went out and the workflow waits for the seller (it has
        published its status): an ops cancel must not race the email still in flight."""
        invitations = await self.stand_ins.wait_for("send_invitation")
        await _until(lambda: self.onboarding_status(handle), RequestState.SENT)
        return invitations

    async def onboarding_status(self, handle: WorkflowHandle) -> str | None:
        return (await self.attributes(handle))[0]


@pytest.fixture
def play(loop, workflow_env):
    """play(scenario): run `async scenario(case)` with the real workflow and the stand-ins."""
    workflows = [ConnectionRequestWorkflow, ConnectionWorkflow]  # it starts the connection's
    return player(loop, workflow_env, workflows, StandIns.connection_request, Case)


def seller_event(case: Case, state: RequestState) -> EventInput:
    """The timeline line the seller's progress to `state` adds."""
    return EventInput(case.request_id, state, SELLER, PROGRESS[state], state)


# The notices of a request whose seller first used the wrong account, then the right one.
WRONG_ACCOUNT_THEN_CONNECTED = [
    "wrong_account_bookkeeper",
    "connected_bookkeeper",
    "connected_seller",
]


def answered(outcome: str) -> AuthorizationOutcome:
    """What the seller's page is told for `outcome`."""
    return AuthorizationOutcome(outcome, OUTCOME_MESSAGES[outcome])


def recorded(authorization_id: int, outcome: str) -> OutcomeInput:
    """What record_outcome is given for `outcome` of that authorization."""
    return OutcomeInput(authorization_id, outcome, OUTCOME_MESSAGES[outcome])


def notices(stand_ins: StandIns) -> list[str]:
    return [n.notice for n in stand_ins.of("send_notice")]


def close(request_id: int, status: str, detail: str, actor: str) -> CloseRequestInput:
    return CloseRequestInput(request_id, status, detail, actor)


def withdrawn_by_operations(request_id: int) -> CloseRequestInput:
    """How an ops cancellation in Temporal closes the request."""
    return close(
        request_id,
        RequestState.CANCELLED,
        "Withdrawn by operations (cancelled in Temporal).",
        OPERATIONS,
    )


# ---- invitation, reminders, expiry ------------------------------------------------------------


def test_invitation_is_sent_and_the_status_query_and_search_attributes_say_so(play):
    async def scenario(case: Case) -> None:
        handle = await case.start()
        [invitation] = await case.invited(handle)
        status = await case.status(handle)
        sent_at = status.expires_at - 3 * DAY
        assert invitation == InvitationInput(
            request_id=case.request_id,
            reason="sent",
            actor=BOOKKEEPER,
            expires_at=status.expires_at,
            supersede_links=False,
            reminder_number=0,
            reminders_total=2,
        )
        assert (status.status, status.reminders_sent, status.reminders_total) == (
            RequestState.SENT,
            0,
            2,
        )
        assert (status.last_reminder_at, status.consent_started_at) == (None, None)
        assert status.open and status.request_id == case.request_id
        assert abs(case.stand_ins.calls[0].scheduled_at - sent_at) < timedelta(seconds=5)
        assert await case.attributes(handle) == (RequestState.SENT, "shop.test", None)
        assert case.stand_ins.names() == ["confirm_request_saved", "send_invitation"]
        assert case.stand_ins.of("confirm_request_saved") == [RequestRef(case.request_id)]

    play(scenario)


def test_reminders_go_out_at_their_offsets_then_the_link_expires_and_the_bookkeeper_is_told(play):
    async def scenario(case: Case) -> None:
        handle = await case.start_invited()
        sent_at = (await case.status(handle)).expires_at - 3 * DAY
        # A seller who only looked at the page is reminded like one who did not.
        await case.seller(handle, ConnectionRequestWorkflow.seller_opened)
        assert (await case.status(handle)).status == RequestState.OPENED

        assert await case.env.fast_forward(handle, DAY + timedelta(minutes=1))
        status = await case.status(handle)
        assert (status.status, status.reminders_sent) == (RequestState.REMINDED, 1)
        assert abs(status.last_reminder_at - (sent_at + DAY)) < timedelta(seconds=5)
        assert (await case.attributes(handle))[0] == RequestState.REMINDED

        await case.env.fast_forward(handle, None)  # to the end: reminder 2, then expiry
        assert (await handle.result()).status == RequestState.EXPIRED

        invitations = case.stand_ins.of("send_invitation")
        assert [(i.reason, i.reminder_number) for i in invitations] == [
            ("sent", 0),
            ("reminder", 1),
            ("reminder", 2),
        ]
        assert all(i.expires_at == sent_at + 3 * DAY and not i.supersede_links for i in invitations)
        times = [c.scheduled_at - sent_at for c in case.stand_ins.calls]
        names = case.stand_ins.names()
        assert names == [
            "confirm_request_saved",
            "send_invitation",
            "record_event",
            "send_invitation",
            "send_invitation",
            "close_request",
            "send_notice",
        ]
        for got, want in zip(times[3:6], [DAY, 2 * DAY, 3 * DAY], strict=True):
            assert abs(got - want) < timedelta(seconds=5), (got, want)
        assert case.stand_ins.of("close_request") == [
            close(case.request_id, RequestState.EXPIRED, "The link expired unused.", "system")
        ]
        assert case.stand_ins.of("send_notice") == [
            NoticeInput(case.request_id, "expired_bookkeeper")
        ]
        status = await case.status(handle)
        assert (status.status, status.reminders_sent, status.open) == (
            RequestState.EXPIRED,
            2,
            False,
        )
        assert await case.attributes(handle) == (RequestState.EXPIRED, "shop.test", None)

    play(scenario)


def test_no_reminder_falls_on_or_after_the_deadline(play):
    async def scenario(case: Case) -> None:
        handle = await case.start(
            expires_after_seconds=int(DAY.total_seconds()),
            reminder_offsets_seconds=[int(DAY.total_seconds())],
        )
        await case.invited(handle)
        await case.env.fast_forward(handle, None)
        assert (await handle.result()).status == RequestState.EXPIRED
        assert [i.reason for i in case.stand_ins.of("send_invitation")] == ["sent"]
        assert notices(case.stand_ins) == ["expired_bookkeeper"]

    play(scenario)


def test_seller_progress_is_recorded_once_and_pauses_reminders_while_at_amazon(play):
    async def scenario(case: Case) -> None:
        # Reminders due at 1 and 3 days; the seller goes to Amazon at once, so reminder 1
        # waits until the 2-day pause is over; reminder 2 keeps its time; expiry at 4 days.
        handle = await case.start(
            expires_after_seconds=int((4 * DAY).total_seconds()),
            reminder_offsets_seconds=[int(DAY.total_seconds()), int((3 * DAY).total_seconds())],
            reminder_pause_seconds=int((2 * DAY).total_seconds()),
        )
        await case.invited(handle)
        sent_at = (await case.status(handle)).expires_at - 4 * DAY

        await handle.signal(ConnectionRequestWorkflow.seller_opened, SellerProgress(SELLER))
        await handle.signal(ConnectionRequestWorkflow.seller_opened, SellerProgress(SELLER))
        [opened] = await case.stand_ins.wait_for("record_event")
        assert opened == seller_event(case, RequestState.OPENED)
        status = await case.status(handle)
        assert status.status == RequestState.OPENED
        assert (await case.attributes(handle))[0] == RequestState.OPENED

        assert await case.seller(handle, ConnectionRequestWorkflow.consent_started) == seller_event(
            case, RequestState.CONSENT_STARTED
        )
        status = await case.status(handle)
        assert status.status == RequestState.CONSENT_STARTED
        assert status.consent_started_at is not None
        assert (await case.attributes(handle))[0] == RequestState.CONSENT_STARTED
        paused_from = status.consent_started_at - sent_at

        assert await case.env.fast_forward(handle, 3 * DAY + timedelta(minutes=1))
        await case.stand_ins.wait_for("send_invitation", 3)
        reminders = [c for c in case.stand_ins.calls if c.name == "send_invitation"][1:]
        assert [c.input.reminder_number for c in reminders] == [1, 2]
        got = [c.scheduled_at - sent_at for c in reminders]
        for at, want in zip(got, [paused_from + 2 * DAY, 3 * DAY], strict=True):
            assert abs(at - want) < timedelta(seconds=5), (at, want)
        assert len(case.stand_ins.of("record_event")) == 2  # opened once, despite two signals
        # A seller part-way through keeps that status when reminded.
        status = await case.status(handle)
        assert (status.status, status.reminders_sent) == (RequestState.CONSENT_STARTED, 2)
        assert abs(status.last_reminder_at - (sent_at + 3 * DAY)) < timedelta(seconds=5)

    play(scenario)


# ---- resend and change of email ---------------------------------------------------------------


def test_resend_sends_a_fresh_link_and_restarts_reminders_and_expiry(play):
    async def scenario(case: Case) -> None:
        handle = await case.start_invited()
        await case.seller(handle, ConnectionRequestWorkflow.consent_started)
        # The pause (1 day) moves reminder 1 to just after a day; let it go out.
        await case.env.fast_forward(handle, DAY + timedelta(minutes=1))
        await case.stand_ins.wait_for("send_invitation", 2)
        before = await case.status(handle)
        assert before.reminders_sent == 1

        status = await handle.execute_update(
            ConnectionRequestWorkflow.resend, ResendRequest(BOOKKEEPER)
        )
        assert (status.status, status.reminders_sent, status.consent_started_at) == (
            RequestState.SENT,
            0,
            None,
        )
        assert status.expires_at > before.expires_at + DAY  # the clock started again
        resent = case.stand_ins.of("send_invitation")[-1]
        assert (resent.reason, resent.actor, resent.supersede_links) == ("resent", BOOKKEEPER, True)
        assert (await case.attributes(handle))[0] == RequestState.SENT

        # Reminder 1 is again a day after the new link.
        assert await case.env.fast_forward(handle, DAY + timedelta(minutes=1))
        await case.stand_ins.wait_for("send_invitation", 4)
        reasons = [(i.reason, i.reminder_number) for i in case.stand_ins.of("send_invitation")]
        assert reasons == [("sent", 0), ("reminder", 1), ("resent", 0), ("reminder", 1)]
        resent_at = status.expires_at - 3 * DAY
        last = [c for c in case.stand_ins.calls if c.name == "send_invitation"][-1]
        assert abs(last.scheduled_at - (resent_at + DAY)) < timedelta(seconds=5)
        assert (await case.status(handle)).reminders_sent == 1

    play(scenario)


def test_a_fresh_link_is_emailed_with_the_new_deadline(play):
    async def scenario(case: Case) -> None:
        handle = await case.start_invited()
        await case.env.fast_forward(handle, DAY + timedelta(minutes=1))
        await case.stand_ins.wait_for("send_invitation", 2)
        for update, arg in (
            (ConnectionRequestWorkflow.resend, ResendRequest(BOOKKEEPER)),
            (ConnectionRequestWorkflow.change_email, ChangeEmailRequest("n@shop.test", "b")),
        ):
            status = await handle.execute_update(update, arg)
            fresh_link = case.stand_ins.of("send_invitation")[-1]
            assert fresh_link.supersede_links
            assert fresh_link.expires_at == status.expires_at

    play(scenario)


def test_change_of_email_sends_to_the_new_address_and_updates_the_domain(play):
    async def scenario(case: Case) -> None:
        handle = await case.start_invited()
        await case.seller(handle, ConnectionRequestWorkflow.seller_opened)

        status = await handle.execute_update(
            ConnectionRequestWorkflow.change_email,
            ChangeEmailRequest("Owner@NewShop.TEST", BOOKKEEPER),
        )
        assert (status.status, status.reminders_sent) == (RequestState.SENT, 0)
        assert case.stand_ins.of("change_client_email") == [
            ChangeEmailInput(case.request_id, "Owner@NewShop.TEST", BOOKKEEPER)
        ]
        sent = case.stand_ins.of("send_invitation")[-1]
        assert (sent.reason, sent.supersede_links) == ("email_changed", True)
        assert await case.attributes(handle) == (RequestState.SENT, "newshop.test", None)
        assert case.stand_ins.names()[-2:] == ["change_client_email", "send_invitation"]

        # The same address again is a plain resend.
        case.stand_ins.script("change_client_email", EmailChange(changed=False))
        await handle.execute_update(
            ConnectionRequestWorkflow.change_email,
            ChangeEmailRequest("owner@newshop.test", BOOKKEEPER),
        )
        assert case.stand_ins.of("send_invitation")[-1].reason == "resent"

        # Not an address: refused before anything is done.
        calls = len(case.stand_ins.calls)
        for bad in ("no-at-sign", "a@b.test\r\nBcc: x@y.test", "a@b.test, c@d.test"):
            assert "not an email address" in await refusal(
                handle, ConnectionRequestWorkflow.change_email, ChangeEmailRequest(bad, BOOKKEEPER)
            )
        assert len(case.stand_ins.calls) == calls

    play(scenario)


# ---- withdrawal -------------------------------------------------------------------------------


def test_withdraw_update_closes_the_request_and_answers_with_its_status(play):
    async def scenario(case: Case) -> None:
        handle = await case.start_invited()
        status = await handle.execute_update(
            ConnectionRequestWorkflow.withdraw, CancelRequest(BOOKKEEPER)
        )
        assert (status.status, status.open) == (RequestState.CANCELLED, False)
        assert (await handle.result()).status == RequestState.CANCELLED
        assert case.stand_ins.of("close_request") == [
            close(case.request_id, RequestState.CANCELLED, "Withdrawn.", BOOKKEEPER)
        ]
        assert case.stand_ins.names()[-1] == "close_request"  # no notice: the bookkeeper did it
        assert (await case.attributes(handle))[0] == RequestState.CANCELLED

    play(scenario)


def test_cancel_signal_closes_the_request(play):
    async def scenario(case: Case) -> None:
        handle = await case.start_invited()
        await handle.signal(ConnectionRequestWorkflow.cancel, CancelRequest(BOOKKEEPER))
        assert (await handle.result()).status == RequestState.CANCELLED
        assert case.stand_ins.of("close_request") == [
            close(case.request_id, RequestState.CANCELLED, "Withdrawn.", BOOKKEEPER)
        ]
        assert notices(case.stand_ins) == []
        assert (await case.status(handle)).open is False

    play(scenario)


def test_resend_and_authorizations_are_refused_once_withdrawn(play):
    async def scenario(case: Case) -> None:
        # Hold the close so the workflow is still running, with the withdrawal under way.
        held = case.stand_ins.hold_next("close_request", Closed(RequestState.CANCELLED))
        handle = await case.start_invited()
        await handle.signal(ConnectionRequestWorkflow.cancel, CancelRequest(BOOKKEEPER))
        await held.started.wait()
        for update, arg, reason in (
            (ConnectionRequestWorkflow.resend, ResendRequest(BOOKKEEPER), "no longer waiting"),
            (
                ConnectionRequestWorkflow.change_email,
                ChangeEmailRequest("n@shop.test", BOOKKEEPER),
                "no longer waiting",
            ),
            (ConnectionRequestWorkflow.submit_authorization, AuthorizationSubmitted(5), "closed"),
            (ConnectionRequestWorkflow.withdraw, CancelRequest(BOOKKEEPER), "already closed"),
        ):
            assert reason in await refusal(handle, update, arg)
        held.release()
        assert (await handle.result()).status == RequestState.CANCELLED
        assert "exchange_authorization_code" not in case.stand_ins.names()

    play(scenario)


def test_ops_cancellation_closes_as_withdrawn_by_operations_and_tells_the_bookkeeper(play):
    async def scenario(case: Case) -> None:
        handle = await case.start_invited()
        await handle.cancel()
        assert isinstance(await failure(handle), CancelledError)
        assert case.stand_ins.of("close_request") == [withdrawn_by_operations(case.request_id)]
        assert notices(case.stand_ins) == ["withdrawn_by_operations"]
        assert (await case.attributes(handle))[0] == RequestState.CANCELLED

    play(scenario)


def test_ops_cancellation_while_amazons_answer_is_handled_answers_it_as_withdrawn(play):
    async def scenario(case: Case) -> None:
        handle, update, held = await case.held_at("check_marketplace", 21)
        await handle.cancel()
        outcome = await update.result()
        assert outcome == answered(Outcome.CLOSED)
        await failure(handle)
        assert case.stand_ins.of("record_outcome") == [recorded(21, Outcome.CLOSED)]
        assert "store_connection" not in case.stand_ins.names()
        assert notices(case.stand_ins) == ["withdrawn_by_operations"]
        held.release()

    play(scenario)


def test_ops_cancellation_after_the_connection_was_stored_confirms_it(play):
    async def scenario(case: Case) -> None:
        # The row says connected: the store won the race with ops' close.
        case.stand_ins.script("close_request", Closed(RequestState.CONNECTED))
        handle, update, held = await case.held_at("store_connection", 22)
        await handle.cancel()
        assert (await update.result()).outcome == RequestState.CONNECTED
        assert (await handle.result()).status == RequestState.CONNECTED
        assert notices(case.stand_ins) == ["connected_bookkeeper", "connected_seller"]
        assert "record_outcome" not in case.stand_ins.names()
        assert (await case.attributes(handle))[0] == RequestState.CONNECTED
        held.release()

    play(scenario)


@pytest.mark.parametrize(
    ("check", "final"),
    [
        (MarketplaceCheck(True, "Acme"), RequestState.CONNECTED),
        (MarketplaceCheck(False, "Other"), RequestState.CANCELLED),
    ],
)
def test_withdraw_while_amazons_answer_is_handled_answers_once_it_is_done(play, check, final):
    async def scenario(case: Case) -> None:
        handle, submitted, held = await case.held_at("check_marketplace", 23, check)
        withdrawing = await under_way(
            handle, ConnectionRequestWorkflow.withdraw, CancelRequest(BOOKKEEPER)
        )
        held.release()
        # A connection under way wins; a refused one leaves the withdrawal to close it.
        assert (await withdrawing.result()).status == final
        assert (await handle.result()).status == final
        assert (await submitted.result()).outcome == (
            RequestState.CONNECTED if final == RequestState.CONNECTED else Outcome.WRONG_ACCOUNT
        )
        closes = case.stand_ins.of("close_request")
        if final == RequestState.CONNECTED:
            assert closes == []
            assert notices(case.stand_ins) == ["connected_bookkeeper", "connected_seller"]
        else:
            assert closes == [
                close(case.request_id, RequestState.CANCELLED, "Withdrawn.", BOOKKEEPER)
            ]
            assert "store_connection" not in case.stand_ins.names()
            assert notices(case.stand_ins) == ["wrong_account_bookkeeper"]

    play(scenario)


# ---- Amazon's answer --------------------------------------------------------------------------


def test_connected_stores_the_connection_and_tells_bookkeeper_and_seller(play):
    async def scenario(case: Case) -> None:
        handle = await case.start_invited()
        await case.seller(handle, ConnectionRequestWorkflow.consent_started)
        outcome = await case.submit(handle, 31)
        assert outcome == answered(RequestState.CONNECTED)
        assert (await handle.result()).status == RequestState.CONNECTED
        ref = AuthorizationRef(31)
        assert case.stand_ins.names()[3:] == [
            "exchange_authorization_code",
            "check_marketplace",
            "store_connection",
            "send_notice",
            "send_notice",
        ]
        assert case.stand_ins.of("exchange_authorization_code") == [ref]
        assert case.stand_ins.of("check_marketplace") == [ref]
        assert case.stand_ins.of("store_connection") == [ref]
        assert case.stand_ins.of("send_notice") == [
            NoticeInput(case.request_id, "connected_bookkeeper"),
            NoticeInput(case.request_id, "connected_seller"),
        ]
        status = await case.status(handle)
        assert (status.status, status.open) == (RequestState.CONNECTED, False)
        assert await case.attributes(handle) == (RequestState.CONNECTED, "shop.test", None)

    play(scenario)


def test_direct_connection_by_a_member_tells_the_inviter_not_a_seller(play):
    async def scenario(case: Case) -> None:
        handle = await case.start(send_invite=False, requested_by="member@books.test")
        [event] = await case.stand_ins.wait_for("record_event")
        assert event == EventInput(
            case.request_id,
            "direct_started",
            "member@books.test",
            PROGRESS["direct_started"],
            RequestState.CONSENT_STARTED,
        )
        status = await case.status(handle)
        assert (
            status.status == RequestState.CONSENT_STARTED and status.consent_started_at is not None
        )
        # A direct connection has no invitation to resend.
        assert "no invitation" in await refusal(
            handle, ConnectionRequestWorkflow.resend, ResendRequest("m")
        )
        # A wrong account is not emailed to anybody: the member sees the page.
        case.stand_ins.script("check_marketplace", MarketplaceCheck(False, "Other"))
        assert (await case.submit(handle, 41)).outcome == Outcome.WRONG_ACCOUNT
        await case.connect(handle, 42)
        assert "send_invitation" not in case.stand_ins.names()
        assert notices(case.stand_ins) == ["connected_bookkeeper", "connected_inviter"]

    play(scenario)


def test_direct_connection_expires_without_a_notice(play):
    async def scenario(case: Case) -> None:
        handle = await case.start(send_invite=False, reminder_offsets_seconds=[])
        await case.stand_ins.wait_for("record_event")
        await case.env.fast_forward(handle, None)
        assert (await handle.result()).status == RequestState.EXPIRED
        assert notices(case.stand_ins) == []
        assert case.stand_ins.names()[-1] == "close_request"

    play(scenario)


@pytest.mark.parametrize(
    ("failure", "outcome"),
    [
        (refused("AmazonRefused", "invalid_grant"), Outcome.CODE_EXPIRED),
        (refused("LinkReplaced"), Outcome.LINK_REPLACED),
        (refused("SomethingElse"), Outcome.AMAZON_UNAVAILABLE),
    ],
)
def test_amazon_refusals_leave_the_request_open_for_another_try(play, failure, outcome):
    async def scenario(case: Case) -> None:
        case.stand_ins.script("exchange_authorization_code", failure)
        handle = await case.start_invited()
        assert await case.submit(handle, 51) == answered(outcome)
        assert case.stand_ins.of("record_outcome") == [recorded(51, outcome)]
        assert "check_marketplace" not in case.stand_ins.names()
        status = await case.status(handle)
        assert status.open and status.status == RequestState.SENT
        assert notices(case.stand_ins) == []
        # The seller tries again, and this time it works.
        await case.connect(handle, 52)

    play(scenario)


@pytest.mark.parametrize("step", ["exchange_authorization_code", "check_marketplace"])
@pytest.mark.parametrize("reason", list(StuckReason)[1:])
def test_amazon_refusing_the_app_tells_the_bookkeeper_once_flags_ops_and_stays_open(
    play, step, reason
):
    async def scenario(case: Case) -> None:
        app_refused = refused("AppRefused", "Amazon refused the app", reason.value)
        case.stand_ins.script(step, app_refused, app_refused)
        handle = await case.start_invited()
        assert await case.submit(handle, 54) == answered(Outcome.APP_REFUSED)
        assert (await case.attributes(handle))[2] == reason
        # The seller tries again before ops fixed it: no second email, still flagged.
        assert await case.submit(handle, 55) == answered(Outcome.APP_REFUSED)
        assert len(case.stand_ins.of(step)) == 2  # each tried once: nothing retries
        assert notices(case.stand_ins) == ["app_refused_bookkeeper"]
        assert case.stand_ins.of("record_outcome") == [
            recorded(54, Outcome.APP_REFUSED),
            recorded(55, Outcome.APP_REFUSED),
        ]
        status = await case.status(handle)
        assert status.open and status.status == RequestState.SENT
        # Fixed: the next try connects and ops' flag is gone.
        await case.connect(handle, 56)
        assert (await case.attributes(handle))[2] is None

    play(scenario)


def test_amazon_refusing_the_app_is_unflagged_when_the_request_closes(play):
    async def scenario(case: Case) -> None:
        app_refused = refused("AppRefused", "refused", StuckReason.AMAZON_CREDENTIALS.value)
        case.stand_ins.script("exchange_authorization_code", app_refused)
        handle = await case.start_invited()
        await case.submit(handle, 57)
        assert (await case.attributes(handle))[2] == StuckReason.AMAZON_CREDENTIALS
        await case.env.fast_forward(handle, None)
        assert (await handle.result()).status == RequestState.EXPIRED
        assert (await case.attributes(handle))[2] is None

    play(scenario)


def test_a_member_connecting_directly_is_not_emailed_when_amazon_refuses_the_app(play):
    async def scenario(case: Case) -> None:
        app_refused = refused("AppRefused", "refused", StuckReason.AMAZON_ROLE_MISSING.value)
        case.stand_ins.script("check_marketplace", app_refused)
        handle = await case.start(send_invite=False)
        assert (await case.submit(handle, 58)).outcome == Outcome.APP_REFUSED
        assert notices(case.stand_ins) == []
        assert (await case.attributes(handle))[2] == StuckReason.AMAZON_ROLE_MISSING

    play(scenario)


def test_amazon_not_answering_until_the_exchange_deadline_is_amazon_unavailable(play):
    async def scenario(case: Case) -> None:
        case.stand_ins.script(
            "exchange_authorization_code", failing_for(EXCHANGE_DEADLINE + timedelta(minutes=1))
        )
        handle = await case.start_invited()
        update = await case.submitting(handle, 53)
        await case.stand_ins.wait_for("exchange_authorization_code")
        await case.env.fast_forward(handle, EXCHANGE_DEADLINE + timedelta(minutes=2))
        assert (await update.result()).outcome == Outcome.AMAZON_UNAVAILABLE
        assert len(case.stand_ins.of("exchange_authorization_code")) == 1
        assert case.stand_ins.of("record_outcome") == [recorded(53, Outcome.AMAZON_UNAVAILABLE)]
        assert (await case.status(handle)).open

    play(scenario)


def test_wrong_account_twice_tells_the_bookkeeper_once(play):
    async def scenario(case: Case) -> None:
        wrong = MarketplaceCheck(False, "Elsewhere Ltd")
        case.stand_ins.script("check_marketplace", wrong, wrong)
        handle = await case.start_invited()
        expected = answered(Outcome.WRONG_ACCOUNT)
        assert await case.submit(handle, 61) == expected
        # A replayed callback gets the same answer, and nothing is done twice.
        assert await case.submit(handle, 61) == expected
        assert await case.submit(handle, 62) == expected
        assert case.stand_ins.of("record_outcome") == [
            recorded(61, Outcome.WRONG_ACCOUNT),
            recorded(62, Outcome.WRONG_ACCOUNT),
        ]
        assert case.stand_ins.of("send_notice") == [
            NoticeInput(case.request_id, "wrong_account_bookkeeper")
        ]
        assert "store_connection" not in case.stand_ins.names()
        assert (await case.status(handle)).open
        await case.connect(handle, 63)
        assert notices(case.stand_ins) == WRONG_ACCOUNT_THEN_CONNECTED

    play(scenario)


def test_another_seller_than_the_one_connected_before_stores_nothing_and_may_try_again(play):
    async def scenario(case: Case) -> None:
        other = MarketplaceCheck(False, "", expected_seller="A1CONNECTEDBEFORE")
        case.stand_ins.script("check_marketplace", other)
        handle = await case.start_invited()
        assert await case.submit(handle, 66) == answered(Outcome.OTHER_SELLER)
        assert case.stand_ins.of("record_outcome") == [recorded(66, Outcome.OTHER_SELLER)]
        assert "store_connection" not in case.stand_ins.names()
        assert notices(case.stand_ins) == []
        assert (await case.status(handle)).open
        await case.connect(handle, 67)

    play(scenario)


def test_wrong_account_notice_that_cannot_be_sent_does_not_stop_the_request(play):
    async def scenario(case: Case) -> None:
        case.stand_ins.script("check_marketplace", MarketplaceCheck(False, "Elsewhere Ltd"))
        case.stand_ins.script("send_notice", refused("EmailRejected"))
        handle = await case.start_invited()
        assert (await case.submit(handle, 64)).outcome == Outcome.WRONG_ACCOUNT
        await case.connect(handle, 65)
        assert notices(case.stand_ins) == WRONG_ACCOUNT_THEN_CONNECTED

    play(scenario)


def test_request_closed_meanwhile_stores_nothing_and_answers_withdrawn(play):
    async def scenario(case: Case) -> None:
        case.stand_ins.script("store_connection", refused("RequestClosed"))
        handle = await case.start_invited()
        outcome = await case.submit(handle, 71)
        assert outcome == answered(Outcome.CLOSED)
        assert case.stand_ins.of("record_outcome") == [recorded(71, Outcome.CLOSED)]
        assert notices(case.stand_ins) == []
        assert "remove_connection" not in case.stand_ins.names()

    play(scenario)


def test_a_second_authorization_while_one_is_handled_is_refused(play):
    async def scenario(case: Case) -> None:
        handle, first, held = await case.held_at("exchange_authorization_code", 81)
        assert "Another authorization" in await refusal(
            handle, ConnectionRequestWorkflow.submit_authorization, AuthorizationSubmitted(82)
        )
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(ConnectionRequestWorkflow.resend, ResendRequest("b"))
        held.answer = ExchangeResult("A1")
        held.release()
        assert (await first.result()).outcome == RequestState.CONNECTED
        assert case.stand_ins.of("exchange_authorization_code") == [AuthorizationRef(81)]

    play(scenario)


# ---- email trouble and compensation ------------------------------------------------------------


def test_confirmation_refused_for_good_undoes_the_connection(play):
    async def scenario(case: Case) -> None:
        case.stand_ins.script("send_notice", None, refused("EmailRejected"))
        handle = await case.start_invited()
        assert (await case.submit(handle, 91)).outcome == RequestState.CONNECTED
        assert (await handle.result()).status == RequestState.FAILED
        assert case.stand_ins.names()[-5:] == [
            "send_notice",
            "send_notice",
            "remove_connection",
            "close_request",
            "send_notice",
        ]
        assert case.stand_ins.of("remove_connection") == [RequestRef(case.request_id)]
        assert case.stand_ins.of("close_request") == [
            close(
                case.request_id,
                RequestState.FAILED,
                "The confirmation emails could not be sent.",
                "system",
            )
        ]
        assert notices(case.stand_ins) == [
            "connected_bookkeeper",
            "connected_seller",
            "failed_bookkeeper",
        ]
        assert (await case.status(handle)).status == RequestState.FAILED
        assert (await case.attributes(handle))[0] == RequestState.FAILED

    play(scenario)


def test_confirmation_failing_past_its_deadline_undoes_the_connection(play):
    async def scenario(case: Case) -> None:
        # The mail server keeps failing: FLAG_AFTER_ATTEMPTS quick tries, then one more that
        # would come only after the deadline.
        failing = [failing_for(timedelta(seconds=2))] * FLAG_AFTER_ATTEMPTS
        case.stand_ins.script(
            "send_notice", *failing, failing_for(CONFIRMATION_DEADLINE + timedelta(hours=1))
        )
        handle = await case.start_invited()
        update = await case.submitting(handle, 92)
        await case.env.fast_forward(handle, None)
        assert (await update.result()).outcome == RequestState.CONNECTED
        assert (await handle.result()).status == RequestState.FAILED
        assert notices(case.stand_ins) == ["connected_bookkeeper"] * (FLAG_AFTER_ATTEMPTS + 1) + [
            "failed_bookkeeper"
        ]
        assert case.stand_ins.of("remove_connection") == [RequestRef(case.request_id)]
        assert await case.attributes(handle) == (RequestState.FAILED, "shop.test", None)

    play(scenario)


def test_email_failing_sets_stuck_reason_after_some_tries_and_clears_it_once_sent(play):
    async def scenario(case: Case) -> None:
        seen_while_trying = []

        async def sent_at_last(invitation: InvitationInput) -> EmailsSent:
            seen_while_trying.append(await case.attributes(handle))
            return EmailsSent(["s@example.test"])

        failing = [failing_for(timedelta(seconds=2))] * FLAG_AFTER_ATTEMPTS
        case.stand_ins.script("send_invitation", *failing, sent_at_last)
        handle = await case.start()
        await case.stand_ins.wait_for("send_invitation")
        assert (await case.attributes(handle))[2] is None
        # Skip the retries' waits (2 s each here); the try after them (the 6th) gets through.
        assert await case.env.fast_forward(handle, timedelta(seconds=40))
        await case.stand_ins.wait_for("send_invitation", FLAG_AFTER_ATTEMPTS + 1)
        assert seen_while_trying == [(None, None, "email_failing")]
        await _until(lambda: case.attributes(handle), (RequestState.SENT, "shop.test", None))
        attempts = [c.attempt for c in case.stand_ins.calls if c.name == "send_invitation"]
        assert attempts == [*range(1, FLAG_AFTER_ATTEMPTS + 1), 1]
        assert len({repr(i) for i in case.stand_ins.of("send_invitation")}) == 1  # same email
        assert (await case.status(handle)).status == RequestState.SENT

    play(scenario)


async def _value(value):
    return await value if inspect.isawaitable(value) else value


async def _until(read, want, timeout: float = 10):
    """Wait until read() (sync or async) gives `want`."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while (got := await _value(read())) != want:
        assert loop.time() < end, got
        await asyncio.sleep(0.05)


def test_invitation_refused_by_the_mail_server_fails_the_workflow(play):
    async def scenario(case: Case) -> None:
        case.stand_ins.script("send_invitation", refused("EmailRejected"))
        handle = await case.start()
        await failure(handle)
        assert case.stand_ins.names() == ["confirm_request_saved", "send_invitation"]

    play(scenario)


# ---- the row never saved ----------------------------------------------------------------------


def test_a_request_never_saved_is_abandoned_after_the_deadline_without_email(play):
    async def scenario(case: Case) -> None:
        handle = await never_saved(case, "confirm_request_saved")
        assert await case.attributes(handle) == (None, None, None)

    play(scenario)


def test_a_request_saved_after_a_few_tries_goes_ahead(play):
    async def scenario(case: Case) -> None:
        not_yet = ApplicationError("not saved yet", type="NotYetSaved")
        case.stand_ins.script("confirm_request_saved", not_yet, not_yet)
        handle = await case.start_invited()
        assert len(case.stand_ins.of("confirm_request_saved")) == 3
        assert (await case.status(handle)).status == RequestState.SENT

    play(scenario)


def test_ops_cancellation_while_an_email_is_being_sent_still_withdraws(play):
    async def scenario(case: Case) -> None:
        held = case.stand_ins.hold_next("send_invitation", EmailsSent(["s@example.test"]))
        handle = await case.start()
        await held.started.wait()
        await handle.cancel()

        def settled() -> bool:
            names = case.stand_ins.names()
            return "close_request" in names or names.count("send_invitation") > 1

        # The email stays in flight until the workflow has reacted (Temporal's TRY_CANCEL does
        # not wait for it); released at the same moment the SDK would see a plain completion.
        await _until(settled, True)
        held.release()
        assert case.stand_ins.names().count("send_invitation") == 1
        assert case.stand_ins.of("close_request") == [withdrawn_by_operations(case.request_id)]

    play(scenario)


def test_a_change_of_email_accepted_before_a_connection_sends_nothing_after_it(play):
    async def scenario(case: Case) -> None:
        held = case.stand_ins.hold_next("change_client_email", EmailChange(True))
        handle = await case.start_invited()
        changing = await under_way(
            handle,
            ConnectionRequestWorkflow.change_email,
            ChangeEmailRequest("new@shop.test", BOOKKEEPER),
        )
        await held.started.wait()
        assert (await case.submit(handle, 24)).outcome == RequestState.CONNECTED
        held.release()
        with pytest.raises(WorkflowUpdateFailedError) as caught:
            await changing.result()
        assert "no longer waiting" in str(caught.value.cause)
        assert (await handle.result()).status == RequestState.CONNECTED
        assert [i.reason for i in case.stand_ins.of("send_invitation")] == ["sent"]

    play(scenario)
