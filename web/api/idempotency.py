"""Idempotency-Key on every POST, as Stripe's API has it: the same key with the same request
answers the first answer again (and does nothing again); the same key with another request is
a 409. Answers are kept IDEMPOTENCY_KEEP (24 hours by default); 5xx and 429 are not kept, so
a retry runs afresh."""

import functools
import hashlib
import json
import re
from datetime import timedelta

from flask import current_app, make_response, request
from flask_smorest import Blueprint
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException

from core.api_keys import IdempotentRequest
from core.clock import utcnow
from core.extensions import db
from web.api import auth
from web.api.problems import Problem, from_exception

HEADER = "Idempotency-Key"
KEY_PATTERN = re.compile(r"^[!-~]{1,255}$")  # visible ASCII: a UUID, or any key of the caller's
PARAMETER = {
    "in": "header",
    "name": HEADER,
    "required": False,
    "schema": {"type": "string", "pattern": KEY_PATTERN.pattern},
    "description": "Any unique string (a UUID): a retry with the same key and body answers the"
    " first answer again and changes nothing; the same key with another body is a 409.",
}


def _fingerprint() -> str:
    raw = request.get_data()
    try:  # the same JSON, however it is spaced or ordered, is the same request
        body = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":"))
    except ValueError:
        body = raw.decode("utf-8", "replace")
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def _kept(key: str) -> IdempotentRequest | None:
    keep: timedelta = current_app.config["IDEMPOTENCY_KEEP"]
    db.session.execute(
        db.delete(IdempotentRequest).where(IdempotentRequest.created_at < utcnow() - keep)
    )
    db.session.commit()
    return db.session.scalar(
        db.select(IdempotentRequest).filter_by(user_id=auth.user_id(), key=key)
    )


def _conflict(kept: IdempotentRequest, fingerprint: str):
    if kept.fingerprint != fingerprint:
        raise Problem(
            409,
            f"This {HEADER} was used with another request. Use a new key for a new request.",
            "idempotency-key-reused",
        )
    if kept.status == 0:
        raise Problem(
            409,
            f"A request with this {HEADER} is still being answered; retry in a moment.",
            "idempotency-key-in-use",
            headers={"Retry-After": "1"},
        )


def _replay(kept: IdempotentRequest):
    media = "application/problem+json" if kept.status >= 400 else "application/json"
    response = current_app.response_class(kept.body, status=kept.status, mimetype=media)
    response.headers["Idempotent-Replayed"] = "true"
    if kept.location:
        response.headers["Location"] = kept.location
    return response


def idempotent(view):
    """A POST view that honours Idempotency-Key."""

    @functools.wraps(view)
    def answer(*args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return view(*args, **kwargs)
        if not KEY_PATTERN.match(key):
            message = f"{HEADER} must be 1 to 255 visible ASCII characters (a UUID will do)."
            raise Problem(400, message, "bad-request")
        fingerprint = _fingerprint()
        kept = _kept(key)
        if kept is not None:
            _conflict(kept, fingerprint)
            return _replay(kept)
        kept = IdempotentRequest(user_id=auth.user_id(), key=key, fingerprint=fingerprint)
        db.session.add(kept)
        try:
            db.session.commit()
        except IntegrityError:  # the same key, at the same moment, from another process
            db.session.rollback()
            kept = _kept(key)
            _conflict(kept, fingerprint)
            return _replay(kept)
        try:
            response = make_response(view(*args, **kwargs))
        except HTTPException as error:
            response = from_exception(error)
        except Exception:
            db.session.rollback()
            _forget(kept.id)
            raise
        if response.status_code >= 500 or response.status_code == 429:
            _forget(kept.id)
            return response
        db.session.rollback()  # whatever the view left unfinished is not ours to commit
        row = db.session.get(IdempotentRequest, kept.id)
        row.status = response.status_code
        row.body = response.get_data(as_text=True)
        row.location = response.headers.get("Location", "")
        db.session.commit()
        return response

    return Blueprint.doc(parameters=[PARAMETER])(answer)


def _forget(kept_id: int) -> None:
    db.session.execute(db.delete(IdempotentRequest).where(IdempotentRequest.id == kept_id))
    db.session.commit()
