"""The webhook outbox: a timeline line that is an event some endpoint wants records that event,
and one delivery per endpoint, in the same transaction; once it commits, each delivery's
workflow is nudged (signal-with-start). A start that never happened (the process died between
commit and start) is picked up by the reconciliation's sweep."""

import json
import logging
from collections.abc import Callable
from datetime import datetime

from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Session
from temporalio.client import Client

from core.accounts import AmazonConnection, Membership
from core.clock import utcnow
from core.extensions import db
from core.requests import ConnectionRequest
from core.webhooks import (
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    stream_workflow_id,
)
from vocabulary.statuses import OPERATIONS, ConnectionState, RequestState
from vocabulary.webhooks import DeliveryState, WebhookEventType, WebhookNudge, WebhookStreamInput

log = logging.getLogger(__name__)

# By name: workflows.webhooks imports core, not the other way round.
DELIVERY_WORKFLOW = "WebhookDeliveryWorkflow"
NUDGE_SIGNAL = "events_recorded"
_PENDING = "webhook_streams"  # session.info key: the streams to nudge once it commits

E = WebhookEventType
# A timeline line's kind, as the event a receiver is told.
REQUEST_EVENTS = {
    "sent": E.REQUEST_SENT,
    RequestState.OPENED: E.REQUEST_OPENED,
    "reminder": E.REQUEST_REMINDED,
    RequestState.CONNECTED: E.REQUEST_CONNECTED,
    RequestState.FAILED: E.REQUEST_FAILED,
    RequestState.EXPIRED: E.REQUEST_EXPIRED,
    RequestState.CANCELLED: E.REQUEST_WITHDRAWN,  # by the bookkeeper (not by operations)
}
CONNECTION_EVENTS = {
    "renewal_due": E.CONNECTION_RENEWAL_DUE,
    ConnectionState.REVOKED: E.CONNECTION_REVOKED,
    ConnectionState.LAPSED: E.CONNECTION_LAPSED,
}
# The status an event leaves the request (request.*) or connection (connection.*) in.
STATUS_AFTER = {
    E.REQUEST_SENT: RequestState.SENT,
    E.REQUEST_OPENED: RequestState.OPENED,
    E.REQUEST_REMINDED: RequestState.REMINDED,
    E.REQUEST_CONNECTED: RequestState.CONNECTED,
    E.REQUEST_FAILED: RequestState.FAILED,
    E.REQUEST_EXPIRED: RequestState.EXPIRED,
    E.REQUEST_WITHDRAWN: RequestState.CANCELLED,
    E.CONNECTION_RENEWAL_DUE: ConnectionState.RENEWAL_DUE,
    E.CONNECTION_REVOKED: ConnectionState.REVOKED,
    E.CONNECTION_LAPSED: ConnectionState.LAPSED,
    E.CONNECTION_RENEWED: ConnectionState.HEALTHY,
}

Dispatcher = Callable[[list[WebhookStreamInput]], None]
_dispatcher: Dispatcher | None = None


def dispatch_with(dispatcher: Dispatcher | None) -> None:
    """Who starts the delivery workflows after a commit (the worker sets its client's)."""
    global _dispatcher
    _dispatcher = dispatcher


def events_of(request: ConnectionRequest, kind: str, actor: str) -> list[WebhookEventType]:
    """The events a timeline line of `kind` is, if any."""
    if kind == RequestState.CANCELLED and actor == OPERATIONS:
        return []
    if kind in REQUEST_EVENTS:
        found = [REQUEST_EVENTS[kind]]
        if kind == RequestState.CONNECTED and request.is_renewal:
            found.append(E.CONNECTION_RENEWED)
        return found
    if kind in CONNECTION_EVENTS:
        return [CONNECTION_EVENTS[kind]]
    return []


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.replace(microsecond=0).isoformat() + "Z"


def payload(
    event_type: WebhookEventType,
    request: ConnectionRequest,
    connection: AmazonConnection | None,
    now: datetime,
) -> str:
    """The body receivers get: ids, status, marketplace and times; nothing secret (no token,
    code or link)."""
    status = STATUS_AFTER[event_type]
    data = {
        "request_id": request.public_id,
        "account_id": request.account_id,
        "connection_id": connection.id if connection is not None else None,
        "marketplace": request.marketplace,
        "status": str(status),
        "purpose": request.purpose,
        "requested_at": _iso(request.created_at),
        "expires_at": _iso(request.expires_at),
        "connected_at": _iso(connection.connected_at) if connection is not None else None,
        "authorized_at": _iso(connection.authorized_at) if connection is not None else None,
    }
    body = {"type": str(event_type), "timestamp": _iso(now), "data": data}
    return json.dumps(body, separators=(",", ":"))


