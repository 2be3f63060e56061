"""Fast workflow tests' parts: one time-skipping Temporal dev server per session, and same-named
stand-in activities that record their calls and answer as each test scripts them.

No database, no SMTP, no Flask app, no Amazon stand-in: the workflow under test is the real one,
everything it calls is a stand-in here. Test modules load this with
`pytest_plugins = ["tests.workflow_stand_ins"]`, so the session has one server however many of
them run.
"""

import asyncio
import inspect
import itertools
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from temporalio import activity
from temporalio.client import (
    Client,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateHandle,
    WorkflowUpdateStage,
)
from temporalio.exceptions import ApplicationError
from temporalio.testing import TimeSkippingConfig, WorkflowEnvironment
from temporalio.worker import Worker

import temporal_dev
from vocabulary.messages import (
    AcceptInput,
    AuthorizationRef,
    ChangeEmailInput,
    CheckInput,
    Closed,
    CloseInvitationInput,
    CloseRequestInput,
    Done,
    EmailChange,
    EmailsSent,
    EventInput,
    ExchangeResult,
    Health,
    InvitationInput,
    InvitationNoticeInput,
    MarketplaceCheck,
    MemberAdded,
    NoticeInput,
    OutcomeInput,
    RenewalAsked,
    RenewalInput,
    RequestRef,
    StoredConnection,
    UserInvitationEmailInput,
)
from vocabulary.policies import SAVED_DEADLINE
from vocabulary.statuses import ABANDONED, ConnectionState

DAY = timedelta(days=1)

# name: (input, output) of every activity each workflow calls, as the real activities define
# them. The stand-ins below and the benchmarks' no-op worker (harness/noop_worker.py) are both
# built from these tables.
Activities = dict[str, tuple[type, type]]
CONNECTION_REQUEST_ACTIVITIES: Activities = {
    "confirm_request_saved": (RequestRef, Done),
    "send_invitation": (InvitationInput, EmailsSent),
    "send_notice": (NoticeInput, EmailsSent),
    "exchange_authorization_code": (AuthorizationRef, ExchangeResult),
    "check_marketplace": (AuthorizationRef, MarketplaceCheck),
    "store_connection": (AuthorizationRef, StoredConnection),
    "record_outcome": (OutcomeInput, Done),
    "record_event": (EventInput, Done),
    "change_client_email": (ChangeEmailInput, EmailChange),
    "remove_connection": (RequestRef, Done),
    "close_request": (CloseRequestInput, Closed),
    # The connection's own workflow, started as a child once connected.
    "check_connection": (CheckInput, Health),
    "ask_renewal": (RenewalInput, RenewalAsked),
}
USER_INVITATION_ACTIVITIES: Activities = {
    "confirm_invitation_saved": (AcceptInput, Done),
    "send_user_invitation": (UserInvitationEmailInput, EmailsSent),
    "add_member": (AcceptInput, MemberAdded),
    "close_invitation": (CloseInvitationInput, Closed),
    "notify_inviter": (InvitationNoticeInput, EmailsSent),
}

# What each stand-in answers when a test scripts nothing (see StandIns).
CONNECTION_REQUEST_ANSWERS: dict[str, Any] = {
    "confirm_request_saved": Done(),
    "send_invitation": EmailsSent(["s@example.test"]),
    "send_notice": EmailsSent(["b@example.test"]),
    "exchange_authorization_code": ExchangeResult("A1"),
    "check_marketplace": MarketplaceCheck(True, "Acme"),
    "store_connection": StoredConnection(1),
    "record_outcome": Done(),
    "record_event": Done(),
    "change_client_email": EmailChange(True),
    "remove_connection": Done(),
    "close_request": lambda i: Closed(i.status),
    "check_connection": lambda i: Health(ConnectionState.HEALTHY, 1, datetime(2026, 1, 1)),
    "ask_renewal": RenewalAsked(0),
}
USER_INVITATION_ANSWERS: dict[str, Any] = {
    "confirm_invitation_saved": Done(),
    "send_user_invitation": EmailsSent(["u@x.test"]),
    "add_member": MemberAdded(7, 70),
    "close_invitation": lambda i: Closed(i.status),
    "notify_inviter": EmailsSent(["a@x.test"]),
}


def typed_activity(name: str, input_type: type, output_type: type, body: Callable) -> Callable:
    """An activity registered as `name` that takes `input_type` and returns `output_type` (the
    types tell Temporal how to decode and encode them) and does `body(input)`: a plain function
    runs in the worker's activity executor, a coroutine function on its event loop."""
    if inspect.iscoroutinefunction(body):

        async def run(input):
            return await body(input)

    else:

        def run(input):
            return body(input)

    run.__annotations__ = {"input": input_type, "return": output_type}
    run.__name__ = run.__qualname__ = name
    return activity.defn(name=name)(run)


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


