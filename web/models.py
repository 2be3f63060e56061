"""Imports every model so that metadata (and Alembic) sees the whole schema."""

from web.accounts.models import AmazonConnection, ClientAccount
from web.auth.models import User
from web.connect.models import (
    Authorization,
    ConnectionLink,
    ConnectionRequest,
    OAuthState,
    RequestEvent,
)

__all__ = [
    "ConnectionLink",
    "RequestEvent",
    "AmazonConnection",
    "Authorization",
    "ClientAccount",
    "ConnectionRequest",
    "OAuthState",
    "User",
]
