"""A user's webhook endpoints: add one (its secret shown once), rotate its secret, enable,
delete, resend a delivery. Plain functions of ids and values, for the settings page and the
API; the delivery itself is workflows/webhooks.py."""

from dataclasses import dataclass

from flask import current_app

from core.clock import utcnow
from core.extensions import db, temporal
from core.safe_url import UnsafeURL, check_url
from core.webhook_outbox import start_stream, stream_input
from core.webhooks import WebhookAttempt, WebhookDelivery, WebhookEndpoint, new_secret
from services import gateway
from vocabulary.webhooks import DeliveryState, WebhookEventType

__all__ = ["UnsafeURL", "NotFound", "NoEvents", "TooMany"]

# Endpoints one user may have: each one is a delivery workflow per request it hears of.
MAX_ENDPOINTS = 10


class NotFound(Exception):
    """No such endpoint or delivery of this user."""


class NoEvents(ValueError):
    """Choose at least one known event type."""


class TooMany(ValueError):
    """The user has MAX_ENDPOINTS already."""


@dataclass
class WithSecret:
    """An endpoint and its signing secret, in clear this once (never stored in clear)."""

    endpoint: WebhookEndpoint
    secret: str


def endpoints_of(user_id: int) -> list[WebhookEndpoint]:
    return list(
        db.session.scalars(
            db.select(WebhookEndpoint).filter_by(user_id=user_id).order_by(WebhookEndpoint.id)
        )
    )


def endpoint_of(user_id: int, endpoint_id: int) -> WebhookEndpoint:
    endpoint = db.session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.user_id != user_id:
        raise NotFound
    return endpoint


def recent_deliveries(endpoint: WebhookEndpoint, limit: int = 20) -> list[WebhookDelivery]:
    return list(
        db.session.scalars(
            db.select(WebhookDelivery)
            .filter_by(endpoint_id=endpoint.id)
            .order_by(WebhookDelivery.id.desc())
            .limit(limit)
        )
    )


def _checked_events(events: list[str]) -> str:
    known = [e.value for e in WebhookEventType if e.value in set(events)]
    if not known:
        raise NoEvents("Choose at least one event.")
    return ",".join(known)


def add_endpoint(user_id: int, url: str, events: list[str]) -> WithSecret:
    """A new endpoint for the user's accounts: UnsafeURL (production: https, public addresses
    only), NoEvents or TooMany when it cannot be; its secret is returned once."""
    url = url.strip()
    if len(endpoints_of(user_id)) >= MAX_ENDPOINTS:
        raise TooMany(f"You have {MAX_ENDPOINTS} endpoints already: delete one first.")
    check_url(url, current_app.config["APP_ENV"] == "production")
    secret = new_secret()
    endpoint = WebhookEndpoint(user_id=user_id, url=url, events=_checked_events(events))
    endpoint.set_secret(current_app.config["TOKEN_ENCRYPTION_KEY"], secret)
    db.session.add(endpoint)
    db.session.commit()
    return WithSecret(endpoint, secret)


def rotate_secret(user_id: int, endpoint_id: int) -> WithSecret:
    """A new secret, returned once; the old one signs too for WEBHOOK_SECRET_OVERLAP."""
    endpoint = endpoint_of(user_id, endpoint_id)
    config = current_app.config
    secret = new_secret()
    endpoint.previous_secret_encrypted = endpoint.secret_encrypted
    endpoint.previous_secret_until = utcnow() + config["WEBHOOK_SECRET_OVERLAP"]
    endpoint.set_secret(config["TOKEN_ENCRYPTION_KEY"], secret)
    db.session.commit()
    return WithSecret(endpoint, secret)


def delete(user_id: int, endpoint_id: int) -> None:
    """The endpoint, its deliveries and their attempts go; its workflows find nothing left."""
    endpoint = endpoint_of(user_id, endpoint_id)
    # Said outright, not left to ON DELETE CASCADE, which SQLite applies only when asked.
    mine = db.select(WebhookDelivery.id).filter_by(endpoint_id=endpoint.id)
    db.session.execute(db.delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(mine)))
    db.session.execute(db.delete(WebhookDelivery).filter_by(endpoint_id=endpoint.id))
    db.session.execute(db.delete(WebhookEndpoint).filter_by(id=endpoint.id))
    db.session.commit()


def enable(user_id: int, endpoint_id: int) -> bool:
    """Take deliveries again: what waited is delivered now (or by the sweep, if Temporal is
    away). False when Temporal could not be told now."""
    endpoint = endpoint_of(user_id, endpoint_id)
    endpoint.enabled = True
    endpoint.disabled_reason = ""
    endpoint.disabled_at = None
    endpoint.failing_since = None
    db.session.commit()
    streams = db.session.scalars(
        db.select(WebhookDelivery.stream)
        .filter_by(endpoint_id=endpoint.id, status=DeliveryState.PENDING)
        .distinct()
    ).all()
    return _start(endpoint.id, list(streams))


def resend(user_id: int, delivery_id: int) -> WebhookDelivery:
    """Deliver the same event (the same webhook-id) again, after the stream's others."""
    delivery = db.session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.endpoint.user_id != user_id:
        raise NotFound
    again = WebhookDelivery(
        endpoint_id=delivery.endpoint_id, event_id=delivery.event_id, stream=delivery.stream
    )
    db.session.add(again)
    db.session.commit()
    if delivery.endpoint.enabled:
        _start(delivery.endpoint_id, [delivery.stream])
    return again


def _start(endpoint_id: int, streams: list[str]) -> bool:
    """Start or nudge the streams' delivery workflows; a failure is left to the sweep."""
    config = current_app.config
    inputs = [stream_input(endpoint_id, stream, config) for stream in streams]
    queue = config["TEMPORAL_TASK_QUEUE"]

    async def start_all(client) -> None:
        for input in inputs:
            await start_stream(client, input, queue)

    try:
        temporal.run(start_all, gateway.TIMEOUT)
    except Exception:
        current_app.logger.exception("could not start webhook deliveries; the sweep will")
        return False
    return True
