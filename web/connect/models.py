"""Connection requests, the OAuth states that start consent, and the authorizations that return."""

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from web.accounts.models import ClientAccount
from web.auth.models import User, utcnow
from web.extensions import db


def new_public_id() -> str:
    return uuid.uuid4().hex


class ConnectionRequest(db.Model):
    """One attempt to connect an account's marketplace; one Temporal workflow each."""

    __tablename__ = "connection_requests"

    # kind
    INVITE = "invite"  # the owner is emailed a link
    DIRECT = "direct"  # the signed-in user owns the seller account
    # status
    PENDING = "pending"
    CONNECTED = "connected"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    account_id: Mapped[int] = mapped_column(ForeignKey("client_accounts.id"), index=True)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(16))
    marketplace: Mapped[str] = mapped_column(String(2))
    client_name: Mapped[str] = mapped_column(String(120))
    client_email: Mapped[str] = mapped_column(String(254))
    note: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    status_detail: Mapped[str] = mapped_column(Text, default="")
    # SHA-256 of the emailed link's token; the token itself is never stored.
    link_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    link_expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    account: Mapped[ClientAccount] = relationship()
    requested_by: Mapped[User] = relationship()

    @property
    def workflow_id(self) -> str:
        return f"connection-request-{self.public_id}"

    @property
    def is_open(self) -> bool:
        return self.status == self.PENDING


class OAuthState(db.Model):
    """A consent flow in progress: single-use, short-lived, bound to the browser that began it."""

    __tablename__ = "oauth_states"

    id: Mapped[int] = mapped_column(primary_key=True)
    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("connection_requests.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None]

    request: Mapped[ConnectionRequest] = relationship()


class Authorization(db.Model):
    """What Amazon's redirect brought back, and what became of it.

    The code and tokens are encrypted, read only by activities, and wiped once they are used.
    """

    __tablename__ = "authorizations"

    PENDING = "pending"
    CONNECTED = "connected"
    CODE_EXPIRED = "code_expired"
    WRONG_ACCOUNT = "wrong_account"
    AMAZON_UNAVAILABLE = "amazon_unavailable"
    FAILED = "failed"
    CLOSED = "closed"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    request_id: Mapped[int] = mapped_column(ForeignKey("connection_requests.id"), index=True)
    selling_partner_id: Mapped[str] = mapped_column(String(64))
    code_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    access_token_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    access_token_expires_at: Mapped[datetime | None]
    refresh_token_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    outcome: Mapped[str] = mapped_column(String(24), default=PENDING)
    outcome_message: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[datetime] = mapped_column(default=utcnow)

    request: Mapped[ConnectionRequest] = relationship()

    def wipe_secrets(self) -> None:
        self.code_encrypted = None
        self.access_token_encrypted = None
        self.access_token_expires_at = None
        self.refresh_token_encrypted = None
