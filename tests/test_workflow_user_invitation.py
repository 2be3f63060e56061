"""UserInvitationWorkflow alone: the real workflow on a time-skipping dev server, every activity a
same-named stand-in (tests/workflow_stand_ins.py)."""

import asyncio
from dataclasses import dataclass
from datetime import timedelta

import pytest
from temporalio.client import (
    WorkflowExecutionStatus,
    WorkflowHandle,
)
from temporalio.exceptions import CancelledError

from tests.workflow_stand_ins import (
    DAY,
    StandIns,
    failure,
    fresh,
    never_saved,
    player,
    refusal,
    under_way,
)
from vocabulary import search_attributes
from vocabulary.messages import (
    AcceptInput,
    AcceptInvitation,
    CancelRequest,
    Closed,
    CloseInvitationInput,
    EmailsSent,
    InvitationAccepted,
    InvitationNoticeInput,
    MemberAdded,
    ResendRequest,
    UserInvitationEmailInput,
    UserInvitationInput,
)
from vocabulary.statuses import OPERATIONS, InvitationState
from workflows.user_invitation import UserInvitationWorkflow

pytest_plugins = ["tests.workflow_stand_ins"]

ADMIN = "admin@books.test"


@dataclass
class Case:
    env: object
    stand_ins: StandIns
    task_queue: str
    invitation_id: int

    async def start(self, **overrides) -> WorkflowHandle:
        fields = dict(
            invitation_id=self.invitation_id,
            account_name="Acme Books",
            email_domain="firm.test",
            invited_by=ADMIN,
            expires_after_seconds=int((3 * DAY).total_seconds()),
            reminder_offsets_seconds=[int(DAY.total_seconds()), int((2 * DAY).total_seconds())],
        )
        fields.update(overrides)
        return await self.env.client.start_workflow(
            UserInvitationWorkflow.run,
            UserInvitationInput(**fields),
            id=fresh("user-invitation"),
            task_queue=self.task_queue,
        )

    async def start_sent(self, **overrides) -> WorkflowHandle:
        """start(), then wait until the invitation is out (see sent)."""
        handle = await self.start(**overrides)
        await self.sent(handle)
        return handle

    async def held_accepting(self, user_id: int) -> tuple:
        """Start, accept as `user_id`, and return once add_member is under way, held: (the
        workflow's handle, the accept update, the Held answer)."""
        held = self.stand_ins.hold_next("add_member", MemberAdded(7, 70))
        handle = await self.start_sent()
        accepting = await under_way(
            handle, UserInvitationWorkflow.accept, AcceptInvitation(user_id)
        )
        await held.started.wait()
        return handle, accepting, held

    async def closed_and_told(
        self, handle: WorkflowHandle, status: str, actor: str, notice: str
    ) -> None:
        """The invitation was closed as `status` by `actor` and the inviting admin told with
        `notice`; the status query and the search attribute both say `status`."""
        assert self.stand_ins.of("close_invitation") == [
            CloseInvitationInput(self.invitation_id, status, actor)
        ]
        assert self.stand_ins.of("notify_inviter") == [
            InvitationNoticeInput(self.invitation_id, notice)
        ]
        assert (await self.status(handle)).status == status
        assert await self.onboarding_status(handle) == status

    async def expired(self, handle: WorkflowHandle) -> list:
        """Skip to the end: the invitation expires. The calls that emailed it, in order."""
        await self.env.fast_forward(handle, None)
        assert (await handle.result()).status == InvitationState.EXPIRED
        return [c for c in self.stand_ins.calls if c.name == "send_user_invitation"]

    async def status(self, handle: WorkflowHandle):
        return await handle.query(UserInvitationWorkflow.status)

    async def onboarding_status(self, handle: WorkflowHandle) -> str | None:
        description = await handle.describe()
        return description.typed_search_attributes.get(search_attributes.ONBOARDING_STATUS)

    async def sent(self, handle: WorkflowHandle, count: int = 1) -> list[UserInvitationEmailInput]:
        """Wait until `count` emails went out and the workflow waits again (it has published
        its status): an ops cancel must not race an email still in flight."""
        sends = await self.stand_ins.wait_for("send_user_invitation", count)
        for _ in range(250):
            description = await handle.describe()
            pending = description.typed_search_attributes.get(search_attributes.ONBOARDING_STATUS)
            if (
                pending == InvitationState.PENDING
                and not description.raw_description.pending_activities
            ):
                return sends
            await asyncio.sleep(0.02)
        raise AssertionError("the workflow did not settle after sending")


