"""The web side of rate limits: a key per seller's link, a decorator for views that start a
workflow, and the 429 pages that say when to try again (the rules: services/limits.py)."""

import functools
from datetime import UTC, datetime, timedelta

from flask import render_template, request
from flask_limiter.errors import RateLimitExceeded
from flask_login import current_user
from markupsafe import Markup

from core.clock import utcnow
from core.crypto import digest
from core.extensions import limiter
from services.limits import OverLimit, spend_sends
from web.accounts.access import membership_for
from web.filters import ago, local_time


def per_link() -> str:
    """The seller's emailed link, by its token's hash (the raw token is kept nowhere)."""
    return f"link:{digest(request.view_args['token'])}"


def said(over: OverLimit) -> Markup:
    """What is spent and when to try again, for a page or a flash: 'in 7 minutes (at 14:05
    UTC)', the time in the viewer's own zone once static/times.js has run."""
    return Markup("{} You can try again {} (at {}).").format(
        over.message, ago(over.retry_at), local_time(over.retry_at)
    )


def counts_as_send(view):
    """A view that starts a workflow for the signed-in user's account (given by the URL's
    account_id): LIMIT_SEND per user and per account. Outsiders get the 404 the view would give
    before anything is counted, so nobody can spend another account's allowance."""

    @functools.wraps(view)
    def limited(*args, **kwargs):
        account = membership_for(kwargs["account_id"]).account
        try:
            spend_sends(account, current_user.id)
        except OverLimit as over:
            return too_many(over)
        return view(*args, **kwargs)

    return limited


def too_many(over: OverLimit, template: str = "error.html", **context):
    """The answer to someone over a limit: what and when, with status 429 and Retry-After."""
    context.setdefault("code", 429)
    page = render_template(template, message=said(over), **context)
    return page, 429, {"Retry-After": str(over.retry_after)}


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
