"""Issuing an emailed link: the one routine behind every link the activities send."""

import math
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, scoped_session

from activities.identity import email_identity
from core.clock import utcnow
from core.crypto import digest, link_token
from core.request_rows import supersede_links


def issue_link(
    session: Session | scoped_session[Session],
    secret_key: str,
    label: str,
    model: type,
    owner: dict[str, int],
    supersede: bool = False,
    **values,
) -> str:
    """A fresh link's token, derived from this activity execution (HMAC under `secret_key` of
    `label` and its identity), so a retry rebuilds the same link and finds its row there; only the
    token's hash is stored, in a new `model` row for `owner` (with `values`). `supersede`: every
    other live link of `owner` stops working. The caller commits, before the email can arrive."""
    token = link_token(secret_key, label, *email_identity())
    token_hash = digest(token)
    if supersede:
        supersede_links(model, keep=token_hash, **owner)
    if not session.scalar(select(model.id).filter_by(token_hash=token_hash)):
        session.add(model(**owner, token_hash=token_hash, **values))
    return token


def days_left(expires_at: datetime) -> int:
    """Whole days, rounded up, until a link expiring at `expires_at` (naive UTC) stops working."""
    return max(0, math.ceil((expires_at - utcnow()).total_seconds() / 86400))
