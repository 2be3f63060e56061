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
    failed_bookkeeper, expired_bookkeeper, new_link_asked, withdrawn_by_operations,
    closed_by_operations, wrong_account_bookkeeper."""

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
class EmailChange:
    """Whether the address really changed (the same address again is a plain resend)."""

    changed: bool = True  # histories from before this result existed read as a change


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
class Closed:
    """The status the row ended in: the one asked for, or the one another step set first (a
    connection stored a moment before ops cancelled); '' in histories from before it existed."""

    status: str = ""


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
    """A notice to the admin who invited: joined, expired, withdrawn_by_operations,
    closed_by_operations."""

    invitation_id: int
    notice: str


@dataclass
class AccountEmailInput:
    """purpose: verify (finish signing up), already_registered, reset; user_id None: no login."""

    purpose: str
    user_id: int | None


@dataclass
class Orphan:
    """An open request or invitation whose workflow run ended without its code running."""

    kind: str  # request | invitation
    row_id: int
    run_id: str
    how: str  # Temporal's word for the run's end: terminated, failed, timed_out, gone


@dataclass
class ClosedByOperations:
    changed: bool  # False: it was closed already, or carries on in another run


@dataclass
class ReconcileInput:
    task_queue: str


@dataclass
class Reconciled:
    open_rows: int
    adopted: int
    closing: int
