"""Webhook activities: find a stream's next delivery, POST it signed (every attempt recorded),
give up on it, and tell an endpoint's owner it was disabled."""

import time
from datetime import UTC, datetime

import httpx
from flask import current_app
from sqlalchemy import select, update
from standardwebhooks.webhooks import Webhook
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.deps import Activities
from activities.mail import composer, deliver
from core.clock import utcnow
from core.extensions import db
from core.safe_url import UnsafeURL, check_url
from core.webhook_emails import WEBHOOK_NOTICES
from core.webhooks import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from vocabulary.messages import Done
from vocabulary.notices import WebhookNotice
from vocabulary.webhooks import (
    DeliveryOutcome,
    DeliveryState,
    NextWebhookDelivery,
    WebhookDelivered,
    WebhookDeliveryRef,
    WebhookEndpointRef,
    WebhookStreamRef,
)

USER_AGENT = "LedgerBridge-Webhooks/1"


def pinned(url: str, addresses: list[str]) -> tuple[httpx.URL, dict[str, str], dict]:
    """The URL to connect to (the first checked address in place of the host), the Host header
    and the TLS name (the URL's own, so its certificate is still verified for it); unchanged
    when nothing was resolved (outside production)."""
    target = httpx.URL(url)
    if not addresses:
        return target, {}, {}
    host = target.host
    return (
        target.copy_with(host=addresses[0]),
        {"Host": target.netloc.decode("ascii")},
        {"sni_hostname": host},
    )


def post(url: str, body: str, headers: dict[str, str], timeout: float, production: bool) -> int:
    """POST once, redirects not followed; returns the status code. In production the host is
    resolved and checked here, and the connection goes to the address checked, so a DNS answer
    changed since the check cannot point it inside."""
    target, host, extensions = pinned(url, check_url(url, production))
    with (
        httpx.Client(follow_redirects=False, timeout=timeout, trust_env=False) as client,
        # Streamed and never read: only the status counts, however large the answer.
        client.stream(
            "POST",
            target,
            content=body.encode(),
            headers={**headers, **host},
            extensions=extensions,
        ) as response,
    ):
        return response.status_code


def signed_headers(event_id: str, body: str, secrets: list[str], now: float) -> dict[str, str]:
    """Standard Webhooks' headers, signed by its own library with each secret (two during a
    rotation's overlap): `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`."""
    timestamp = int(now)
    moment = datetime.fromtimestamp(timestamp, UTC)
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(Webhook(s).sign(event_id, moment, body) for s in secrets),
    }


def _disable_if_failing_too_long(endpoint: WebhookEndpoint, now: datetime, last: str) -> bool:
    """Disable an endpoint failing (no success) for WEBHOOK_DISABLE_AFTER; True if this call
    did (atomic: of two streams failing at once, one disables it and one email goes)."""
    if endpoint.failing_since is None:
        endpoint.failing_since = now
    window = current_app.config["WEBHOOK_DISABLE_AFTER"]
    if not endpoint.enabled or now - endpoint.failing_since < window:
        return False
    disabled = db.session.execute(
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint.id, WebhookEndpoint.enabled.is_(True))
        .values(
            enabled=False,
            disabled_at=now,
            disabled_reason=f"every delivery failed for {_days(window)} (last: {last}).",
        )
        .execution_options(synchronize_session="fetch")
    ).rowcount
    return disabled == 1


def _days(window) -> str:
    seconds = int(window.total_seconds())
    if seconds % 86400 == 0:
        days = seconds // 86400
        return f"{days} day{'s' if days != 1 else ''}"
    return f"{seconds} seconds"


