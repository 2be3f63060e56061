"""Client accounts (the businesses whose books are kept) and their Amazon connections."""

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.clock import utcnow
from core.extensions import db
from core.users import User
from vocabulary.statuses import LIVE_CONNECTION, ConnectionState


class ClientAccount(db.Model):
    __tablename__ = "client_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    connections: Mapped[list["AmazonConnection"]] = relationship(
        back_populates="account", order_by="AmazonConnection.marketplace"
    )
    memberships: Mapped[list["Membership"]] = relationship(
        back_populates="account", order_by="Membership.id"
    )

    def admins(self) -> list["Membership"]:
        return [m for m in self.memberships if m.role == Membership.ADMIN]


class Membership(db.Model):
    """A user's place in an account: admins run it, members see it (and may connect Amazon)."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("account_id", "user_id"),)

    ADMIN = "admin"
    MEMBER = "member"
    ROLES = (ADMIN, MEMBER)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("client_accounts.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    # Who invited this user (none for the account's creator): told when they connect Amazon.
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    account: Mapped[ClientAccount] = relationship(back_populates="memberships")
    user: Mapped[User] = relationship(foreign_keys=[user_id])
    invited_by: Mapped[User | None] = relationship(foreign_keys=[invited_by_id])

    @property
    def is_admin(self) -> bool:
        return self.role == self.ADMIN

    @classmethod
    def of(cls, user_id: int, account_id: int) -> "Membership | None":
        """The user's membership of the account, if they belong to it."""
        return db.session.scalar(db.select(cls).filter_by(account_id=account_id, user_id=user_id))


class AmazonConnection(db.Model):
    """A seller's stored grant for one marketplace of an account; the refresh token is encrypted."""

    __tablename__ = "amazon_connections"
    __table_args__ = (UniqueConstraint("account_id", "marketplace"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("client_accounts.id"), index=True)
    marketplace: Mapped[str] = mapped_column(String(2))
    selling_partner_id: Mapped[str] = mapped_column(String(64))
    store_name: Mapped[str] = mapped_column(String(200), default="")
    refresh_token_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    # The connection request that stored it; makes storing idempotent.
    request_id: Mapped[int] = mapped_column(ForeignKey("connection_requests.id"), unique=True)
    connected_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Its health check's verdict (ConnectionWorkflow): statuses.ConnectionState.
    status: Mapped[str] = mapped_column(
        String(20), default=ConnectionState.HEALTHY, server_default=ConnectionState.HEALTHY
    )
    checked_at: Mapped[datetime | None]
    # When the seller last authorized it at Amazon: the authorization lapses a lifetime later.
    authorized_at: Mapped[datetime | None]
    # The marketplaces of its region the seller sells in ("DE,FR,GB"): one authorization covers
    # them all. From Amazon's participations, at connect and at each health check.
    covers: Mapped[str] = mapped_column(String(120), default="", server_default="")

    account: Mapped[ClientAccount] = relationship(back_populates="connections")
    # `request`, the request that stored it (who its owner is): core.requests declares it.

    @property
    def covered(self) -> list[str]:
        return [c for c in self.covers.split(",") if c]

    @classmethod
    def covering(cls, account_id: int, country: str) -> "AmazonConnection | None":
        """The account's live connection of another marketplace whose authorization covers
        `country` too (one region's marketplaces share it), if any."""
        for connection in db.session.scalars(
            db.select(cls).filter(
                cls.account_id == account_id,
                cls.marketplace != country,
                cls.status.in_(LIVE_CONNECTION),
            )
        ):
            if country in connection.covered:
                return connection
        return None

    @classmethod
    def of(cls, account_id: int, marketplace: str) -> "AmazonConnection | None":
        """The account's connection in that marketplace, if there is one (at most one)."""
        return db.session.scalar(
            db.select(cls).filter_by(account_id=account_id, marketplace=marketplace)
        )
