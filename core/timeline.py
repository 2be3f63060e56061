"""A request's timeline: every line is added here, by the activities, the services and the web."""

from core.extensions import db
from core.requests import RequestEvent


def add_event(request_id: int, kind: str, actor: str, detail: str = "") -> RequestEvent:
    """A line on the request's timeline, in the current transaction (the caller commits)."""
    event = RequestEvent(request_id=request_id, actor=actor, kind=kind, detail=detail)
    db.session.add(event)
    return event
