"""Statuses of requests and invitations, and outcomes of a return from Amazon: one definition,
stored in the database, published as the OnboardingStatus search attribute, shown on pages."""

from enum import StrEnum


class RequestState(StrEnum):
    """Where a connection request stands."""

    SENT = "sent"
    OPENED = "opened"
    CONSENT_STARTED = "consent_started"
    REMINDED = "reminded"
    CONNECTED = "connected"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    FAILED = "failed"
    # The workflow was ended in Temporal without running its code (Terminate): web/reconcile.py.
    CLOSED = "closed"


OPEN_REQUEST_STATES = (
    RequestState.SENT,
    RequestState.OPENED,
    RequestState.CONSENT_STARTED,
    RequestState.REMINDED,
)


class InvitationState(StrEnum):
    """Where an invitation of a user into an account stands."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    CLOSED = "closed"  # ended in Temporal without running its code (Terminate)


class Outcome(StrEnum):
    """What became of one return from Amazon (an authorization)."""

    PENDING = "pending"
    CONNECTED = "connected"
    CODE_EXPIRED = "code_expired"
    WRONG_ACCOUNT = "wrong_account"
    AMAZON_UNAVAILABLE = "amazon_unavailable"
    LINK_REPLACED = "link_replaced"
    CLOSED = "closed"  # the request closed while Amazon's answer was being handled
    # Amazon refused the app itself (its credentials, a role, a malformed call): not the seller.
    APP_REFUSED = "app_refused"
    # Another seller than the one connected there before: a reconnect must be the same seller.
    OTHER_SELLER = "other_seller"


# What the seller reads about each outcome.
OUTCOME_MESSAGES = {
    Outcome.CONNECTED: "Your Amazon seller account is connected.",
    Outcome.CODE_EXPIRED: "Amazon's one-time code expired or was already used. Start again and"
    " sign in to Amazon once more; it takes a minute.",
    Outcome.WRONG_ACCOUNT: "The Amazon account you signed in with does not sell in this"
    " marketplace. Sign in with the seller account that sells there.",
    Outcome.AMAZON_UNAVAILABLE: "Amazon did not answer in time. Nothing was connected; please"
    " try again in a few minutes.",
    Outcome.LINK_REPLACED: "This request was sent again, so the link you started from no longer"
    " works. Nothing was connected. Please use the link in the most recent email.",
    Outcome.CLOSED: "This connection request was withdrawn. Nothing was connected.",
    Outcome.OTHER_SELLER: "This is not the Amazon seller account connected before, so nothing"
    " was connected or changed. Sign in with the seller account that was connected.",
    Outcome.APP_REFUSED: "Amazon did not accept our app's own set-up, so nothing was connected."
    " This is on our side, not yours: you do not need to do anything now.",
}


class ConnectionState(StrEnum):
    """Where a stored connection stands: its health check's verdict (the ConnectionStatus search
    attribute, the account page)."""

    HEALTHY = "healthy"
    # Its authorization ends within RENEWAL_REMINDERS: the owner has been asked to renew it.
    RENEWAL_DUE = "renewal_due"
    # Amazon refused its refresh token within the authorization's lifetime: the seller removed
    # the app in Seller Central.
    REVOKED = "revoked"
    # Refused after AMAZON_AUTHORIZATION_LIFETIME: the seller must authorize again.
    LAPSED = "lapsed"
    DISCONNECTED = "disconnected"  # a bookkeeper disconnected it here


# A connection Amazon still accepts, as far as the last check knows.
LIVE_CONNECTION = (ConnectionState.HEALTHY, ConnectionState.RENEWAL_DUE)


class StuckReason(StrEnum):
    """Why a request is stuck, for ops (the StuckReason search attribute); unset otherwise."""

    EMAIL_FAILING = "email_failing"  # the mail server keeps refusing or is down
    AMAZON_CREDENTIALS = "amazon_credentials"  # LWA refused the app's client id or secret
    AMAZON_ROLE_MISSING = "amazon_role_missing"  # the Sellers API answered 403
    AMAZON_REJECTED = "amazon_rejected"  # Amazon called the app's request malformed (400, 404)


# The result of a run whose row the web app never saved (it crashed after starting it).
ABANDONED = "abandoned"
# The actor when ops act on a workflow in Temporal (Request Cancellation).
OPERATIONS = "operations"
