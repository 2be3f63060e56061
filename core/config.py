"""Configuration, read from the environment only.

Development gets safe local defaults so `make run` works on a fresh machine; production
(`APP_ENV=production`) refuses to start while any secret is missing.
"""

import base64
import hashlib
import os
import re
from datetime import timedelta
from pathlib import Path

from core.crypto import fernet
from vocabulary.messages import ConnectionLife

ROOT = Path(__file__).resolve().parent.parent

# The stand-in in sandbox/ runs here in development; its defaults match these.
_SANDBOX = "http://127.0.0.1:8100"
_DEV_SECRET_KEY = "dev-secret-key-not-for-production"
# The name of the app on the stand-in's consent page (sandbox/config.py SANDBOX_APP_NAME).
_SANDBOX_APP_NAME = "Demo Bookkeeping App"
# What the seller is told the bookkeeper will read, in one sentence's worth of words.
_ACCESS_DESCRIPTION = "your orders, payouts and fees, read-only, to keep your books"

SECRETS = (
    "SECRET_KEY",
    "TOKEN_ENCRYPTION_KEY",
    "LWA_CLIENT_SECRET",
)
REQUIRED_IN_PRODUCTION = (
    *SECRETS,
    "DATABASE_URL",
    "APP_BASE_URL",
    "AMAZON_APP_ID",
    # The seller is told which app Amazon's consent page will show; the demo's name would lie.
    "AMAZON_APP_NAME",
    # No default: a published app that sends version=beta fails at Amazon, a draft that does not
    # fails too (MD1000); the operator says which this app is.
    "AMAZON_APP_DRAFT",
    "LWA_CLIENT_ID",
    "MAIL_SERVER",
    "MAIL_DEFAULT_SENDER",
)

_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


# Webhooks' durations and their defaults. A failed delivery is retried from
# WEBHOOK_RETRY_INITIAL, doubling up to WEBHOOK_RETRY_MAX, for WEBHOOK_DELIVERY_DEADLINE (copied
# into each delivery workflow's input); an endpoint with no success for WEBHOOK_DISABLE_AFTER
# since its first failure is disabled and its owner emailed; after a rotation the old secret
# signs too for WEBHOOK_SECRET_OVERLAP; a delivery workflow with nothing to send waits
# WEBHOOK_STREAM_IDLE, then ends; the reconciliation starts the workflow of a stream with a
# delivery pending for WEBHOOK_SWEEP_AFTER and none running.
WEBHOOK_TIMES = {
    "WEBHOOK_RETRY_INITIAL": "30s",
    "WEBHOOK_RETRY_MAX": "2h",
    "WEBHOOK_DELIVERY_DEADLINE": "3d",
    "WEBHOOK_DISABLE_AFTER": "3d",
    "WEBHOOK_SECRET_OVERLAP": "24h",
    "WEBHOOK_STREAM_IDLE": "10m",
    "WEBHOOK_SWEEP_AFTER": "2m",
}


def parse_duration(text: str) -> timedelta:
    """Parse '30s', '15m', '2h' or '14d' into a timedelta."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"not a duration: {text!r} (use a number and s, m, h or d, e.g. 14d)")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def parse_durations(text: str) -> list[timedelta]:
    """Parse a comma-separated list such as '2d,5d,9d' (empty means none)."""
    return [parse_duration(part) for part in text.split(",") if part.strip()]


def _renewal_reminders(text: str, lifetime: timedelta) -> list[timedelta]:
    """RENEWAL_REMINDERS, longest first; each must fall within the authorization's lifetime."""
    offsets = sorted(set(parse_durations(text)), reverse=True)
    if offsets and offsets[0] >= lifetime:
        raise RuntimeError(
            f"RENEWAL_REMINDERS must each be shorter than AMAZON_AUTHORIZATION_LIFETIME"
            f" ({lifetime}); {offsets[0]} is not"
        )
    return offsets


