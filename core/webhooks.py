"""Webhook endpoints a user added, the events recorded for them (the outbox), each delivery of
an event to an endpoint and every attempt at it (the standardwebhooks library signs them:
activities/webhooks.py)."""

import base64
import secrets
import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.accounts import ClientAccount
from core.clock import utcnow
from core.crypto import decrypt, encrypt
from core.extensions import db
from core.users import User
from vocabulary.webhooks import DeliveryState

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    """A signing secret as Standard Webhooks writes it: whsec_ and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def new_event_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


class WebhookEndpoint(db.Model):
    """A URL a user added, with the event types it wants: it gets the events of every account
    its user is an admin of when the event happens. Its secret is encrypted at rest."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    # Comma-separated WebhookEventType values.
    events: Mapped[str] = mapped_column(Text)
    secret_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    # After a rotation, the old secret signs too until `previous_secret_until`.
    previous_secret_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    previous_secret_until: Mapped[datetime | None]
    enabled: Mapped[bool] = mapped_column(default=True)
    disabled_reason: Mapped[str] = mapped_column(Text, default="")
    disabled_at: Mapped[datetime | None]
    # The first failed attempt since the last success: WEBHOOK_DISABLE_AFTER later, disabled.
    failing_since: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship()
    # Its deliveries: services.webhooks.recent_deliveries (deleted with it, by services.webhooks).

    @property
    def event_types(self) -> list[str]:
        return [e for e in self.events.split(",") if e]

    def wants(self, event_type: str) -> bool:
        return event_type in self.event_types

    def set_secret(self, keys: str, secret: str) -> None:
        self.secret_encrypted = encrypt(keys, secret)

    def signing_secrets(self, keys: str, now: datetime) -> list[str]:
        """The secrets that sign now: the current one, and the previous one during overlap."""
        found = [decrypt(keys, self.secret_encrypted)]
        if (
            self.previous_secret_encrypted is not None
            and self.previous_secret_until is not None
            and now < self.previous_secret_until
        ):
            found.append(decrypt(keys, self.previous_secret_encrypted))
        return found


class WebhookEvent(db.Model):
    """One event as recorded in the transaction that caused it (the outbox). `public_id` is the
    webhook-id receivers dedupe on; `payload` is the exact body sent, every time."""

    __tablename__ = "webhook_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(40), unique=True, default=new_event_id)
    type: Mapped[str] = mapped_column(String(40))
    account_id: Mapped[int] = mapped_column(ForeignKey("client_accounts.id"), index=True)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("connection_requests.id"))
    connection_id: Mapped[int | None]  # kept after the connection row goes
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    account: Mapped[ClientAccount] = relationship()


class WebhookDelivery(db.Model):
    """One event to one endpoint, in order with the others of its `stream` (the request's or
    connection's: 'request-<public id>', 'connection-<id>'). A Resend adds another."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True
    )
    event_id: Mapped[int] = mapped_column(ForeignKey("webhook_events.id"), index=True)
    stream: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=DeliveryState.PENDING, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]

    endpoint: Mapped[WebhookEndpoint] = relationship()
    event: Mapped[WebhookEvent] = relationship()
    attempts: Mapped[list["WebhookAttempt"]] = relationship(order_by="WebhookAttempt.id")

    @property
    def workflow_id(self) -> str:
        return stream_workflow_id(self.endpoint_id, self.stream)


def stream_workflow_id(endpoint_id: int, stream: str) -> str:
    """From the business key: one delivery workflow per endpoint and request or connection."""
    return f"webhook-{endpoint_id}-{stream}"


class WebhookAttempt(db.Model):
    """One POST of a delivery: its answer's status code, or the error, and how long it took."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(default=utcnow)
    status_code: Mapped[int | None]
    error: Mapped[str] = mapped_column(Text, default="")
    duration_ms: Mapped[int] = mapped_column(default=0)

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300
