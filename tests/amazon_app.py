"""Play the app against the Amazon stand-in: start one, then call it as an app does (consent URL,
token calls, participations) and through its test controls under /_sandbox.

tests/amazon_seller.py plays the seller's half; the stand-in's own tests and the ones that hold it
to Amazon's model and to a real client library share these.
"""

import secrets
import socketserver
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import requests
from werkzeug.serving import make_server

from sandbox import create_app
from tests.amazon_seller import consent

APP_ID = "amzn1.sp.solution.test-app"
CLIENT_ID = "amzn1.application-oa2-client.test"
CLIENT_SECRET = "test-client-secret"
CALLBACK = "http://127.0.0.1:8000/amazon/callback"
OTHER_CALLBACK = "http://127.0.0.1:8000/amazon/callback-2"

# Explicit, so SANDBOX_* variables in a developer's shell cannot change what is tested.
BASE_CONFIG = {
    "SANDBOX_APP_ID": APP_ID,
    "SANDBOX_APP_NAME": "Test Bookkeeping App",
    "SANDBOX_APP_DRAFT": True,
    "SANDBOX_REDIRECT_URIS": f"{CALLBACK},{OTHER_CALLBACK}",
    "SANDBOX_CLIENT_ID": CLIENT_ID,
    "SANDBOX_CLIENT_SECRET": CLIENT_SECRET,
    "SANDBOX_CODE_TTL": 300,
    "SANDBOX_ACCESS_TOKEN_TTL": 3600,
    "SANDBOX_FAULTS_ENABLED": True,
}

FORM = "application/x-www-form-urlencoded;charset=UTF-8"
# Amazon's answer to every refused SP-API call: bad or expired token, wrong region, missing role.
UNAUTHORIZED = {
    "errors": [
        {
            "code": "Unauthorized",
            "message": "Access to requested resource is denied.",
            "details": "",
        }
    ]
}


@contextmanager
def serving(server: socketserver.BaseServer) -> Iterator[None]:
    """Run `server` in a thread for the duration of the block."""
    # A short poll, so stopping takes milliseconds: some tests start a stand-in each.
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        thread.join()


@contextmanager
def start_sandbox(*, tls: ssl.SSLContext | None = None, **overrides: Any) -> Iterator[str]:
    """Serve a fresh stand-in on a free loopback port (over TLS with `tls`); yield its base URL."""
    app = create_app({**BASE_CONFIG, **overrides})
    server = make_server("127.0.0.1", 0, app, threaded=True, ssl_context=tls)
    with serving(server):
        yield f"{'https' if tls else 'http'}://127.0.0.1:{server.server_port}"


def consent_url(base_url: str, **params: str | None) -> str:
    """A consent URL for the test app (a draft: version=beta); a None parameter is left out."""
    query = {"application_id": APP_ID, "state": secrets.token_urlsafe(16), "version": "beta"}
    query.update(params)
    return f"{base_url}/apps/authorize/consent?" + urlencode(
        {k: v for k, v in query.items() if v is not None}
    )


def callback_params(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def get_code(base_url: str, email: str = "seller-us@example.com", **params: str | None) -> str:
    return callback_params(consent(consent_url(base_url, **params), email))["spapi_oauth_code"]


def exchange(
    base_url: str, code: str, /, redirect_uri: str | None = CALLBACK, **fields: str
) -> requests.Response:
    """The authorization-code grant, as the app sends it; redirect_uri=None leaves it out."""
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,  # requests leaves out a field whose value is None
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        **fields,
    }
    return requests.post(
        f"{base_url}/auth/o2/token", data=data, headers={"Content-Type": FORM}, timeout=5
    )


def refresh(
    base_url: str, refresh_token: str, client_secret: str = CLIENT_SECRET
) -> requests.Response:
    data = {
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        "client_id": CLIENT_ID,
        "client_secret": client_secret,
    }
    return requests.post(f"{base_url}/auth/o2/token", data=data, timeout=5)


def participations(
    base_url: str, access_token: str | None, host: str | None = None
) -> requests.Response:
    """GET marketplaceParticipations; `host` names the SP-API host the call claims to reach."""
    headers = {} if access_token is None else {"x-amz-access-token": access_token}
    if host is not None:
        headers["Host"] = host
    return requests.get(
        f"{base_url}/sellers/v1/marketplaceParticipations", headers=headers, timeout=5
    )


def control(base_url: str, path: str, body: Any = None) -> requests.Response:
    """POST to a test control under /_sandbox/ (faults, reset, revoke, client-secret, roles)."""
    return requests.post(f"{base_url}/_sandbox/{path}", json=body, timeout=5)


def stats(base_url: str) -> dict[str, Any]:
    return requests.get(f"{base_url}/_sandbox/stats", timeout=5).json()


def arm_faults(base_url: str, faults: dict[str, Any]) -> None:
    control(base_url, "faults", faults).raise_for_status()