def connection_life(config) -> ConnectionLife:
    """The settings a stored connection lives by, as its workflow copies them in."""
    return ConnectionLife(
        check_every_seconds=int(config["CONNECTION_CHECK_EVERY"].total_seconds()),
        authorization_lifetime_seconds=int(config["AMAZON_AUTHORIZATION_LIFETIME"].total_seconds()),
        # Only those within the lifetime (checked at start; a test may change either later).
        renewal_offsets_seconds=[
            int(o.total_seconds())
            for o in config["RENEWAL_REMINDERS"]
            if o < config["AMAZON_AUTHORIZATION_LIFETIME"]
        ],
    )


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _strict_bool(name: str, value: str) -> bool:
    """A yes/no setting that must say which: a typo is refused, not read as false."""
    word = value.strip().lower()
    if word not in {"1", "true", "yes", "on", "0", "false", "no", "off"}:
        raise RuntimeError(f"{name} must be true or false, not {value!r}")
    return _bool(word)


def _dev_fernet_key(secret_key: str) -> str:
    # A stable development key, so tokens stored by one run still decrypt in the next.
    return base64.urlsafe_b64encode(
        hashlib.sha256(b"token-key:" + secret_key.encode()).digest()
    ).decode()


def load_config(environ: dict[str, str] | None = None) -> dict:
    """Build the Flask config mapping from environment variables."""
    env = dict(os.environ if environ is None else environ)
    production = env.get("APP_ENV", "development") == "production"
    limits_storage = env.get("RATELIMIT_STORAGE_URI", "memory://")
    if production:
        missing = [name for name in REQUIRED_IN_PRODUCTION if not env.get(name)]
        if missing:
            raise RuntimeError(
                "refusing to start in production: set " + ", ".join(missing) + " in the environment"
            )
        if limits_storage.startswith("memory://"):
            raise RuntimeError(
                "refusing to start in production: RATELIMIT_STORAGE_URI is memory://, which counts"
                " per process; set a store every web process shares, such as redis://host:6379/0"
            )
    secret_key = env.get("SECRET_KEY") or _DEV_SECRET_KEY
    if production and (secret_key == _DEV_SECRET_KEY or len(secret_key.encode()) < 32):
        # It signs the session cookie: a known or guessable key lets anyone forge a login.
        raise RuntimeError(
            "refusing to start in production: SECRET_KEY is the public development key or shorter"
            " than 32 bytes; make one with"
            ' python -c "import secrets; print(secrets.token_urlsafe(32))"'
        )
    token_keys = env.get("TOKEN_ENCRYPTION_KEY") or _dev_fernet_key(secret_key)
    try:
        fernet(token_keys)
    except ValueError as err:
        raise RuntimeError(
            "TOKEN_ENCRYPTION_KEY must be one or more comma-separated Fernet keys"
            " (32 url-safe base64-encoded bytes each)"
        ) from err
    app_name = env.get("APP_NAME") or "LedgerBridge"
    if "amazon" in app_name.lower():
        # Sellers must not mistake us for Amazon (and Amazon's trademark rules forbid it).
        raise RuntimeError(f"APP_NAME must not contain Amazon's name: {app_name!r}")
    var = ROOT / "var"
    lifetime = parse_duration(env.get("AMAZON_AUTHORIZATION_LIFETIME", "365d"))
    return {
        "APP_ENV": "production" if production else "development",
        # Our product's name: page titles, the From of every email ("Bea Keeper via …").
        "APP_NAME": app_name,
        "SECRET_KEY": secret_key,
        "SQLALCHEMY_DATABASE_URI": env.get("DATABASE_URL", f"sqlite:///{var / 'app.db'}"),
        "APP_BASE_URL": env.get("APP_BASE_URL", "http://127.0.0.1:8000").rstrip("/"),
        "TEMPORAL_ADDRESS": env.get("TEMPORAL_ADDRESS", "127.0.0.1:7233"),
        "TEMPORAL_NAMESPACE": env.get("TEMPORAL_NAMESPACE", "default"),
        "TEMPORAL_TASK_QUEUE": env.get("TEMPORAL_TASK_QUEUE", "amazon-connect"),
        # Workflows kept in a worker's memory; the rest are replayed from history when they wake.
        "WORKER_MAX_CACHED_WORKFLOWS": int(env.get("WORKER_MAX_CACHED_WORKFLOWS", "1000")),
        # host:port where the worker serves the Temporal SDK's metrics for Prometheus (/metrics):
        # task latencies, sticky cache size and evictions, activity failures. Empty: not served.
        "WORKER_METRICS_ADDRESS": env.get("WORKER_METRICS_ADDRESS", ""),
        "MAIL_SERVER": env.get("MAIL_SERVER", "127.0.0.1"),
        "MAIL_PORT": int(env.get("MAIL_PORT", "1025")),
        "MAIL_USE_TLS": _bool(env.get("MAIL_USE_TLS", "false")),
        "MAIL_USERNAME": env.get("MAIL_USERNAME") or None,
        "MAIL_PASSWORD": env.get("MAIL_PASSWORD") or None,
        # Only its address is used: the name shown is APP_NAME, or "<bookkeeper> via APP_NAME".
        "MAIL_DEFAULT_SENDER": env.get("MAIL_DEFAULT_SENDER", "no-reply@bookkeeping.localhost"),
        "AMAZON_APP_ID": env.get("AMAZON_APP_ID", "amzn1.sp.solution.demo-bookkeeping-app"),
        # The app's name as Amazon's consent page shows it (Seller Central's app listing).
        "AMAZON_APP_NAME": env.get("AMAZON_APP_NAME") or _SANDBOX_APP_NAME,
        "AMAZON_ACCESS_DESCRIPTION": env.get("AMAZON_ACCESS_DESCRIPTION") or _ACCESS_DESCRIPTION,
        # The development default is the stand-in's draft app; production has none.
        "AMAZON_APP_DRAFT": _strict_bool("AMAZON_APP_DRAFT", env.get("AMAZON_APP_DRAFT", "true")),
        "LWA_CLIENT_ID": env.get("LWA_CLIENT_ID", "amzn1.application-oa2-client.demo"),
        "LWA_CLIENT_SECRET": env.get("LWA_CLIENT_SECRET", "demo-client-secret"),
        "LWA_TOKEN_URL": env.get(
            "LWA_TOKEN_URL",
            "https://api.amazon.com/auth/o2/token" if production else f"{_SANDBOX}/auth/o2/token",
        ),
        "AMAZON_SELLER_CENTRAL_URL": env.get(
            "AMAZON_SELLER_CENTRAL_URL", "" if production else _SANDBOX
        ).rstrip("/"),
        "SPAPI_ENDPOINT": env.get("SPAPI_ENDPOINT", "" if production else _SANDBOX).rstrip("/"),
        "TOKEN_ENCRYPTION_KEY": token_keys,
        # Copied into each workflow's input at start: changes affect new requests only.
        "CONNECT_REMINDERS": parse_durations(env.get("CONNECT_REMINDERS", "2d,5d,9d")),
        "CONNECT_EXPIRES_AFTER": parse_duration(env.get("CONNECT_EXPIRES_AFTER", "14d")),
        # Reminders pause this long after the seller presses 'Continue to Amazon'.
        "CONNECT_REMINDER_PAUSE": parse_duration(env.get("CONNECT_REMINDER_PAUSE", "1d")),
        # How often the worker's schedule looks for open requests and invitations whose
        # workflow ops ended in Temporal (Terminate, Reset); see docs/operations.md.
        "RECONCILE_EVERY": parse_duration(env.get("RECONCILE_EVERY", "5m")),
        **{name: parse_duration(env.get(name, default)) for name, default in WEBHOOK_TIMES.items()},
        # Seconds one POST to a webhook endpoint may take.
        "WEBHOOK_TIMEOUT": float(env.get("WEBHOOK_TIMEOUT", "10")),
        # How often a stored connection's health is checked at Amazon (ConnectionWorkflow).
        "CONNECTION_CHECK_EVERY": parse_duration(env.get("CONNECTION_CHECK_EVERY", "1d")),
        # How long a seller's authorization lasts at Amazon (a year), from when it was given.
        "AMAZON_AUTHORIZATION_LIFETIME": lifetime,
        # Before the authorization ends, the owner is asked to renew it: the first email at the
        # longest of these, a reminder at each of the others.
        "RENEWAL_REMINDERS": _renewal_reminders(
            env.get("RENEWAL_REMINDERS", "30d,7d,1d"), lifetime
        ),
        "DIRECT_CONNECT_EXPIRES_AFTER": parse_duration(
            env.get("DIRECT_CONNECT_EXPIRES_AFTER", "1h")
        ),
        # How long the callback page waits for the workflow before it shows "finishing".
        "CALLBACK_WAIT_SECONDS": float(env.get("CALLBACK_WAIT_SECONDS", "8")),
        # Rate limits (Flask-Limiter). The counters live in RATELIMIT_STORAGE_URI, shared by every
        # web process (redis://; production refuses the per-process memory://). Should the store
        # go away, each process counts on its own until it is back, rather than failing requests.
        "RATELIMIT_STORAGE_URI": limits_storage,
        "RATELIMIT_STORAGE_OPTIONS": {"socket_timeout": 1, "socket_connect_timeout": 1}
        if limits_storage.startswith("redis")
        else {},
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_ENABLED": _bool(env.get("RATELIMIT_ENABLED", "true")),
        "RATELIMIT_HEADERS_ENABLED": True,
        "LIMIT_LOGIN": env.get("LIMIT_LOGIN", "10 per minute;100 per day"),
        "LIMIT_SIGNUP": env.get("LIMIT_SIGNUP", "5 per minute;30 per day"),
        "LIMIT_SEND": env.get("LIMIT_SEND", "30 per hour"),
        "LIMIT_INVITE": env.get("LIMIT_INVITE", "30 per hour"),
        "LIMIT_ASK_NEW_LINK": env.get("LIMIT_ASK_NEW_LINK", "5 per hour"),
        # Client accounts one user may add: each is a new allowance of requests and invitations.
        "LIMIT_ACCOUNTS": env.get("LIMIT_ACCOUNTS", "20 per day"),
        # The seller's presses on one emailed link (each one signals its workflow and adds to its
        # history, whose size Temporal limits); per link, not per address.
        "LIMIT_SELLER_LINK": env.get("LIMIT_SELLER_LINK", "10 per minute;50 per day"),
        # API calls per user (all their keys together), and calls with a bad key per address.
        "LIMIT_API": env.get("LIMIT_API", "300 per minute"),
        "LIMIT_API_AUTH": env.get("LIMIT_API_AUTH", "20 per minute;200 per day"),
        # How long an Idempotency-Key's first answer is kept to answer its retries.
        "IDEMPOTENCY_KEEP": parse_duration(env.get("IDEMPOTENCY_KEEP", "24h")),
        # Bulk invites (/requests/bulk, services/bulk_invites.py): rows and bytes one file may
        # have (under MAX_CONTENT_LENGTH, which the upload's form must fit in), and the page's
        # checks and sends per user (each row's request counts as the form's does).
        "BULK_INVITE_MAX_ROWS": int(env.get("BULK_INVITE_MAX_ROWS", "200")),
        "BULK_INVITE_MAX_BYTES": int(env.get("BULK_INVITE_MAX_BYTES", str(40 * 1024))),
        "LIMIT_BULK": env.get("LIMIT_BULK", "30 per hour"),
        # At most this many emails to sellers per account in 24 hours: new requests, resends and
        # changes of address.
        "CONNECT_DAILY_CAP": int(env.get("CONNECT_DAILY_CAP", "20")),
        # A request or invitation can be sent again at most once in this long.
        "RESEND_COOLDOWN": parse_duration(env.get("RESEND_COOLDOWN", "10m")),
        # json (one object per line) in production, readable text in development.
        "LOG_FORMAT": env.get("LOG_FORMAT", "json" if production else "text"),
        # Reverse proxies in front of the web app whose X-Forwarded-For/-Proto to trust: the
        # client's address keys the rate limits, so behind a proxy this must be its hop count.
        "TRUSTED_PROXIES": int(env.get("TRUSTED_PROXIES", "0")),
        # A session ends after this long without a request (and at logout or a new password).
        "SESSION_IDLE_TIMEOUT": parse_duration(env.get("SESSION_IDLE_TIMEOUT", "8h")),
        # Bytes a request body may have; larger ones get 413 before they are read.
        "MAX_CONTENT_LENGTH": int(env.get("MAX_CONTENT_LENGTH", str(64 * 1024))),
        "SESSION_COOKIE_SECURE": production,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": production,
    }
