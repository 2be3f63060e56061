"""API keys: make one (its secret shown once), list and revoke a user's keys."""

from core.api_keys import ApiKey
from core.clock import utcnow
from core.extensions import db

MAX_LIVE_KEYS = 20


class TooManyKeys(Exception):
    """The user has MAX_LIVE_KEYS live keys already: revoke one first."""


def create(user_id: int, name: str) -> tuple[ApiKey, str]:
    """A new key for the user, and its secret: shown once, kept only as a hash."""
    live = db.session.scalar(
        db.select(db.func.count(ApiKey.id)).filter_by(user_id=user_id, revoked_at=None)
    )
    if live >= MAX_LIVE_KEYS:
        raise TooManyKeys(f"You have {MAX_LIVE_KEYS} keys already: revoke one you no longer use.")
    key, secret = ApiKey.issue(user_id, name)
    db.session.add(key)
    db.session.commit()
    return key, secret


def of_user(user_id: int) -> list[ApiKey]:
    """The user's keys, live first, newest first."""
    return list(
        db.session.scalars(
            db.select(ApiKey)
            .filter_by(user_id=user_id)
            .order_by(ApiKey.revoked_at.is_not(None), ApiKey.id.desc())
        )
    )


def revoke(user_id: int, key_id: int) -> ApiKey | None:
    """Revoke one of the user's keys at once; None if it is not theirs."""
    key = db.session.get(ApiKey, key_id)
    if key is None or key.user_id != user_id:
        return None
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        db.session.commit()
    return key
