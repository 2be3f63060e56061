"""In-memory state of the stand-in: codes, tokens, injected faults, test switches, call counts.

One process, one lock: this is a development and test stand-in, not a service.
"""

import secrets
import string
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from flask import current_app

# Real spapi_oauth_codes are short alphanumeric strings; keep the look so apps don't over-fit.
_CODE_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True)
class Authorization:
    """Which seller account consented, and in which region (NA, EU, FE): Amazon's authorization
    is regional, so the code, the refresh token and every access token made from it carry it."""

    seller_email: str
    region: str


@dataclass(frozen=True)
class AuthorizationCode:
    """An spapi_oauth_code, bound to the client and redirect URI of one consent."""

    client_id: str
    redirect_uri: str
    authorization: Authorization
    expires_at: float


@dataclass(frozen=True)
class Grant:
    """What a refresh token stands for: one seller's authorization of one client, given at
    `granted_at` (monotonic seconds): it lapses after the authorization lifetime."""

    client_id: str
    authorization: Authorization
    granted_at: float = 0.0


@dataclass(frozen=True)
class AccessToken:
    authorization: Authorization
    expires_at: float


@dataclass
class Fault:
    """The next `count` calls to one endpoint wait `delay` seconds, then fail with `status`."""

    count: int = 1
    status: int | None = None
    delay: float = 0.0
    error: str | None = None
    bare: bool = False  # no Amazon error body: as a gateway or load balancer in front answers

    def to_json(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "status": self.status,
            "delay": self.delay,
            "error": self.error,
            "bare": self.bare,
        }


class CodeRejected(Exception):
    """The code cannot be redeemed; the message says why (for error_description)."""


