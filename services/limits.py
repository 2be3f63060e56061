"""The budgets every email a user causes spends (per user and per account), the daily cap of
emails to sellers per account, and the resend cooldown: rules the views, the API and tests share.
OverLimit says which budget is spent and when it frees up."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from flask import current_app
from limits import parse_many
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter
from sqlalchemy import or_

from core.clock import utcnow
from core.extensions import db, limiter

# Counts on its own while the shared store is unreachable, as Flask-Limiter's own fallback does.
_fallback = FixedWindowRateLimiter(MemoryStorage())


class OverLimit(Exception):
    """A limit is spent: `message` says which, `retry_at` (naive UTC) when it frees up."""

    def __init__(self, message: str, retry_at: datetime) -> None:
        super().__init__(message)
        self.message = message
        self.retry_at = retry_at

    @property
    def retry_after(self) -> int:
        """Seconds until the limit frees up, for the Retry-After header."""
        return max(1, int((self.retry_at - utcnow()).total_seconds()) + 1)


def spend(limit: str, budget: str, key: str, message: str) -> None:
    """Count one against `limit` (e.g. '30 per hour;100 per day') for `budget` and `key`, or
    raise OverLimit with `message` when it is spent."""
    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return
    for item in parse_many(limit):
        try:
            strategy = limiter.limiter
            allowed = strategy.hit(item, budget, key)
        except Exception:
            current_app.logger.warning("rate-limit store unreachable; counting in this process")
            strategy = _fallback
            allowed = strategy.hit(item, budget, key)
        if not allowed:
            reset = strategy.get_window_stats(item, budget, key).reset_time
            retry_at = datetime.fromtimestamp(reset, UTC).replace(tzinfo=None)
            raise OverLimit(message, max(retry_at, utcnow()))


def spend_sends(account, user_id: int, setting: str = "LIMIT_SEND") -> None:
    """One email (or workflow) caused by user `user_id` in `account`: it counts against the
    user's allowance and the account's, so neither many accounts nor many users multiply it."""
    limit = current_app.config[setting]
    spend(limit, setting, f"user:{user_id}", f"You have reached the limit of {limit}.")
    spend(
        limit, setting, f"account:{account.id}", f"{account.name} has reached the limit of {limit}."
    )


def spend_seller_email(account, user_id: int) -> None:
    """A request, resend or change of address by `user_id`: one more email to a seller today for
    `account`."""
    cap = current_app.config["CONNECT_DAILY_CAP"]
    spend_sends(account, user_id)
    spend(
        f"{cap} per day",
        "CONNECT_DAILY_CAP",
        f"account:{account.id}",
        f"{account.name} has reached today's limit of {cap} requests and resends.",
    )


def claim_resend(row) -> datetime | None:
    """Mark a request or invitation as resent now, or raise OverLimit while it was resent less
    than RESEND_COOLDOWN ago. Atomic, so two presses at once cannot both send. Returns the
    previous time, for release_resend."""
    cooldown: timedelta = current_app.config["RESEND_COOLDOWN"]
    model = type(row)
    now = utcnow()
    previous = row.last_sent_at
    claimed = db.session.execute(
        db.update(model)
        .where(
            model.id == row.id,
            or_(model.last_sent_at.is_(None), model.last_sent_at <= now - cooldown),
        )
        .values(last_sent_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    db.session.refresh(row)
    if claimed != 1:
        minutes = int(cooldown.total_seconds() // 60)
        raise OverLimit(
            f"This was sent again less than {minutes} minutes ago.", row.last_sent_at + cooldown
        )
    return previous


def spend_resend(row, spend_emails: Callable[[], None]) -> Callable[[], None] | None:
    """Count a resend of an open request or invitation against RESEND_COOLDOWN and, through
    `spend_emails`, the email limits; raise OverLimit (with the cooldown given back) when one is
    spent. Returns what gives the cooldown back if the workflow refuses after all (None for a
    closed row: nothing will be sent, the workflow says why)."""
    if not row.is_open:
        return None
    previous = claim_resend(row)
    try:
        spend_emails()
    except OverLimit:
        release_resend(row, previous)
        raise
    return lambda: release_resend(row, previous)


def release_resend(row, previous: datetime | None) -> None:
    """Undo claim_resend when nothing was sent after all, so the next press is not refused."""
    model = type(row)
    db.session.execute(
        db.update(model)
        .where(model.id == row.id, model.last_sent_at == row.last_sent_at)
        .values(last_sent_at=previous)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    db.session.refresh(row)
