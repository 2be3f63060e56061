"""Imports every model so that metadata (and Alembic) sees the whole schema."""

from core.accounts import AmazonConnection, ClientAccount, Membership
from core.api_keys import ApiKey, IdempotentRequest
from core.invitations import InvitationLink, UserInvitation
from core.requests import (
    Authorization,
    ConnectionLink,
    ConnectionRequest,
    OAuthState,
    RequestEvent,
)
from core.users import LoginToken, SignupAttempt, User
from core.webhooks import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent

__all__ = [
    "ApiKey",
    "IdempotentRequest",
    "SignupAttempt",
    "LoginToken",
    "InvitationLink",
    "Membership",
    "UserInvitation",
    "ConnectionLink",
    "RequestEvent",
    "AmazonConnection",
    "Authorization",
    "ClientAccount",
    "ConnectionRequest",
    "OAuthState",
    "User",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
]