def _endpoints_for(account_id: int, event_type: str) -> list[WebhookEndpoint]:
    """The enabled endpoints that want this event, of the account's admins now."""
    admins = db.select(Membership.user_id).filter_by(account_id=account_id, role=Membership.ADMIN)
    endpoints = db.session.scalars(
        db.select(WebhookEndpoint)
        .filter(WebhookEndpoint.enabled.is_(True), WebhookEndpoint.user_id.in_(admins))
        .order_by(WebhookEndpoint.id)
    )
    return [e for e in endpoints if e.wants(event_type)]


def record(request_id: int, kind: str, actor: str) -> None:
    """Called for every timeline line: records the events it is, for the endpoints that want
    them, in the current transaction (the caller commits)."""
    if kind not in REQUEST_EVENTS and kind not in CONNECTION_EVENTS:
        return  # most lines are no event: not even a read
    request = db.session.get(ConnectionRequest, request_id)
    if request is None:
        return
    types = events_of(request, kind, actor)
    if not types:
        return
    now = utcnow()
    for event_type in types:
        endpoints = _endpoints_for(request.account_id, event_type)
        if not endpoints:
            continue
        connection = AmazonConnection.of(request.account_id, request.marketplace)
        if event_type.startswith("connection."):
            if connection is None:
                continue
            stream = f"connection-{connection.id}"
        else:
            stream = f"request-{request.public_id}"
            if event_type != E.REQUEST_CONNECTED and (
                connection is None or connection.request_id != request.id
            ):
                connection = None  # not this request's
        recorded = WebhookEvent(
            type=event_type,
            account_id=request.account_id,
            request_id=request.id,
            connection_id=connection.id if connection is not None else None,
            payload=payload(event_type, request, connection, now),
            created_at=now,
        )
        db.session.add(recorded)
        for endpoint in endpoints:
            db.session.add(WebhookDelivery(endpoint=endpoint, event=recorded, stream=stream))
            pending = db.session.info.setdefault(_PENDING, {})
            pending[(endpoint.id, stream)] = stream_input(endpoint.id, stream, current_app.config)


def stream_input(endpoint_id: int, stream: str, config) -> WebhookStreamInput:
    """A delivery workflow's input, with the retry settings in force now."""
    return WebhookStreamInput(
        endpoint_id=endpoint_id,
        stream=stream,
        retry_initial_seconds=config["WEBHOOK_RETRY_INITIAL"].total_seconds(),
        retry_max_seconds=config["WEBHOOK_RETRY_MAX"].total_seconds(),
        deadline_seconds=config["WEBHOOK_DELIVERY_DEADLINE"].total_seconds(),
        idle_seconds=config["WEBHOOK_STREAM_IDLE"].total_seconds(),
    )


async def start_stream(client: Client, input: WebhookStreamInput, task_queue: str) -> None:
    """Signal-with-start: a running delivery workflow is nudged, else one starts."""
    await client.start_workflow(
        DELIVERY_WORKFLOW,
        input,
        id=stream_workflow_id(input.endpoint_id, input.stream),
        task_queue=task_queue,
        start_signal=NUDGE_SIGNAL,
        start_signal_args=[WebhookNudge()],
        static_summary=f"Webhook deliveries of {input.stream} to endpoint {input.endpoint_id}",
    )


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending or _dispatcher is None:
        return  # without a dispatcher (the web app), the sweep starts them
    try:
        _dispatcher(list(pending.values()))
    except Exception:  # the commit stands; the sweep starts what this did not
        log.exception("could not start webhook deliveries")


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


def waiting_streams(config) -> list[WebhookStreamInput]:
    """Streams of enabled endpoints with a delivery pending since over WEBHOOK_SWEEP_AFTER ago:
    the reconciliation starts those whose workflow is not running (the start after the commit
    never happened, or ops ended it)."""
    before = utcnow() - config["WEBHOOK_SWEEP_AFTER"]
    rows = db.session.execute(
        db.select(WebhookDelivery.endpoint_id, WebhookDelivery.stream)
        .join(WebhookEndpoint)
        .filter(
            WebhookEndpoint.enabled.is_(True),
            WebhookDelivery.status == DeliveryState.PENDING,
            WebhookDelivery.created_at < before,
        )
        .distinct()
    ).all()
    return [stream_input(endpoint_id, stream, config) for endpoint_id, stream in rows]
