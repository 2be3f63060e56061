"""WebhookDeliveryWorkflow alone: the real workflow on the time-skipping dev server, its
activities same-named stand-ins that answer as each test scripts them."""

from collections.abc import Callable
from datetime import timedelta

from temporalio.exceptions import ApplicationError

from tests.workflow_stand_ins import fresh, typed_activity, worker
from vocabulary.messages import Done
from vocabulary.webhooks import (
    DeliveryOutcome,
    NextWebhookDelivery,
    WebhookDelivered,
    WebhookDeliveryRef,
    WebhookEndpointRef,
    WebhookNudge,
    WebhookStreamInput,
    WebhookStreamRef,
    WebhookStreamResult,
)
from workflows.webhooks import WebhookDeliveryWorkflow

pytest_plugins = ["tests.workflow_stand_ins"]
DAY = 86400.0


class Stream:
    """The stand-ins: `pending` is the database's queue of delivery ids; `answers` what each
    attempt of deliver_webhook does (a WebhookDelivered, or an exception to raise), the last
    one from then on."""

    def __init__(self, pending: list[int], *answers) -> None:
        self.pending = list(pending)
        self.answers = list(answers) or [WebhookDelivered(DeliveryOutcome.DELIVERED)]
        self.calls: list[tuple[str, object]] = []

    async def next(self, ref: WebhookStreamRef) -> NextWebhookDelivery:
        self.calls.append(("next", ref.stream))
        return NextWebhookDelivery(self.pending[0] if self.pending else None)

    async def deliver(self, ref: WebhookDeliveryRef) -> WebhookDelivered:
        self.calls.append(("deliver", ref.delivery_id))
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        if ref.delivery_id in self.pending:
            self.pending.remove(ref.delivery_id)
        return answer

    async def give_up(self, ref: WebhookDeliveryRef) -> WebhookDelivered:
        self.calls.append(("give_up", ref.delivery_id))
        self.pending.remove(ref.delivery_id)
        return WebhookDelivered(DeliveryOutcome.GAVE_UP)

    async def notify(self, ref: WebhookEndpointRef) -> Done:
        self.calls.append(("notify", ref.endpoint_id))
        return Done()

    def activities(self) -> list[Callable]:
        return [
            typed_activity(
                "next_webhook_delivery", WebhookStreamRef, NextWebhookDelivery, self.next
            ),
            typed_activity("deliver_webhook", WebhookDeliveryRef, WebhookDelivered, self.deliver),
            typed_activity(
                "give_up_webhook_delivery", WebhookDeliveryRef, WebhookDelivered, self.give_up
            ),
            typed_activity("notify_webhook_disabled", WebhookEndpointRef, Done, self.notify),
        ]

    def of(self, name: str) -> list:
        return [arg for call, arg in self.calls if call == name]


def stream_input(**overrides) -> WebhookStreamInput:
    fields = dict(
        endpoint_id=7,
        stream="request-abc",
        retry_initial_seconds=1,
        retry_max_seconds=60,
        deadline_seconds=3 * DAY,
        idle_seconds=1,
    )
    fields.update(overrides)
    return WebhookStreamInput(**fields)


def run(loop, env, stream: Stream, scenario=None, **overrides) -> WebhookStreamResult:
    queue = fresh("webhooks")

    async def main() -> WebhookStreamResult:
        async with worker(env.client, [WebhookDeliveryWorkflow], stream.activities(), queue):
            handle = await env.client.start_workflow(
                WebhookDeliveryWorkflow.run,
                stream_input(**overrides),
                id=fresh("webhook"),
                task_queue=queue,
                start_signal="events_recorded",
                start_signal_args=[WebhookNudge()],
            )
            if scenario is not None:
                await scenario(handle)
            return await handle.result()

    return loop.run(main(), timeout=60)


def test_delivers_in_order_then_ends_when_idle(loop, workflow_env):
    stream = Stream([1, 2, 3])
    result = run(loop, workflow_env, stream)
    assert stream.of("deliver") == [1, 2, 3]
    assert (result.delivered, result.outcome) == (3, "idle")


def test_a_nudge_while_idle_delivers_what_came(loop, workflow_env):
    stream = Stream([])

    async def later(handle) -> None:
        stream.pending.append(9)
        await handle.signal(WebhookDeliveryWorkflow.events_recorded, WebhookNudge())

    result = run(loop, workflow_env, stream, later, idle_seconds=3)
    assert stream.of("deliver") == [9] and result.delivered == 1


def test_a_failure_is_retried_then_delivered(loop, workflow_env):
    failing = ApplicationError("HTTP 500", type="WebhookNotDelivered")
    stream = Stream([1], failing, failing, WebhookDelivered(DeliveryOutcome.DELIVERED))
    result = run(loop, workflow_env, stream)
    assert stream.of("deliver") == [1, 1, 1] and result.delivered == 1


def test_a_delivery_whose_retries_run_out_is_given_up_and_the_next_goes(loop, workflow_env):
    # The next try would fall past the deadline: Temporal ends the retries at once.
    never = ApplicationError(
        "HTTP 500", type="WebhookNotDelivered", next_retry_delay=timedelta(days=4)
    )
    stream = Stream([1, 2], never, WebhookDelivered(DeliveryOutcome.DELIVERED))
    result = run(loop, workflow_env, stream)
    assert stream.of("give_up") == [1]
    assert stream.of("deliver") == [1, 2] and result.delivered == 2


def test_an_endpoint_disabled_by_a_failure_emails_its_owner_and_ends(loop, workflow_env):
    stream = Stream([1, 2], WebhookDelivered(DeliveryOutcome.DISABLED_NOW))
    result = run(loop, workflow_env, stream)
    assert stream.of("notify") == [7]
    assert stream.of("deliver") == [1]
    assert result.outcome == DeliveryOutcome.DISABLED_NOW


def test_an_endpoint_disabled_before_just_ends(loop, workflow_env):
    stream = Stream([1], WebhookDelivered(DeliveryOutcome.ENDPOINT_DISABLED))
    result = run(loop, workflow_env, stream)
    assert stream.of("notify") == [] and result.outcome == DeliveryOutcome.ENDPOINT_DISABLED
