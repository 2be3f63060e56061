"""Fast workflow tests' parts: one time-skipping Temporal dev server per session, and same-named
stand-in activities that record their calls and answer as each test scripts them.

No database, no SMTP, no Flask app, no Amazon stand-in: the workflow under test is the real one,
everything it calls is a stand-in here. Test modules load this with
`pytest_plugins = ["tests.workflow_stand_ins"]`, so the session has one server however many of
them run.
"""

import asyncio
import inspect
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.testing import TimeSkippingConfig, WorkflowEnvironment
from temporalio.worker import Worker

import temporal_dev
from vocabulary.messages import (
    AcceptInput,
    AuthorizationRef,
    ChangeEmailInput,
    Closed,
    CloseInvitationInput,
    CloseRequestInput,
    Done,
    EmailChange,
    EmailsSent,
    EventInput,
    ExchangeResult,
    InvitationInput,
    InvitationNoticeInput,
    MarketplaceCheck,
    MemberAdded,
    NoticeInput,
    OutcomeInput,
    RequestRef,
    StoredConnection,
    UserInvitationEmailInput,
)

DAY = timedelta(days=1)


@pytest.fixture(scope="session")
def workflow_env(loop):
    """A dev server whose workflows' clocks stand still until a test fast-forwards them.

    Started with TimeSkippingConfig(enabled=False): a workflow waits in real time (so a test can
    signal it mid-wait) until `env.fast_forward(handle, duration)` skips its timers, each skip
    costing about a second of real time whatever its length.
    """
    env = loop.run(
        WorkflowEnvironment.start_time_skipping_v2(
            ts_config=TimeSkippingConfig(enabled=False),
            dev_server_existing_path=str(temporal_dev.TEMPORAL),
            dev_server_extra_args=[
                *("--dynamic-config-value", "frontend.WorkflowTimeSkippingEnabled=true"),
                *temporal_dev.FLAGS,  # the search attributes the workflows upsert
            ],
        )
    )
    yield env
    loop.run(env.shutdown())


@dataclass
class Call:
    """One attempt of one stand-in activity."""

    name: str
    input: Any
    attempt: int
    scheduled_at: datetime  # the workflow's (virtual) time when this attempt was scheduled


class Held:
    """An answer that waits until the test releases it: a step caught in the middle."""

    def __init__(self, answer: Any = None) -> None:
        self.answer = answer
        self.started = asyncio.Event()
        self.released = asyncio.Event()

    def release(self) -> None:
        self.released.set()

    async def __call__(self, arg: Any) -> Any:
        self.started.set()
        await self.released.wait()
        return self.answer


def refused(kind: str, message: str = "refused", **kwargs: Any) -> ApplicationError:
    """A non-retryable failure of the named type, as the real activities raise."""
    return ApplicationError(message, type=kind, non_retryable=True, **kwargs)


def failing_for(delay: timedelta, kind: str = "Unavailable") -> ApplicationError:
    """A retryable failure whose next try comes after `delay`: lets a test reach a deadline in
    one skip instead of many retries."""
    return ApplicationError("still failing", type=kind, next_retry_delay=delay)