@pytest.fixture
def play(loop, workflow_env):
    """play(scenario): run `async scenario(case)` with the real workflow and the stand-ins."""
    return player(loop, workflow_env, [UserInvitationWorkflow], StandIns.user_invitation, Case)


def notices(stand_ins: StandIns) -> list[str]:
    return [n.notice for n in stand_ins.of("notify_inviter")]


def test_invitation_is_sent_and_the_query_and_search_attribute_say_pending(play):
    async def scenario(case: Case) -> None:
        handle = await case.start()
        [sent] = await case.sent(handle)
        status = await case.status(handle)
        assert sent == UserInvitationEmailInput(
            invitation_id=case.invitation_id,
            reason="sent",
            expires_at=status.expires_at,
            supersede_links=False,
            reminder_number=0,
            reminders_total=2,
        )
        assert (status.status, status.reminders_sent, status.reminders_total) == (
            InvitationState.PENDING,
            0,
            2,
        )
        assert status.invitation_id == case.invitation_id
        assert case.stand_ins.of("confirm_invitation_saved") == [AcceptInput(case.invitation_id, 0)]
        assert case.stand_ins.names() == ["confirm_invitation_saved", "send_user_invitation"]
        assert await case.onboarding_status(handle) == InvitationState.PENDING

    play(scenario)


def test_reminders_at_their_offsets_then_expiry_tells_the_inviting_admin(play):
    async def scenario(case: Case) -> None:
        handle = await case.start_sent()
        sent_at = (await case.status(handle)).expires_at - 3 * DAY
        assert await case.env.fast_forward(handle, DAY + timedelta(minutes=1))
        status = await case.status(handle)
        assert (status.status, status.reminders_sent) == (InvitationState.PENDING, 1)

        sends = await case.expired(handle)
        assert [(c.input.reason, c.input.reminder_number) for c in sends] == [
            ("sent", 0),
            ("reminder", 1),
            ("reminder", 2),
        ]
        for call, want in zip(sends[1:], [DAY, 2 * DAY], strict=True):
            assert abs(call.scheduled_at - sent_at - want) < timedelta(seconds=5)
        assert case.stand_ins.names()[-2:] == ["close_invitation", "notify_inviter"]
        await case.closed_and_told(handle, InvitationState.EXPIRED, "system", "expired")

    play(scenario)


def test_accepting_adds_the_member_and_tells_the_inviting_admin(play):
    async def scenario(case: Case) -> None:
        handle, accepting, held = await case.held_accepting(11)
        # While it is being accepted: the same user again waits for the same answer; anybody
        # else, a resend or a withdrawal is refused; a cancel signal is ignored.
        again = await under_way(handle, UserInvitationWorkflow.accept, AcceptInvitation(11))
        for update, arg in (
            (UserInvitationWorkflow.accept, AcceptInvitation(12)),
            (UserInvitationWorkflow.resend, ResendRequest(ADMIN)),
            (UserInvitationWorkflow.withdraw, CancelRequest(ADMIN)),
        ):
            assert "already being accepted" in await refusal(handle, update, arg)
        await handle.signal(UserInvitationWorkflow.cancel, CancelRequest(ADMIN))
        held.release()

        assert await accepting.result() == InvitationAccepted(7)
        assert await again.result() == InvitationAccepted(7)
        assert (await handle.result()).status == InvitationState.ACCEPTED
        assert case.stand_ins.of("add_member") == [AcceptInput(case.invitation_id, 11)]
        assert notices(case.stand_ins) == ["joined"]
        assert "close_invitation" not in case.stand_ins.names()
        assert (await case.status(handle)).status == InvitationState.ACCEPTED
        assert await case.onboarding_status(handle) == InvitationState.ACCEPTED

    play(scenario)


def test_withdraw_update_closes_it_and_answers_with_its_status(play):
    async def scenario(case: Case) -> None:
        handle = await case.start_sent()
        status = await handle.execute_update(UserInvitationWorkflow.withdraw, CancelRequest(ADMIN))
        assert status.status == InvitationState.CANCELLED
        assert (await handle.result()).status == InvitationState.CANCELLED
        assert case.stand_ins.of("close_invitation") == [
            CloseInvitationInput(case.invitation_id, InvitationState.CANCELLED, ADMIN)
        ]
        assert notices(case.stand_ins) == []
        assert await case.onboarding_status(handle) == InvitationState.CANCELLED

    play(scenario)


