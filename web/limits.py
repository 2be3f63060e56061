"""Rate limits: a key per seller's link, budgets that every email a user causes spends (per
user and per account), the resend cooldown, and when someone over a limit may try again."""

import functools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from flask import current_app, render_template, request
from flask_limiter.errors import RateLimitExceeded
from flask_login import current_user
from limits import parse_many
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter
from markupsafe import Markup
from sqlalchemy import or_

from core.clock import utcnow
from core.crypto import digest
from core.extensions import db
from web.accounts.access import membership_for
from web.extensions import limiter
from web.filters import ago, local_time

# Counts on its own while the shared store is unreachable, as Flask-Limiter's own fallback does.
_fallback = FixedWindowRateLimiter(MemoryStorage())


def per_link() -> str:
    """The seller's emailed link, by its token's hash (the raw token is kept nowhere)."""
    return f"link:{digest(request.view_args['token'])}"


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

    @property
    def text(self) -> Markup:
        """The message and when to try again, for a page or a flash: 'in 7 minutes (at 14:05
        UTC)', the time in the viewer's own zone once static/times.js has run."""
        return Markup("{} You can try again {} (at {}).").format(
            self.message, ago(self.retry_at), local_time(self.retry_at)
        )


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


def spend_sends(account, setting: str = "LIMIT_SEND") -> None:
    """One email (or workflow) caused by the signed-in user in `account`: it counts against the
    user's allowance and the account's, so neither many accounts nor many users multiply it."""
    limit = current_app.config[setting]
    spend(limit, setting, f"user:{current_user.id}", f"You have reached the limit of {limit}.")
    spend(
        limit, setting, f"account:{account.id}", f"{account.name} has reached the limit of {limit}."
    )


def spend_seller_email(account) -> None:
    """A request, resend or change of address: one more email to a seller today for `account`."""
    cap = current_app.config["CONNECT_DAILY_CAP"]
    spend_sends(account)
    spend(
        f"{cap} per day",
        "CONNECT_DAILY_CAP",
        f"account:{account.id}",
        f"{account.name} has reached today's limit of {cap} requests and resends.",
    )


def counts_as_send(view):
    """A view that starts a workflow for the signed-in user's account (given by the URL's
    account_id): LIMIT_SEND per user and per account. Outsiders get the 404 the view would give
    before anything is counted, so nobody can spend another account's allowance."""

    @functools.wraps(view)
    def limited(*args, **kwargs):
        account = membership_for(kwargs["account_id"]).account
        try:
            spend_sends(account)
        except OverLimit as over:
            return too_many(over)
        return view(*args, **kwargs)

    return limited


def too_many(over: OverLimit, template: str = "error.html", **context):
    """The answer to someone over a limit: what and when, with status 429 and Retry-After."""
    context.setdefault("code", 429)
    page = render_template(template, message=over.text, **context)
    return page, 429, {"Retry-After": str(over.retry_after)}


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


def rate_limited(error: RateLimitExceeded):
    """Flask-Limiter's 429, as a page that says when to try again (the seller's pages too)."""
    current = limiter.current_limit
    retry_at = (
        datetime.fromtimestamp(current.reset_at, UTC).replace(tzinfo=None)
        if current is not None
        else utcnow() + timedelta(minutes=1)
    )
    over = OverLimit("Too many tries in a short while.", retry_at)
    if request.blueprint == "consent":
        return too_many(over, "consent/problem.html", title="Too many tries")
    return too_many(over, error=error)
