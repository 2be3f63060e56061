"""Connection requests, the OAuth states that start consent, and the authorizations that return."""

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core import marketplaces
from core.accounts import AmazonConnection, ClientAccount
from core.clock import utcnow
from core.extensions import db
from core.users import User
from vocabulary.statuses import OPEN_REQUEST_STATES, Outcome, RequestState


def new_public_id() -> str:
    return uuid.uuid4().hex


class AskedOf:
    """Who is asked to connect which marketplace: a request's fields, as the form takes them."""

    marketplace: Mapped[str] = mapped_column(String(2))
    client_name: Mapped[str] = mapped_column(String(120))
    client_email: Mapped[str] = mapped_column(String(254))
    note: Mapped[str] = mapped_column(Text, default="")


class EmailedLink:
    """An emailed link: only the SHA-256 of its token is kept. `superseded_at` is set when a
    newer link (a resend, a new address) or the end of what it was for replaces it: it stops
    working at once."""

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    superseded_at: Mapped[datetime | None]


class ConnectionRequest(AskedOf, db.Model):
    """One attempt to connect an account's marketplace; one Temporal workflow run each."""

    __tablename__ = "connection_requests"
    NOUN = "request"  # in messages to the bookkeeper

    # kind
    INVITE = "invite"  # the owner is emailed a link
    DIRECT = "direct"  # the signed-in user owns the seller account
    # purpose
    CONNECT = "connect"
    RENEW = "renew"  # asked by the connection's workflow before its authorization ends
    # status: vocabulary.statuses.RequestState (the OnboardingStatus search attribute too)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    account_id: Mapped[int] = mapped_column(ForeignKey("client_accounts.id"), index=True)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str] = mapped_column(String(16), default=CONNECT, server_default=CONNECT)
    # Requests for several regions sent together (one email, one checklist for the seller)
    # share the first one's public_id; None for a request alone.
    group_id: Mapped[str | None] = mapped_column(String(32), index=True)
    status: Mapped[str] = mapped_column(String(16), default=RequestState.SENT, index=True)
    status_detail: Mapped[str] = mapped_column(Text, default="")
    reminders_sent: Mapped[int] = mapped_column(default=0)
    last_reminder_at: Mapped[datetime | None]
    # When the bookkeeper last pressed Resend or changed the address (RESEND_COOLDOWN).
    last_sent_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    workflow_run_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    account: Mapped[ClientAccount] = relationship()
    requested_by: Mapped[User] = relationship()
    events: Mapped[list["RequestEvent"]] = relationship(
        back_populates="request", order_by="RequestEvent.id"
    )
    # The connection it stored, if any; the connection's `request` is this request.
    connection: Mapped[AmazonConnection | None] = relationship(backref="request")

    @property
    def workflow_id(self) -> str:
        """From the business key: Temporal itself refuses a second open request."""
        return workflow_id_for(self.account_id, self.marketplace)

    @classmethod
    def renewal_of(cls, connection: AmazonConnection, status: str) -> "ConnectionRequest":
        """A request asking the connection's owner (who connected it, for the bookkeeper who
        asked then) to renew it: an invitation, for renewal, in the connection's marketplace."""
        first = connection.request
        return cls(
            account_id=connection.account_id,
            requested_by_id=first.requested_by_id,
            kind=cls.INVITE,
            purpose=cls.RENEW,
            status=status,
            marketplace=connection.marketplace,
            client_name=first.client_name,
            client_email=first.client_email,
            note="",
        )

    def group(self) -> list["ConnectionRequest"]:
        """The requests sent together with this one, itself included, in the order asked."""
        if self.group_id is None:
            return [self]
        return list(
            db.session.scalars(
                db.select(ConnectionRequest)
                .filter_by(group_id=self.group_id)
                .order_by(ConnectionRequest.id)
            )
        )

    @property
    def marketplace_label(self) -> str:
        return marketplaces.get(self.marketplace).label

    @property
    def leads_group(self) -> bool:
        """Alone, or the first of its group: the one whose 'sent' email speaks for all."""
        return self.group_id is None or self.group_id == self.public_id

    @property
    def is_renewal(self) -> bool:
        return self.purpose == self.RENEW

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_REQUEST_STATES

    @property
    def connection_id(self) -> int | None:
        return self.connection.id if self.connection is not None else None


def workflow_id_for(account_id: int, marketplace: str) -> str:
    return f"connection-request-{account_id}-{marketplace}"