def test_cancel_signal_closes_it_and_then_accepting_is_refused(play):
    async def scenario(case: Case) -> None:
        held = case.stand_ins.hold_next("close_invitation", Closed(InvitationState.CANCELLED))
        handle = await case.start_sent()
        await handle.signal(UserInvitationWorkflow.cancel, CancelRequest(ADMIN))
        await held.started.wait()
        assert "withdrawn" in await refusal(
            handle, UserInvitationWorkflow.accept, AcceptInvitation(11)
        )
        held.release()
        assert (await handle.result()).status == InvitationState.CANCELLED
        assert case.stand_ins.of("close_invitation") == [
            CloseInvitationInput(case.invitation_id, InvitationState.CANCELLED, ADMIN)
        ]
        assert "add_member" not in case.stand_ins.names()

    play(scenario)


def test_resend_sends_a_fresh_link_with_the_new_deadline_and_restarts_reminders_and_expiry(play):
    async def scenario(case: Case) -> None:
        handle = await case.start_sent()
        await case.env.fast_forward(handle, DAY + timedelta(minutes=1))
        await case.sent(handle, 2)
        before = await case.status(handle)
        status = await handle.execute_update(UserInvitationWorkflow.resend, ResendRequest(ADMIN))
        assert (status.status, status.reminders_sent) == (InvitationState.PENDING, 0)
        assert status.expires_at > before.expires_at + DAY
        resent = case.stand_ins.of("send_user_invitation")[-1]
        assert (resent.reason, resent.supersede_links) == ("resent", True)
        assert resent.expires_at == status.expires_at

        sends = await case.expired(handle)
        assert [(c.input.reason, c.input.reminder_number) for c in sends] == [
            ("sent", 0),
            ("reminder", 1),
            ("resent", 0),
            ("reminder", 1),
            ("reminder", 2),
        ]
        resent_at = status.expires_at - 3 * DAY
        assert abs(sends[-1].scheduled_at - (resent_at + 2 * DAY)) < timedelta(seconds=5)
        assert notices(case.stand_ins) == ["expired"]

    play(scenario)


def test_ops_cancellation_closes_it_as_withdrawn_by_operations_and_tells_the_admin(play):
    async def scenario(case: Case) -> None:
        handle = await case.start_sent()
        await handle.cancel()
        assert isinstance(await failure(handle), CancelledError)
        await case.closed_and_told(
            handle, InvitationState.CANCELLED, OPERATIONS, "withdrawn_by_operations"
        )

    play(scenario)


def test_ops_cancellation_after_the_row_was_accepted_tells_nobody(play):
    async def scenario(case: Case) -> None:
        case.stand_ins.script("close_invitation", Closed(InvitationState.ACCEPTED))
        handle = await case.start_sent()
        await handle.cancel()
        await failure(handle)
        assert notices(case.stand_ins) == []
        assert (await case.status(handle)).status == InvitationState.ACCEPTED

    play(scenario)


def test_ops_cancellation_while_accepting_leaves_the_row_alone(play):
    async def scenario(case: Case) -> None:
        handle, _, held = await case.held_accepting(11)
        await handle.cancel()
        assert isinstance(await failure(handle), CancelledError)
        assert "close_invitation" not in case.stand_ins.names()
        assert notices(case.stand_ins) == []

    play(scenario)


def test_an_invitation_never_saved_is_abandoned_without_email(play):
    async def scenario(case: Case) -> None:
        handle = await never_saved(case, "confirm_invitation_saved")
        assert await case.onboarding_status(handle) is None

    play(scenario)


def test_ops_cancellation_while_the_invitation_is_being_sent_still_withdraws(play):
    async def scenario(case: Case) -> None:
        held = case.stand_ins.hold_next("send_user_invitation", EmailsSent(["u@x.test"]))
        handle = await case.start()
        await held.started.wait()
        await handle.cancel()
        # The email stays in flight until the workflow has reacted (Temporal's TRY_CANCEL does
        # not wait for it); released at the same moment the SDK would see a plain completion.
        for _ in range(200):
            running = (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
            if not running or "close_invitation" in case.stand_ins.names():
                break
            await asyncio.sleep(0.02)
        held.release()
        await failure(handle)
        assert case.stand_ins.of("close_invitation") == [
            CloseInvitationInput(case.invitation_id, InvitationState.CANCELLED, OPERATIONS)
        ]
        assert notices(case.stand_ins) == ["withdrawn_by_operations"]

    play(scenario)