class WebhookActivities(Activities):
    """Reads deliveries and endpoints, POSTs to endpoints, emails their owners."""

    @activity.defn
    def next_webhook_delivery(self, input: WebhookStreamRef) -> NextWebhookDelivery:
        """The stream's oldest pending delivery, if its endpoint takes deliveries."""
        with self.deps.session() as session:
            endpoint = session.get(WebhookEndpoint, input.endpoint_id)
            if endpoint is None or not endpoint.enabled:
                return NextWebhookDelivery()
            return NextWebhookDelivery(
                session.scalar(
                    select(WebhookDelivery.id)
                    .filter_by(
                        endpoint_id=input.endpoint_id,
                        stream=input.stream,
                        status=DeliveryState.PENDING,
                    )
                    .order_by(WebhookDelivery.id)
                    .limit(1)
                )
            )

    @activity.defn
    def deliver_webhook(self, input: WebhookDeliveryRef) -> WebhookDelivered:
        """One attempt, recorded; a failure raises for Temporal's retries (2xx is delivered)."""
        keys = self.deps.settings.token_encryption_key
        with self.deps.session() as session:
            delivery = session.get(WebhookDelivery, input.delivery_id)
            if delivery is None:
                return WebhookDelivered(DeliveryOutcome.GONE)
            endpoint = delivery.endpoint
            if not endpoint.enabled:
                return WebhookDelivered(DeliveryOutcome.ENDPOINT_DISABLED)
            if delivery.status != DeliveryState.PENDING:
                return WebhookDelivered(DeliveryOutcome.DELIVERED)
            url, body, event_id = endpoint.url, delivery.event.payload, delivery.event.public_id
            headers = signed_headers(
                event_id, body, endpoint.signing_secrets(keys, utcnow()), time.time()
            )
            timeout = current_app.config["WEBHOOK_TIMEOUT"]
            production = current_app.config["APP_ENV"] == "production"
            session.rollback()  # no transaction held open over the POST
        started = time.monotonic()
        status_code, error = None, ""
        try:
            status_code = post(url, body, headers, timeout, production)
        except UnsafeURL as err:
            error = f"refused: {err}"
        except httpx.TimeoutException:
            error = f"no answer within {timeout:g} s"
        except (httpx.HTTPError, httpx.InvalidURL, OSError, ValueError) as err:
            error = f"{type(err).__name__}: {err}"[:500]
        duration_ms = int((time.monotonic() - started) * 1000)
        with self.deps.session() as session:
            delivery = session.get(WebhookDelivery, input.delivery_id)
            if delivery is None:
                return WebhookDelivered(DeliveryOutcome.GONE)
            now = utcnow()
            attempt = WebhookAttempt(
                delivery_id=delivery.id,
                at=now,
                status_code=status_code,
                error=error,
                duration_ms=duration_ms,
            )
            session.add(attempt)
            endpoint = delivery.endpoint
            if attempt.succeeded:
                delivery.status = DeliveryState.DELIVERED
                delivery.finished_at = now
                endpoint.failing_since = None
                session.commit()
                return WebhookDelivered(DeliveryOutcome.DELIVERED)
            last = f"HTTP {status_code}" if status_code is not None else error
            disabled = _disable_if_failing_too_long(endpoint, now, last)
            session.commit()
            if disabled:
                return WebhookDelivered(DeliveryOutcome.DISABLED_NOW)
        raise ApplicationError(f"not delivered: {last}", type="WebhookNotDelivered")

    @activity.defn
    def give_up_webhook_delivery(self, input: WebhookDeliveryRef) -> WebhookDelivered:
        """Its retries ran out: failed (Resend tries again); the endpoint may be disabled now."""
        with self.deps.session() as session:
            delivery = session.get(WebhookDelivery, input.delivery_id)
            if delivery is None:
                return WebhookDelivered(DeliveryOutcome.GONE)
            if delivery.status == DeliveryState.PENDING:
                delivery.status = DeliveryState.FAILED
                delivery.finished_at = utcnow()
            disabled = _disable_if_failing_too_long(delivery.endpoint, utcnow(), "retries ran out")
            session.commit()
            if disabled:
                return WebhookDelivered(DeliveryOutcome.DISABLED_NOW)
            return WebhookDelivered(DeliveryOutcome.GAVE_UP)

    @activity.defn
    def notify_webhook_disabled(self, input: WebhookEndpointRef) -> Done:
        """Email the endpoint's owner that it was disabled (a stable Message-ID per disable)."""
        compose = composer(WEBHOOK_NOTICES, WebhookNotice.DISABLED, "notice")
        with self.deps.session() as session:
            endpoint = session.get(WebhookEndpoint, input.endpoint_id)
            if endpoint is None or endpoint.enabled or endpoint.disabled_at is None:
                return Done()
            email = compose(endpoint, self.deps.settings.app_base_url)
            key = f"webhook.{endpoint.id}.disabled.{endpoint.disabled_at:%Y%m%d%H%M%S}"
            deliver(self.deps.mailer, email, key)
            return Done()
