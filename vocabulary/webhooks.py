"""Webhooks: the event types an endpoint may subscribe to (the settings page and the API list
them), and the dataclasses in and out of the delivery workflow and its activities."""

from dataclasses import dataclass
from enum import StrEnum


class WebhookEventType(StrEnum):
    """What happened, as a receiver reads it in the payload's `type`. Values never change:
    receivers and stored subscriptions hold them."""

    REQUEST_SENT = "request.sent"
    REQUEST_OPENED = "request.opened"
    REQUEST_REMINDED = "request.reminded"
    REQUEST_CONNECTED = "request.connected"
    REQUEST_FAILED = "request.failed"
    REQUEST_EXPIRED = "request.expired"
    REQUEST_WITHDRAWN = "request.withdrawn"
    CONNECTION_REVOKED = "connection.revoked"
    CONNECTION_RENEWAL_DUE = "connection.renewal_due"
    CONNECTION_RENEWED = "connection.renewed"
    CONNECTION_LAPSED = "connection.lapsed"


# What the settings page says of each.
EVENT_LABELS = {
    WebhookEventType.REQUEST_SENT: "Request sent to the owner",
    WebhookEventType.REQUEST_OPENED: "Request opened by the owner",
    WebhookEventType.REQUEST_REMINDED: "Reminder sent",
    WebhookEventType.REQUEST_CONNECTED: "Connected",
    WebhookEventType.REQUEST_FAILED: "Request failed",
    WebhookEventType.REQUEST_EXPIRED: "Request expired",
    WebhookEventType.REQUEST_WITHDRAWN: "Request withdrawn",
    WebhookEventType.CONNECTION_REVOKED: "Connection revoked at Amazon",
    WebhookEventType.CONNECTION_RENEWAL_DUE: "Connection's renewal due",
    WebhookEventType.CONNECTION_RENEWED: "Connection renewed",
    WebhookEventType.CONNECTION_LAPSED: "Connection lapsed",
}


class DeliveryState(StrEnum):
    """Where one delivery of an event to an endpoint stands."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # its retries ran out (WEBHOOK_DELIVERY_DEADLINE)


class DeliveryOutcome(StrEnum):
    """What one delivery step came to, for the delivery workflow."""

    DELIVERED = "delivered"
    GAVE_UP = "gave_up"
    GONE = "gone"  # the delivery or its endpoint was deleted
    ENDPOINT_DISABLED = "endpoint_disabled"  # disabled before: nothing more to do now
    DISABLED_NOW = "disabled_now"  # this failure disabled it: its owner is emailed


@dataclass
class WebhookStreamInput:
    """One endpoint's deliveries for one request or connection (`stream`, e.g.
    'request-<public id>'), with the retry settings in force when it started."""

    endpoint_id: int
    stream: str
    retry_initial_seconds: float
    retry_max_seconds: float
    deadline_seconds: float
    idle_seconds: float


@dataclass
class WebhookNudge:
    """Signal: events were recorded for this stream."""


@dataclass
class WebhookStreamRef:
    endpoint_id: int
    stream: str


@dataclass
class NextWebhookDelivery:
    delivery_id: int | None = None


@dataclass
class WebhookDeliveryRef:
    delivery_id: int


@dataclass
class WebhookDelivered:
    outcome: DeliveryOutcome


@dataclass
class WebhookEndpointRef:
    endpoint_id: int


@dataclass
class WebhookStreamResult:
    delivered: int
    outcome: str  # idle, or why it stopped early (DeliveryOutcome)


@dataclass
class WebhookSweep:
    """The reconciliation's sweep: streams it (re)started."""

    started: int
