"""Invitations of users into an account (option 2: the seller joins and connects directly)."""

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.accounts import ClientAccount
from core.clock import utcnow
from core.crypto import keyed_digest
from core.extensions import db
from core.requests import EmailedLink, new_public_id
from core.users import User
from vocabulary.statuses import InvitationState


class UserInvitation(db.Model):
    """One invitation of an email address into an account; one Temporal workflow run each."""

    __tablename__ = "user_invitations"
    NOUN = "invitation"  # in messages to the bookkeeper

    # status: vocabulary.statuses.InvitationState

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    account_id: Mapped[int] = mapped_column(ForeignKey("client_accounts.id"), index=True)
    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(16))
    invited_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(16), default=InvitationState.PENDING, index=True)
    reminders_sent: Mapped[int] = mapped_column(default=0)
    # When an admin last pressed Resend (RESEND_COOLDOWN).
    last_sent_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    accepted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Set once at creation (workflow_id_for) and kept: rows from before it was keyed keep the
    # id their running workflow has.
    workflow_id: Mapped[str] = mapped_column(String(80))
    workflow_run_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    account: Mapped[ClientAccount] = relationship()
    invited_by: Mapped[User] = relationship(foreign_keys=[invited_by_id])

    @property
    def is_open(self) -> bool:
        return self.status == InvitationState.PENDING


def workflow_id_for(secret_key: str, account_id: int, email: str) -> str:
    """The workflow id of a new invitation: from the business key (one open invitation per
    address and account), keyed so that Temporal never holds a guessable hash of the address.

    An invitation still open for the address lends its id, so Temporal refuses the second one
    even when that id was made before the key (or under an older SECRET_KEY).
    """
    email = email.lower()
    open_one = db.session.scalar(
        db.select(UserInvitation.workflow_id)
        .filter_by(account_id=account_id, email=email, status=InvitationState.PENDING)
        .order_by(UserInvitation.id.desc())
    )
    if open_one is not None:
        return open_one
    mac = keyed_digest(secret_key, "user-invitation-workflow", str(account_id), email)
    return f"user-invitation-{account_id}-{mac[:32]}"


class InvitationLink(EmailedLink, db.Model):
    """One emailed 'Accept invitation' link."""

    __tablename__ = "invitation_links"

    invitation_id: Mapped[int] = mapped_column(ForeignKey("user_invitations.id"), index=True)

    invitation: Mapped[UserInvitation] = relationship()


def close_open_invitation(invitation: UserInvitation, status: str) -> bool:
    """Close an invitation that is still pending (atomic: a concurrent accept or close wins)
    and kill its links; False, with nothing written, when it was no longer pending."""
    from core.request_rows import supersede_links

    closed = db.session.execute(
        db.update(UserInvitation)
        .where(UserInvitation.id == invitation.id, UserInvitation.status == InvitationState.PENDING)
        .values(status=status)
        .execution_options(synchronize_session="fetch")
    ).rowcount
    if closed == 1:
        supersede_links(InvitationLink, invitation_id=invitation.id)
    db.session.refresh(invitation)
    return closed == 1
