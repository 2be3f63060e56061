"""Dataclasses that travel between workflows and activities. They hold ids, never secrets."""

from dataclasses import dataclass
from datetime import datetime


@dataclass
class RequestRef:
    request_id: int


@dataclass
class AuthorizationRef:
    authorization_id: int


@dataclass
class InvitationInput:
    """Email the seller a fresh link: first invitation, reminder, resend or new address."""

    request_id: int
    reason: str  # sent | reminder | resent | email_changed
    actor: str
    expires_at: datetime
    supersede_links: bool
    reminder_number: int = 0
    reminders_total: int = 0


@dataclass
class NoticeInput:
    """One notice to one party: connected_bookkeeper, connected_seller, connected_inviter,
    failed_bookkeeper, expired_bookkeeper, new_link_asked."""

    request_id: int
    notice: str


@dataclass
class EventInput:
    """A line for the request's timeline, and the status it leaves the request in."""

    request_id: int
    kind: str
    actor: str
    detail: str = ""
    status: str = ""


@dataclass
class ChangeEmailInput:
    request_id: int
    new_email: str
    actor: str


@dataclass
class EmailsSent:
    recipients: list[str]


@dataclass
class ExchangeResult:
    selling_partner_id: str


@dataclass
class MarketplaceCheck:
    participates: bool
    store_name: str


@dataclass
class StoredConnection:
    connection_id: int


@dataclass
class OutcomeInput:
    authorization_id: int
    outcome: str
    message: str


@dataclass
class CloseRequestInput:
    request_id: int
    status: str
    detail: str
    actor: str


@dataclass
class Done:
    """The result of an activity that has nothing to report."""

    ok: bool = True


@dataclass
class UserInvitationEmailInput:
    """Email the invitee a fresh link: first invitation, reminder or resend."""

    invitation_id: int
    reason: str  # sent | reminder | resent
    expires_at: datetime
    supersede_links: bool
    reminder_number: int = 0
    reminders_total: int = 0


@dataclass
class AcceptInput:
    invitation_id: int
    user_id: int


@dataclass
class MemberAdded:
    account_id: int
    membership_id: int


@dataclass
class CloseInvitationInput:
    invitation_id: int
    status: str
    actor: str


@dataclass
class InvitationNoticeInput:
    """A notice to the admin who invited: joined, expired."""

    invitation_id: int
    notice: str


@dataclass
class AccountEmailInput:
    """purpose: verify (finish signing up), already_registered, reset; user_id None: no login."""

    purpose: str
    user_id: int | None
