"""Delivering one endpoint's webhook events of one request or connection, in order."""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.webhooks import WebhookActivities
    from vocabulary.policies import SHORT
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
    from workflows.emailing import send_email

# One POST may take WEBHOOK_TIMEOUT (10 s by default); this leaves room for recording it.
ATTEMPT_TIMEOUT = timedelta(seconds=60)
# Deliveries per run before it starts afresh (continue-as-new), keeping its history small.
DELIVERIES_PER_RUN = 100


@workflow.defn
class WebhookDeliveryWorkflow:
    """One per endpoint and request or connection (`webhook-<endpoint id>-<stream>`), started
    or nudged by signal-with-start once an event is committed. It delivers the stream's pending
    deliveries one at a time, oldest first, each retried with exponential backoff for the
    input's deadline; it waits `idle_seconds` for more, then ends. An endpoint disabled by a
    failure ends it, after its owner is emailed.

    Signals: events_recorded (WebhookNudge). Updates, queries: none."""

    def __init__(self) -> None:
        self._nudged = False

    @workflow.signal
    def events_recorded(self, _: WebhookNudge) -> None:
        """More deliveries wait in the database."""
        self._nudged = True

    @workflow.run
    async def run(self, input: WebhookStreamInput) -> WebhookStreamResult:
        delivered = 0
        while True:
            self._nudged = False
            found: NextWebhookDelivery = await workflow.execute_activity_method(
                WebhookActivities.next_webhook_delivery,
                WebhookStreamRef(input.endpoint_id, input.stream),
                start_to_close_timeout=SHORT,
                summary="Find the next delivery",
            )
            if found.delivery_id is None:
                idle = timedelta(seconds=input.idle_seconds)
                try:
                    await workflow.wait_condition(lambda: self._nudged, timeout=idle)
                except TimeoutError:
                    return WebhookStreamResult(delivered, "idle")
                continue
            outcome = await self._deliver(input, found.delivery_id)
            if outcome == DeliveryOutcome.DISABLED_NOW:
                await send_email(
                    WebhookActivities.notify_webhook_disabled,
                    WebhookEndpointRef(input.endpoint_id),
                    "Tell the owner the endpoint was disabled",
                    deadline=timedelta(days=1),
                )
            if outcome in (DeliveryOutcome.DISABLED_NOW, DeliveryOutcome.ENDPOINT_DISABLED):
                return WebhookStreamResult(delivered, outcome)
            delivered += 1
            if delivered >= DELIVERIES_PER_RUN or workflow.info().is_continue_as_new_suggested():
                workflow.continue_as_new(input)

    async def _deliver(self, input: WebhookStreamInput, delivery_id: int) -> DeliveryOutcome:
        ref = WebhookDeliveryRef(delivery_id)
        try:
            result: WebhookDelivered = await workflow.execute_activity_method(
                WebhookActivities.deliver_webhook,
                ref,
                start_to_close_timeout=ATTEMPT_TIMEOUT,
                schedule_to_close_timeout=timedelta(seconds=input.deadline_seconds),
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(seconds=input.retry_initial_seconds),
                    backoff_coefficient=2.0,
                    maximum_interval=timedelta(seconds=input.retry_max_seconds),
                ),
                summary=f"Deliver {delivery_id}",
            )
            return result.outcome
        except ActivityError:
            given_up: WebhookDelivered = await workflow.execute_activity_method(
                WebhookActivities.give_up_webhook_delivery,
                ref,
                start_to_close_timeout=SHORT,
                summary=f"Give up on {delivery_id}",
            )
            return given_up.outcome
