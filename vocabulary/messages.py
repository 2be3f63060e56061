"""The messages of the workflows (inputs, results, signals, updates, queries) and of their
activities: dataclasses that hold ids and values, never secrets."""

from dataclasses import dataclass, field
from datetime import datetime

from vocabulary.notices import AccountEmail, InvitationNotice, RequestNotice
from vocabulary.policies import CHECKS_PER_RUN

# ---- the connection request workflow ------------------------------------------------------


@dataclass
class ConnectionLife:
    """How a stored connection lives, copied in from the settings when its request starts:
    checked every `check_every_seconds` (CONNECTION_CHECK_EVERY); Amazon's authorization lasts
    `authorization_lifetime_seconds` (AMAZON_AUTHORIZATION_LIFETIME); the owner is asked to
    renew it `renewal_offsets_seconds` before it ends (RENEWAL_REMINDERS, longest first)."""

    check_every_seconds: int = 86400
    authorization_lifetime_seconds: int = 365 * 86400
    renewal_offsets_seconds: list[int] = field(default_factory=list)


@dataclass
class ConnectionRequestInput:
    """Copied in at start, so later changes of settings never affect a running request."""

    request_id: int
    send_invite: bool
    account_name: str
    marketplace: str
    requested_by: str
    expires_after_seconds: int
    reminder_offsets_seconds: list[int] = field(default_factory=list)
    reminder_pause_seconds: int = 86400
    seller_email_domain: str = ""  # kept current in the SellerEmailDomain search attribute
    # How the connection it stores lives once it connects (ConnectionWorkflow).
    life: ConnectionLife = field(default_factory=ConnectionLife)
    # A renewal (asked by the connection's workflow, which says when it lapses): no "expired"
    # email of its own.
    renewal: bool = False
    # Begun by the seller at Amazon (Manage Your Apps, the Log-in URI): no invitation, and the
    # seller who renews is thanked as an invited owner is.
    started_at_amazon: bool = False


@dataclass
class ConnectionRequestResult:
    status: str


@dataclass
class AuthorizationSubmitted:
    authorization_id: int


@dataclass
class AuthorizationOutcome:
    outcome: str
    message: str


@dataclass
class SellerProgress:
    """Signal: the seller opened the landing page, or pressed its button."""

    actor: str


@dataclass
class CancelRequest:
    actor: str


@dataclass
class ResendRequest:
    actor: str


@dataclass
class ChangeEmailRequest:
    new_email: str
    actor: str


@dataclass
class RequestStatus:
    status: str
    reminders_sent: int
    reminders_total: int
    last_reminder_at: datetime | None
    consent_started_at: datetime | None
    expires_at: datetime
    open: bool
    request_id: int = 0  # lets the app recognise its request in a run that ops reset


# ---- the user invitation workflow ---------------------------------------------------------


@dataclass
class UserInvitationInput:
    """Copied in at start, so later changes of settings never affect a running invitation."""

    invitation_id: int
    account_name: str
    email_domain: str
    invited_by: str
    expires_after_seconds: int
    reminder_offsets_seconds: list[int] = field(default_factory=list)


@dataclass
class UserInvitationResult:
    status: str


@dataclass
class AcceptInvitation:
    """Update: a signed-in user whose address matches accepts."""

    user_id: int


@dataclass
class InvitationAccepted:
    account_id: int


@dataclass
class InvitationStatus:
    status: str
    reminders_sent: int
    reminders_total: int
    expires_at: datetime
    invitation_id: int = 0  # lets the app recognise its invitation in a run that ops reset


# ---- activities -------------------------------------------------------------------------


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
    """One notice to one party."""

    request_id: int
    notice: RequestNotice


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
    """Whether the seller who consented may connect: sells in the marketplace, and is the seller
    already connected there if there is one (`expected_seller` names that one when not)."""

    participates: bool
    store_name: str
    expected_seller: str = ""


@dataclass
class StoredConnection:
    connection_id: int
    account_id: int = 0
    # When the seller authorized it at Amazon (now, for a new one, a renewal or a reconnect).
    authorized_at: datetime | None = None


# ---- a stored connection's life (ConnectionWorkflow) ------------------------------------------


@dataclass
class ConnectionInput:
    """Copied in at start: a connection checked every `life.check_every_seconds`, the first
    time after `first_check_after_seconds` (None: a random moment within the first interval, so
    connections made together are not checked together). `authorized_at` starts the renewal
    clock; `renewal_asked_for` is the authorization a renewal was already asked for (carried
    over a continue-as-new)."""

    connection_id: int
    account_id: int
    account_name: str
    marketplace: str
    life: ConnectionLife = field(default_factory=ConnectionLife)
    authorized_at: datetime | None = None
    first_check_after_seconds: int | None = None
    checks_per_run: int = CHECKS_PER_RUN
    renewal_asked_for: datetime | None = None


@dataclass
class CheckInput:
    """One health check: a refresh token refused past the authorization's lifetime has lapsed;
    before it, it was revoked."""

    connection_id: int
    authorization_lifetime_seconds: int = 365 * 86400


@dataclass
class Health:
    """A health check's verdict; `request_id` is the request that stored the connection now,
    `authorized_at` when the seller last authorized it (a renewal meanwhile moves it)."""

    status: str  # statuses.ConnectionState
    request_id: int = 0
    checked_at: datetime | None = None
    authorized_at: datetime | None = None


@dataclass
class RenewalInput:
    """Ask the owner to renew the connection before its authorization ends at `ends_at`: the
    first email now, a reminder at each of `reminder_offsets_seconds` before the end."""

    connection_id: int
    ends_at: datetime
    reminder_offsets_seconds: list[int] = field(default_factory=list)


@dataclass
class RenewalAsked:
    """The renewal request: `start` is its workflow's input when it is to be started (None: an
    open request for the marketplace serves, or the connection is gone, `request_id` 0)."""

    request_id: int = 0
    start: ConnectionRequestInput | None = None
    workflow_id: str = ""


@dataclass
class DisconnectRequest:
    """A bookkeeper disconnected it; `request_id` made the connection (its owner is told)."""

    actor: str
    request_id: int


@dataclass
class ConnectionStatus:
    status: str
    checked_at: datetime | None
    next_check_at: datetime | None
    checks: int
    authorized_at: datetime | None = None
    renewal_at: datetime | None = None  # when the owner is (or was) asked to renew


@dataclass
class ConnectionResult:
    status: str


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
    """A notice to the admin who invited."""

    invitation_id: int
    notice: InvitationNotice


@dataclass
class AccountEmailInput:
    """user_id None: no login (nothing is sent)."""

    purpose: AccountEmail
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
    # Live connections whose workflow ops had ended (Terminate, Cancel): started again.
    restarted: int = 0
