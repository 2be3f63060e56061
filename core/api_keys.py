"""API keys: a user's credentials for /api/v1, and the answers kept for Idempotency-Key."""

import secrets
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.clock import utcnow
from core.crypto import digest
from core.extensions import db
from core.users import User

KEY_PREFIX = "ak_"


class ApiKey(db.Model):
    """A key acts for the user who made it, with that user's roles and accounts. Only its
    SHA-256 is kept (the key is 256 random bits, so a slow hash adds nothing); the first
    characters are kept to tell keys apart on the settings page."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    shown_prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()

    @classmethod
    def issue(cls, user_id: int, name: str) -> tuple["ApiKey", str]:
        """A new key (not yet added to the session) and its secret, to be shown once."""
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        key = cls(user_id=user_id, name=name, key_hash=digest(secret), shown_prefix=secret[:10])
        return key, secret

    @classmethod
    def find(cls, secret: str) -> "ApiKey | None":
        """The live key with this secret, or None."""
        key = db.session.scalar(db.select(cls).filter_by(key_hash=digest(secret)))
        return key if key is not None and key.revoked_at is None else None


class IdempotentRequest(db.Model):
    """The first answer to a POST sent with an Idempotency-Key, replayed for the same key and
    body; `status` 0 while the first is still being answered."""

    __tablename__ = "idempotent_requests"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    key: Mapped[str] = mapped_column(String(255))
    # SHA-256 of method, path and body: the same key with another request is a conflict.
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer, default=0)
    body: Mapped[str] = mapped_column(Text, default="")
    location: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
