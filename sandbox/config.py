"""Stand-in settings: read from the environment, with safe local defaults."""

import os
from collections.abc import MutableMapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

DEFAULTS: dict[str, str] = {
    "SANDBOX_APP_ID": "amzn1.sp.solution.demo-bookkeeping-app",
    "SANDBOX_APP_NAME": "Demo Bookkeeping App",
    "SANDBOX_APP_DRAFT": "true",
    "SANDBOX_REDIRECT_URIS": "http://127.0.0.1:8000/amazon/callback",
    # The app's OAuth Log-in URI, where Manage Your Apps' Re-authorize sends the seller first
    # (empty: the first redirect URI's /amazon/login).
    "SANDBOX_LOGIN_URI": "",
    "SANDBOX_CLIENT_ID": "amzn1.application-oa2-client.demo",
    "SANDBOX_CLIENT_SECRET": "demo-client-secret",
    "SANDBOX_CODE_TTL": "300",
    "SANDBOX_ACCESS_TOKEN_TTL": "3600",
    # How long a seller's authorization lasts (Amazon: 365 days), then refreshes are refused.
    "SANDBOX_AUTHORIZATION_LIFETIME": str(365 * 86400),
    "SANDBOX_FAULTS_ENABLED": "true",
}

_BOOLEANS = ("SANDBOX_APP_DRAFT", "SANDBOX_FAULTS_ENABLED")
_SECONDS = ("SANDBOX_CODE_TTL", "SANDBOX_ACCESS_TOKEN_TTL", "SANDBOX_AUTHORIZATION_LIFETIME")


def from_env() -> dict[str, Any]:
    """Every setting, each from its environment variable or its development default."""
    config: dict[str, Any] = {key: os.environ.get(key, value) for key, value in DEFAULTS.items()}
    # SANDBOX_SECRET_KEY, not SECRET_KEY: the real app shares the .env file and must not share keys.
    config["SECRET_KEY"] = os.environ.get("SANDBOX_SECRET_KEY", "amazon-sandbox-dev-secret")
    # The real app runs on another port of 127.0.0.1 and browsers share cookies across ports.
    config["SESSION_COOKIE_NAME"] = "amazon_sandbox_session"
    return config


def normalize(config: MutableMapping[str, Any]) -> None:
    """Turn string settings (from the environment or tests) into the types the views use."""
    for key in _BOOLEANS:
        value = config[key]
        if isinstance(value, str):
            config[key] = value.strip().lower() in ("1", "true", "yes", "on")
    for key in _SECONDS:
        config[key] = float(config[key])
    uris = config["SANDBOX_REDIRECT_URIS"]
    if isinstance(uris, str):
        uris = uris.split(",")
    config["SANDBOX_REDIRECT_URIS"] = [u.strip() for u in uris if u.strip()]
    if not config["SANDBOX_LOGIN_URI"]:
        first = urlsplit(config["SANDBOX_REDIRECT_URIS"][0])
        config["SANDBOX_LOGIN_URI"] = urlunsplit(first._replace(path="/amazon/login", query=""))
