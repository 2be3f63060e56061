"""A request's timeline: every line is added here, by the activities, the services and the web."""

from core import webhook_outbox
from core.extensions import db
from core.requests import RequestEvent


def add_event(request_id: int, kind: str, actor: str, detail: str = "") -> RequestEvent:
    """A line on the request's timeline, in the current transaction (the caller commits); a line
    that is a webhook event records it for the endpoints that want it, in the same one."""
    event = RequestEvent(request_id=request_id, actor=actor, kind=kind, detail=detail)
    db.session.add(event)
    webhook_outbox.record(request_id, kind, actor)
    return event
