"""Who is asking: the API key in `Authorization: Bearer`, acting for the user who made it, with
that user's accounts and roles, and counted against the same limits as their pages."""

from datetime import timedelta

from flask import current_app, g, request
from flask_smorest import Blueprint

from core.accounts import Membership
from core.api_keys import ApiKey
from core.clock import utcnow
from core.extensions import db
from services import limits
from web.api.problems import Problem

# A key's last use is written at most this often, not on every call.
LAST_USED_PRECISION = timedelta(minutes=1)


def authenticate() -> None:
    """Before every API call but the document's: a live key, within the caller's rate limit."""
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    challenge = {"WWW-Authenticate": 'Bearer realm="api"'}
    if scheme.lower() != "bearer" or not secret.strip():
        raise Problem(
            401,
            "Send an API key as 'Authorization: Bearer <key>'. Create one on the API keys page.",
            "unauthorized",
            headers=challenge,
        )
    key = ApiKey.find(secret.strip())
    if key is None:
        _spend("LIMIT_API_AUTH", f"ip:{request.remote_addr}", "Too many calls with bad keys.")
        raise Problem(
            401, "This API key is not valid, or it was revoked.", "unauthorized", headers=challenge
        )
    _spend("LIMIT_API", f"user:{key.user_id}", "You have reached the API's rate limit.")
    now = utcnow()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_PRECISION:
        key.last_used_at = now
        db.session.commit()
    g.api_user_id = key.user_id


def _spend(setting: str, key: str, message: str) -> None:
    limit = current_app.config[setting]
    try:
        limits.spend(limit, setting, key, f"{message} ({limit})")
    except limits.OverLimit as over:
        raise over_limit(over) from None


def over_limit(over: limits.OverLimit) -> Problem:
    """429 with when to try again, in seconds (Retry-After) and in words."""
    return Problem(
        429,
        over.message,
        "rate-limited",
        headers={"Retry-After": str(over.retry_after)},
        extra={"retry_after": over.retry_after},
    )


def user_id() -> int:
    return g.api_user_id


def membership(account_id: int, admin: bool = False) -> Membership:
    """The caller's membership of the account: 404 for anyone outside it (as for an id that
    does not exist), 403 for a member where an admin is needed."""
    return _allowed(Membership.of(user_id(), account_id), admin, f"account {account_id}")


def _allowed(found: Membership | None, admin: bool, what: str) -> Membership:
    if found is None:
        raise Problem(404, f"No {what} among yours.", "not-found")
    if admin and not found.is_admin:
        raise Problem(403, "Only the account's admins can do that.", "forbidden")
    return found


def own(model, args: dict):
    """A query of `model`'s rows in the caller's accounts, narrowed by the list's `account_id`
    (404 unless it is one of theirs) and `status` filters."""
    query = db.select(model).join(
        Membership, (Membership.account_id == model.account_id) & (Membership.user_id == user_id())
    )
    if "account_id" in args:
        membership(args["account_id"])
        query = query.where(model.account_id == args["account_id"])
    if "status" in args:
        query = query.where(model.status == args["status"])
    return query


def one(model, noun: str, admin: bool = False, **key):
    """The row of `model` with this key (`public_id=...` or `id=...`) if it is in one of the
    caller's accounts (as an admin, when asked: 403 for a member); 404 for any other, as for
    one that does not exist."""
    found = db.session.scalar(db.select(model).filter_by(**key))
    mine = Membership.of(user_id(), found.account_id) if found is not None else None
    _allowed(mine, admin, f"{noun} {next(iter(key.values()))}")
    return found


def blueprint(name: str, path: str, description: str) -> Blueprint:
    """A resource's blueprint under /api/v1: every call authenticated first."""
    resource = Blueprint(
        f"api_{name}", __name__, url_prefix=f"/api/v1/{path}", description=description
    )
    resource.before_request(authenticate)
    return resource
