"""The names of the emails a workflow asks an activity to send: a request's notices, an
invitation's notices and the account emails. Their values travel in workflow histories, so a
value never changes; each names one entry of a registry of composers in core/*_emails.py."""

from enum import StrEnum


class EmailName(StrEnum):
    """A name that decodes even when unknown (an old history, a caller's typo): the activity that
    looks it up then fails for good and says which; a failure to decode would be retried."""

    @classmethod
    def _missing_(cls, value: object) -> "EmailName | None":
        if not isinstance(value, str):
            return None
        unknown = str.__new__(cls, value)
        unknown._name_ = f"unknown {value!r}"
        unknown._value_ = value
        return unknown


class RequestNotice(EmailName):
    """A notice of a connection request to one party."""

    CONNECTED_BOOKKEEPER = "connected_bookkeeper"
    CONNECTED_INVITER = "connected_inviter"
    CONNECTED_SELLER = "connected_seller"
    FAILED_BOOKKEEPER = "failed_bookkeeper"
    EXPIRED_BOOKKEEPER = "expired_bookkeeper"
    NEW_LINK_ASKED = "new_link_asked"
    WITHDRAWN_BY_OPERATIONS = "withdrawn_by_operations"
    CLOSED_BY_OPERATIONS = "closed_by_operations"
    WRONG_ACCOUNT_BOOKKEEPER = "wrong_account_bookkeeper"
    APP_REFUSED_BOOKKEEPER = "app_refused_bookkeeper"
    # The connection the request stored, later in its life.
    REVOKED_BOOKKEEPER = "revoked_bookkeeper"
    LAPSED_BOOKKEEPER = "lapsed_bookkeeper"
    DISCONNECTED_OWNER = "disconnected_owner"


class InvitationNotice(EmailName):
    """A notice of a user invitation to the admin who invited."""

    JOINED = "joined"
    EXPIRED = "expired"
    WITHDRAWN_BY_OPERATIONS = "withdrawn_by_operations"
    CLOSED_BY_OPERATIONS = "closed_by_operations"


class AccountEmail(EmailName):
    """An email about a login, with the link that proves the address."""

    VERIFY = "verify"  # finish signing up
    ALREADY_REGISTERED = "already_registered"
    RESET = "reset"


class WebhookNotice(EmailName):
    """An email about a user's webhook endpoint."""

    DISABLED = "webhook_disabled"