@dataclass
class Store:
    lock: threading.Lock = field(default_factory=threading.Lock)
    codes: dict[str, AuthorizationCode] = field(default_factory=dict)
    grants: dict[str, Grant] = field(default_factory=dict)
    access_tokens: dict[str, AccessToken] = field(default_factory=dict)
    faults: dict[str, Fault] = field(default_factory=dict)
    token_calls: Counter[str] = field(default_factory=Counter)
    participations_calls: int = 0
    # The User-Agent of every call, per endpoint: Amazon asks apps to name themselves.
    user_agents: dict[str, set[str]] = field(default_factory=dict)
    # Set by the test controls; None and False mean "as configured".
    client_secret: str | None = None
    previous_client_secret: str | None = None
    role_withheld: bool = False
    # Seconds an authorization lasts (None: SANDBOX_AUTHORIZATION_LIFETIME), for tests.
    authorization_lifetime: float | None = None

    def issue_code(
        self, client_id: str, redirect_uri: str, authorization: Authorization, ttl: float
    ) -> str:
        code = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(20))
        with self.lock:
            self.codes[code] = AuthorizationCode(
                client_id, redirect_uri, authorization, time.monotonic() + ttl
            )
        return code

    def redeem_code(self, code: str) -> AuthorizationCode:
        """Take the code out of the store: any presentation uses it up, as single-use demands."""
        with self.lock:
            found = self.codes.pop(code, None)
        if found is None:
            raise CodeRejected("The authorization code is invalid or has already been used.")
        if time.monotonic() >= found.expires_at:
            raise CodeRejected("The authorization code has expired.")
        return found

    def issue_refresh_token(self, client_id: str, authorization: Authorization) -> str:
        token = "Atzr|" + secrets.token_urlsafe(48)
        with self.lock:
            self.grants[token] = Grant(client_id, authorization, time.monotonic())
        return token

    def find_grant(self, refresh_token: str) -> Grant | None:
        with self.lock:
            return self.grants.get(refresh_token)

    def issue_access_token(self, authorization: Authorization, ttl: float) -> str:
        token = "Atza|" + secrets.token_urlsafe(48)
        with self.lock:
            self.access_tokens[token] = AccessToken(authorization, time.monotonic() + ttl)
        return token

    def find_access_token(self, token: str) -> AccessToken | None:
        """The live access token, or None if unknown or expired."""
        with self.lock:
            found = self.access_tokens.get(token)
        if found is None or time.monotonic() >= found.expires_at:
            return None
        return found

    def revoke(self, seller_email: str) -> int:
        """Drop every token of a seller, as when they remove the app in Seller Central."""
        with self.lock:
            grants = [
                t for t, g in self.grants.items() if g.authorization.seller_email == seller_email
            ]
            for token in grants:
                del self.grants[token]
            accesses = [
                t
                for t, a in self.access_tokens.items()
                if a.authorization.seller_email == seller_email
            ]
            for token in accesses:
                del self.access_tokens[token]
        return len(grants) + len(accesses)

    def authorized_since(self, seller_email: str) -> float | None:
        """Seconds since the seller last authorized the app (None: not authorized, or removed):
        what Manage Your Apps lists."""
        with self.lock:
            granted = [
                g.granted_at
                for g in self.grants.values()
                if g.authorization.seller_email == seller_email
            ]
        return time.monotonic() - max(granted) if granted else None

    def rotate_client_secret(self, new_secret: str, configured: str, previous_valid: bool) -> None:
        """Make `new_secret` the client secret; the one it replaces keeps working only if
        `previous_valid` (Amazon's grace period after a rotation)."""
        with self.lock:
            replaced = self.client_secret or configured
            self.client_secret = new_secret
            self.previous_client_secret = replaced if previous_valid else None

    def client_secrets(self, configured: str) -> list[str]:
        """The client secrets that authenticate now: the current one, then any still valid."""
        with self.lock:
            current = [self.client_secret or configured]
            return current + ([self.previous_client_secret] if self.previous_client_secret else [])

    def lapse_after(self, seconds: float | None) -> None:
        with self.lock:
            self.authorization_lifetime = seconds

    def withhold_role(self, withheld: bool) -> None:
        with self.lock:
            self.role_withheld = withheld

    def set_fault(self, endpoint: str, fault: Fault) -> None:
        with self.lock:
            self.faults[endpoint] = fault

    def take_fault(self, endpoint: str) -> Fault | None:
        """The fault to apply to this call, if one is armed; uses up one of its count."""
        with self.lock:
            fault = self.faults.get(endpoint)
            if fault is None:
                return None
            fault.count -= 1
            if fault.count <= 0:
                del self.faults[endpoint]
            return Fault(1, fault.status, fault.delay, fault.error, fault.bare)

    def count_token_call(self, grant_type: str, user_agent: str) -> None:
        with self.lock:
            self.token_calls[grant_type] += 1
            self.user_agents.setdefault("token", set()).add(user_agent)

    def count_participations_call(self, user_agent: str) -> None:
        with self.lock:
            self.participations_calls += 1
            self.user_agents.setdefault("participations", set()).add(user_agent)

    def stats(self) -> dict[str, Any]:
        with self.lock:
            token = {"authorization_code": 0, "refresh_token": 0, **self.token_calls}
            token["total"] = sum(self.token_calls.values())
            return {
                "token": token,
                "participations": self.participations_calls,
                "user_agents": {name: sorted(seen) for name, seen in self.user_agents.items()},
                "faults": {name: f.to_json() for name, f in self.faults.items()},
                # The state of the switches, never a secret's value.
                "client_secret": {
                    "rotated": self.client_secret is not None,
                    "previous_valid": self.previous_client_secret is not None,
                },
                "roles": {"withheld": self.role_withheld},
                "authorization_lifetime": self.authorization_lifetime,
            }

    def reset(self) -> None:
        with self.lock:
            self.codes.clear()
            self.grants.clear()
            self.access_tokens.clear()
            self.faults.clear()
            self.token_calls.clear()
            self.participations_calls = 0
            self.user_agents.clear()
            self.client_secret = None
            self.previous_client_secret = None
            self.role_withheld = False
            self.authorization_lifetime = None


def get_store() -> Store:
    """The store of the current app (each app made by create_app has its own)."""
    return current_app.extensions["amazon_sandbox"]
