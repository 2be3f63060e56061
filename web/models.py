"""Imports every model so that metadata (and Alembic) sees the whole schema."""

from web.accounts.models import AmazonConnection, ClientAccount, Membership
from web.auth.models import LoginToken, SignupAttempt, User
from web.connect.models import (
    Authorization,
    ConnectionLink,
    ConnectionRequest,
    OAuthState,
    RequestEvent,
)
from web.members.models import InvitationLink, UserInvitation

__all__ = [
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
]