class ConnectionLink(EmailedLink, db.Model):
    """One emailed 'Continue to connect' link. Once superseded, a consent begun from it dies
    too."""

    __tablename__ = "connection_links"

    request_id: Mapped[int] = mapped_column(ForeignKey("connection_requests.id"), index=True)
    sent_to: Mapped[str] = mapped_column(String(254))
    # The first time the landing page was shown in a browser: "opened" is signalled once per link.
    opened_at: Mapped[datetime | None]

    request: Mapped[ConnectionRequest] = relationship()


class RequestEvent(db.Model):
    """One line of a request's timeline."""

    __tablename__ = "request_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("connection_requests.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(160))
    kind: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text, default="")

    request: Mapped[ConnectionRequest] = relationship(back_populates="events")


class OAuthState(db.Model):
    """A consent flow in progress: single-use, short-lived, bound to the browser that began it."""

    __tablename__ = "oauth_states"

    id: Mapped[int] = mapped_column(primary_key=True)
    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("connection_requests.id"), index=True)
    # The emailed link the seller started from (None: a direct connection); when that link is
    # replaced or closed, a consent begun from it is refused on its way back.
    link_id: Mapped[int | None] = mapped_column(ForeignKey("connection_links.id"))
    # A renewal begun at Amazon (the Log-in URI): the connection it renews. `request_id` is then
    # the request that stored it; the renewal request is made only once Amazon sends the seller
    # back with that connection's seller id, so a stranger's press creates nothing.
    connection_id: Mapped[int | None] = mapped_column(
        ForeignKey("amazon_connections.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None]

    request: Mapped[ConnectionRequest] = relationship()
    link: Mapped[ConnectionLink | None] = relationship()


class Authorization(db.Model):
    """What Amazon's redirect brought back, and what became of it.

    The code and tokens are encrypted, read only by activities, and wiped once they are used.
    """

    __tablename__ = "authorizations"

    # outcome: vocabulary.statuses.Outcome
    STORE_NAME_MAX = 120

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    request_id: Mapped[int] = mapped_column(ForeignKey("connection_requests.id"), index=True)
    selling_partner_id: Mapped[str] = mapped_column(String(64))
    # The link of the consent this came back from (None: a direct connection); see OAuthState.
    link_id: Mapped[int | None] = mapped_column(ForeignKey("connection_links.id"))
    code_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    access_token_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    access_token_expires_at: Mapped[datetime | None]
    refresh_token_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    outcome: Mapped[str] = mapped_column(String(24), default=Outcome.PENDING)
    outcome_message: Mapped[str] = mapped_column(Text, default="")
    # The seller account Amazon reported for a wrong account, shown to the seller and emailed to
    # the bookkeeper: its store name (Amazon's text, capped) and the countries it sells in
    # ("US,CA,MX"). None for other outcomes.
    store_name: Mapped[str | None] = mapped_column(String(STORE_NAME_MAX))
    sells_in: Mapped[str | None] = mapped_column(String(120))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)

    request: Mapped[ConnectionRequest] = relationship()
    link: Mapped[ConnectionLink | None] = relationship()

    @property
    def sells_in_countries(self) -> list[str]:
        return [c for c in (self.sells_in or "").split(",") if c]

    @property
    def link_replaced(self) -> bool:
        return self.link is not None and self.link.superseded_at is not None

    def wipe_secrets(self) -> None:
        self.code_encrypted = None
        self.access_token_encrypted = None
        self.access_token_expires_at = None
        self.refresh_token_encrypted = None


class RequestDraft(AskedOf, db.Model):
    """A request filled in and being previewed (post/redirect/get): the form's POST keeps it, the
    preview and its frame show it, Send turns it into a ConnectionRequest once. Kept here, not in
    the session cookie, so a 1,000-character note in any script fits. Nothing secret."""

    __tablename__ = "request_drafts"

    # Drafts older than this are deleted when their user previews another one.
    KEPT_FOR_DAYS = 7

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("client_accounts.id"))
    # Set by Send: Back then shows what was sent, and a second Send points to the request.
    request_id: Mapped[int | None] = mapped_column(ForeignKey("connection_requests.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Marketplaces of other regions asked for at once ("DE,JP"): one request each, one email.
    also: Mapped[str] = mapped_column(String(64), default="", server_default="")

    request: Mapped[ConnectionRequest | None] = relationship()

    @property
    def also_marketplaces(self) -> list[str]:
        return [c for c in self.also.split(",") if c]

    FIELDS = ("marketplace", "client_name", "client_email", "note")

    @property
    def fields(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in self.FIELDS}
