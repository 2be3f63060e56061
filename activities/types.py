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
class InviteEmailsInput:
    request_id: int
    link_expires_at: datetime


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


@dataclass
class Done:
    """The result of an activity that has nothing to report."""

    ok: bool = True