class StandIns:
    """Every activity the two workflows call, under the real activity's name and with its input
    and output dataclasses. `script(name, *answers)` queues answers (a value, an exception to
    raise, or a callable of the input returning either, possibly async); with none queued each
    answers a plausible success."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._script: dict[str, list[Any]] = {}
        self._held: list[Held] = []

    def hold(self, answer: Any = None) -> Held:
        """A Held answer, released at the latest when the test ends (see release_all)."""
        held = Held(answer)
        self._held.append(held)
        return held

    def release_all(self) -> None:
        for held in self._held:
            held.release()

    def script(self, name: str, *answers: Any) -> None:
        self._script.setdefault(name, []).extend(answers)

    def of(self, name: str) -> list[Any]:
        """The inputs of every attempt of one activity, in order."""
        return [call.input for call in self.calls if call.name == name]

    def names(self) -> list[str]:
        return [call.name for call in self.calls]

    async def wait_for(self, name: str, count: int = 1, timeout: float = 10) -> list[Any]:
        """Wait until the activity has been tried `count` times; returns its inputs."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while len(self.of(name)) < count:
            if loop.time() > end:
                raise AssertionError(f"{name} tried {len(self.of(name))} times, not {count}")
            await asyncio.sleep(0.02)
        return self.of(name)

    async def _answer(self, name: str, arg: Any, default: Any) -> Any:
        info = activity.info()
        self.calls.append(Call(name, arg, info.attempt, info.current_attempt_scheduled_time))
        queued = self._script.get(name)
        answer = queued.pop(0) if queued else default
        if callable(answer) and not isinstance(answer, type):
            answer = answer(arg)
            if inspect.isawaitable(answer):
                answer = await answer
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def connection_request(self) -> list[Callable]:
        """The activities of ConnectionRequestWorkflow."""

        @activity.defn(name="confirm_request_saved")
        async def confirm_request_saved(input: RequestRef) -> Done:
            return await self._answer("confirm_request_saved", input, Done())

        @activity.defn(name="send_invitation")
        async def send_invitation(input: InvitationInput) -> EmailsSent:
            return await self._answer("send_invitation", input, EmailsSent(["s@example.test"]))

        @activity.defn(name="send_notice")
        async def send_notice(input: NoticeInput) -> EmailsSent:
            return await self._answer("send_notice", input, EmailsSent(["b@example.test"]))

        @activity.defn(name="exchange_authorization_code")
        async def exchange_authorization_code(input: AuthorizationRef) -> ExchangeResult:
            return await self._answer("exchange_authorization_code", input, ExchangeResult("A1"))

        @activity.defn(name="check_marketplace")
        async def check_marketplace(input: AuthorizationRef) -> MarketplaceCheck:
            return await self._answer("check_marketplace", input, MarketplaceCheck(True, "Acme"))

        @activity.defn(name="store_connection")
        async def store_connection(input: AuthorizationRef) -> StoredConnection:
            return await self._answer("store_connection", input, StoredConnection(1))

        @activity.defn(name="record_outcome")
        async def record_outcome(input: OutcomeInput) -> Done:
            return await self._answer("record_outcome", input, Done())

        @activity.defn(name="record_event")
        async def record_event(input: EventInput) -> Done:
            return await self._answer("record_event", input, Done())

        @activity.defn(name="change_client_email")
        async def change_client_email(input: ChangeEmailInput) -> EmailChange:
            return await self._answer("change_client_email", input, EmailChange(True))

        @activity.defn(name="remove_connection")
        async def remove_connection(input: RequestRef) -> Done:
            return await self._answer("remove_connection", input, Done())

        @activity.defn(name="close_request")
        async def close_request(input: CloseRequestInput) -> Closed:
            return await self._answer("close_request", input, lambda i: Closed(i.status))

        return [
            confirm_request_saved,
            send_invitation,
            send_notice,
            exchange_authorization_code,
            check_marketplace,
            store_connection,
            record_outcome,
            record_event,
            change_client_email,
            remove_connection,
            close_request,
        ]

    def user_invitation(self) -> list[Callable]:
        """The activities of UserInvitationWorkflow."""

        @activity.defn(name="confirm_invitation_saved")
        async def confirm_invitation_saved(input: AcceptInput) -> Done:
            return await self._answer("confirm_invitation_saved", input, Done())

        @activity.defn(name="send_user_invitation")
        async def send_user_invitation(input: UserInvitationEmailInput) -> EmailsSent:
            return await self._answer("send_user_invitation", input, EmailsSent(["u@x.test"]))

        @activity.defn(name="add_member")
        async def add_member(input: AcceptInput) -> MemberAdded:
            return await self._answer("add_member", input, MemberAdded(7, 70))

        @activity.defn(name="close_invitation")
        async def close_invitation(input: CloseInvitationInput) -> Closed:
            return await self._answer("close_invitation", input, lambda i: Closed(i.status))

        @activity.defn(name="notify_inviter")
        async def notify_inviter(input: InvitationNoticeInput) -> EmailsSent:
            return await self._answer("notify_inviter", input, EmailsSent(["a@x.test"]))

        return [
            confirm_invitation_saved,
            send_user_invitation,
            add_member,
            close_invitation,
            notify_inviter,
        ]


def fresh(prefix: str) -> str:
    """A workflow id or task queue no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def worker(client: Client, workflow: type, activities: list[Callable], task_queue: str) -> Worker:
    """A worker for one test: the real workflow class and the stand-ins, on the test's queue."""
    return Worker(client, task_queue=task_queue, workflows=[workflow], activities=activities)
