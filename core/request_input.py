"""A connection request's workflow input: the settings in force when it starts, copied in so
later changes never affect it."""

from datetime import timedelta

from core.config import connection_life
from core.requests import ConnectionRequest
from vocabulary import search_attributes
from vocabulary.messages import ConnectionRequestInput


def request_input(
    connection_request: ConnectionRequest,
    config,
    expires_after: timedelta,
    reminders: list[timedelta],
) -> ConnectionRequestInput:
    """For a new request (services.requests) or a renewal (asked by the connection's own
    workflow): reminders at `reminders` after sending, expiry `expires_after` after it."""
    return ConnectionRequestInput(
        seller_email_domain=search_attributes.email_domain(connection_request.client_email),
        request_id=connection_request.id,
        send_invite=connection_request.kind == ConnectionRequest.INVITE,
        account_name=connection_request.account.name,
        marketplace=connection_request.marketplace,
        requested_by=connection_request.requested_by.name,
        expires_after_seconds=int(expires_after.total_seconds()),
        reminder_offsets_seconds=[int(d.total_seconds()) for d in reminders],
        reminder_pause_seconds=int(config["CONNECT_REMINDER_PAUSE"].total_seconds()),
        life=connection_life(config),
        renewal=connection_request.is_renewal,
    )