def refused(kind: str, message: str = "refused", *details: Any, **kwargs: Any) -> ApplicationError:
    """A non-retryable failure of the named type (with `details`), as the real activities
    raise."""
    return ApplicationError(message, *details, type=kind, non_retryable=True, **kwargs)


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

    def hold_next(self, name: str, answer: Any = None) -> Held:
        """Script a Held answer as the activity's next one."""
        held = self.hold(answer)
        self.script(name, held)
        return held

    def release_all(self) -> None:
        for held in self._held:
            held.release()

    def script(self, name: str, *answers: Any) -> None:
        self._script.setdefault(name, []).extend(answers)

    def of(self, name: str) -> list[Any]:
        """The inputs of every attempt of one activity, in order."""
        return [call.input for call in self.calls if call.name == name]

    def calls_of(self, name: str) -> list[Call]:
        """Every attempt of one activity, with when it was scheduled."""
        return [call for call in self.calls if call.name == name]

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
        return self._stand_ins(CONNECTION_REQUEST_ACTIVITIES, CONNECTION_REQUEST_ANSWERS)

    def user_invitation(self) -> list[Callable]:
        """The activities of UserInvitationWorkflow."""
        return self._stand_ins(USER_INVITATION_ACTIVITIES, USER_INVITATION_ANSWERS)

    def _stand_ins(self, table: Activities, defaults: dict[str, Any]) -> list[Callable]:
        def stand_in(name: str, input_type: type, output_type: type) -> Callable:
            async def answer(input: Any) -> Any:
                return await self._answer(name, input, defaults[name])

            return typed_activity(name, input_type, output_type, answer)

        return [stand_in(name, *types) for name, types in table.items()]


def fresh(prefix: str) -> str:
    """A workflow id or task queue no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


async def under_way(handle: WorkflowHandle, update: Callable, arg: Any) -> WorkflowUpdateHandle:
    """Start an update; return once the workflow has accepted it, before it is done."""
    return await handle.start_update(update, arg, wait_for_stage=WorkflowUpdateStage.ACCEPTED)


async def refusal(handle: WorkflowHandle, update: Callable, arg: Any) -> str:
    """Why the workflow refuses the update (the test fails if it does not)."""
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await handle.execute_update(update, arg)
    return str(caught.value.cause)


async def failure(handle: WorkflowHandle) -> BaseException | None:
    """What the workflow failed with (the test fails if it does not)."""
    with pytest.raises(WorkflowFailureError) as caught:
        await handle.result()
    return caught.value.cause


async def never_saved(case: Any, confirm: str) -> WorkflowHandle:
    """Start the case's workflow with its row never saved: `confirm` (the activity that checks
    for the row) keeps failing past SAVED_DEADLINE. The server gives up at once, since the next
    try would fall after the deadline; the workflow ends abandoned, having called nothing else."""
    case.stand_ins.script(
        confirm, failing_for(SAVED_DEADLINE + timedelta(seconds=30), kind="NotYetSaved")
    )
    handle = await case.start()
    assert (await handle.result()).status == ABANDONED
    assert case.stand_ins.names() == [confirm]
    return handle


_case_ids = itertools.count(1000)


def player(
    loop: Any,
    env: WorkflowEnvironment,
    workflows: list[type],
    activities: Callable[[StandIns], list[Callable]],
    case: type,
) -> Callable[[Callable[[Any], Awaitable[None]]], StandIns]:
    """play(scenario): run `async scenario(case)` with a worker of the real `workflows` and the
    stand-ins; `case(env, stand_ins, task_queue, id)` is the test's case, on its own task queue
    and with an id no other test uses."""

    def play(scenario: Callable[[Any], Awaitable[None]]) -> StandIns:
        stand_ins = StandIns()
        this = case(env, stand_ins, fresh("queue"), next(_case_ids))

        async def main() -> None:
            async with worker(env.client, workflows, activities(stand_ins), this.task_queue):
                try:
                    await scenario(this)
                finally:
                    stand_ins.release_all()

        loop.run(main(), timeout=90)
        return stand_ins

    return play


def worker(
    client: Client, workflows: list[type], activities: list[Callable], task_queue: str
) -> Worker:
    """A worker for one test: the real workflow classes and the stand-ins, on the test's queue."""
    return Worker(client, task_queue=task_queue, workflows=workflows, activities=activities)
