"""Talking to Amazon: the consent URL, the LWA token endpoint and the Sellers API.

The consent URL is Amazon's own and is built by hand; the token endpoint is plain OAuth 2, spoken
through Authlib's client with the credentials in the form body, as Amazon documents.

Amazon's answers fall into three kinds (amazon-sp-api.md, section 9), each its own exception:
the seller's grant is no good (AmazonRefused: start again), the app itself is refused
(AppRefused: an operator must act, the seller is not to blame), or Amazon is busy or down
(AmazonUnavailable and network errors: worth retrying).
"""

import functools
import platform
import re
from dataclasses import dataclass
from importlib import metadata
from urllib.parse import urlencode, urlsplit, urlunsplit

import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session

from core.marketplaces import MARKETPLACES, SIGN_OUT_PATH, SIGN_OUT_RETURN_PARAM, Marketplace
from vocabulary.statuses import StuckReason

TIMEOUT = (5, 15)  # connect, read: seconds


class AmazonRefused(Exception):
    """The seller's grant is no good: LWA's invalid_grant (the code expired, was used or is
    unknown; on a refresh, the seller revoked the app or the authorization lapsed)."""

    def __init__(self, error: str, description: str = "") -> None:
        super().__init__(f"{error}: {description}" if description else error)
        self.error = error


class AppRefused(Exception):
    """Amazon refused the app itself, not the seller: wrong or rotated LWA credentials, a role
    the app lacks, a request Amazon calls malformed. Retrying cannot help; an operator must act.
    `reason` is what ops see as the request's StuckReason."""

    def __init__(self, reason: StuckReason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class AmazonUnavailable(Exception):
    """Amazon is throttling (429) or failing (5xx): worth retrying with backoff."""


# LWA's OAuth errors that are the app's fault, not the seller's (amazon-sp-api.md, section 3).
_CREDENTIAL_ERRORS = ("invalid_client", "unauthorized_client")


def _oauth_error(error: OAuthError) -> Exception:
    code = error.error or "error"
    if code == "invalid_grant":
        return AmazonRefused(code)
    if code in _CREDENTIAL_ERRORS:
        return AppRefused(StuckReason.AMAZON_CREDENTIALS, f"Login with Amazon answered {code}")
    return AppRefused(StuckReason.AMAZON_REJECTED, f"Login with Amazon answered {code}")


def _busy_or_down(response: requests.Response) -> requests.Response:
    """Authlib hook, before the body is read: a throttled or failing LWA is retried, whatever
    its body says (a 429 may come with an OAuth error body or none)."""
    if response.status_code == 429 or response.status_code >= 500:
        raise AmazonUnavailable(f"Login with Amazon answered HTTP {response.status_code}")
    return response


@functools.cache
def user_agent(app_name: str) -> str:
    """`<app>/<version> (Language=Python/<version>)`, as Amazon asks of every LWA and SP-API
    call (amazon-sp-api.md, section 10); the app's name as one product token."""
    token = re.sub(r"[^A-Za-z0-9!#$%&'*+.^_`|~-]+", "-", app_name).strip("-") or "app"
    try:
        version = metadata.version("amazon-connect")
    except metadata.PackageNotFoundError:
        version = "0"
    return f"{token}/{version} (Language=Python/{platform.python_version()})"


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str
    expires_in: int


@dataclass(frozen=True)
class Participation:
    marketplace_id: str
    country: str
    store_name: str
    participating: bool


def redirect_uri(config) -> str:
    return f"{config['APP_BASE_URL']}/amazon/callback"


def consent_url(config, marketplace: Marketplace, state: str) -> str:
    """Where the seller's browser goes to sign in at Amazon and confirm."""
    host = config["AMAZON_SELLER_CENTRAL_URL"] or marketplace.seller_central_url
    params = {"application_id": config["AMAZON_APP_ID"], "state": state}
    if config["AMAZON_APP_DRAFT"]:
        params["version"] = "beta"
    params["redirect_uri"] = redirect_uri(config)
    return f"{host}/apps/authorize/consent?{urlencode(params)}"


CONSENT_PATH = "/apps/authorize/consent"


def is_consent_page(config, url: str) -> bool:
    """Is `url` Amazon's consent page on a Seller Central host (the configured stand-in in
    development)? The Log-in URI continues only there: never an open redirect."""
    if any(c in url for c in "\\\r\n\t @") or len(url) > 2048:
        return False
    parts = urlsplit(url)
    configured = config["AMAZON_SELLER_CENTRAL_URL"]
    hosts = {configured} if configured else {m.seller_central_url for m in MARKETPLACES}
    return (
        f"{parts.scheme}://{parts.netloc}" in hosts
        and parts.path == CONSENT_PATH
        and not parts.fragment
    )


def login_continue_url(config, amazon_callback_uri: str, amazon_state: str, state: str) -> str:
    """The Log-in URI flow's way back to Amazon (amazon-sp-api.md, section 8): Amazon's
    `amazon_callback_uri` with its `amazon_state` unchanged, our own `state`, our `redirect_uri`
    and, for a draft app, `version=beta`. The caller has checked is_consent_page."""
    params = {"amazon_state": amazon_state, "state": state, "redirect_uri": redirect_uri(config)}
    if config["AMAZON_APP_DRAFT"]:
        params["version"] = "beta"
    parts = urlsplit(amazon_callback_uri)
    query = f"{parts.query}&{urlencode(params)}" if parts.query else urlencode(params)
    return urlunsplit(parts._replace(query=query))


def sign_out_url(config, marketplace: Marketplace, return_to: str) -> str:
    """Amazon's sign-out, then on to `return_to` (an Amazon page: the consent URL), so a seller
    who used the wrong account signs in afresh instead of landing in the same session.

    The host follows the consent URL's (AMAZON_SELLER_CENTRAL_URL points both at the stand-in),
    so production reaches Amazon by configuration alone.
    """
    host = config["AMAZON_SELLER_CENTRAL_URL"]
    base = f"{host}{SIGN_OUT_PATH}" if host else marketplace.sign_out_url
    return f"{base}?{urlencode({SIGN_OUT_RETURN_PARAM: return_to})}"


def _lwa(config) -> OAuth2Session:
    session = OAuth2Session(
        client_id=config["LWA_CLIENT_ID"],
        client_secret=config["LWA_CLIENT_SECRET"],
        token_endpoint_auth_method="client_secret_post",
    )
    session.headers["User-Agent"] = user_agent(config["APP_NAME"])
    session.register_compliance_hook("access_token_response", _busy_or_down)
    session.register_compliance_hook("refresh_token_response", _busy_or_down)
    return session


def _tokens(token: dict, refresh_token: str | None = None) -> Tokens:
    return Tokens(
        access_token=token["access_token"],
        refresh_token=token.get("refresh_token") or refresh_token or "",
        expires_in=int(token.get("expires_in", 3600)),
    )


def exchange_code(config, code: str) -> Tokens:
    """Trade a single-use spapi_oauth_code for tokens."""
    with _lwa(config) as lwa:
        try:
            token = lwa.fetch_token(
                config["LWA_TOKEN_URL"],
                grant_type="authorization_code",
                code=code,
                redirect_uri=redirect_uri(config),
                timeout=TIMEOUT,
            )
        except OAuthError as exc:
            raise _oauth_error(exc) from None
    return _tokens(token)


def refresh_access_token(config, refresh_token: str) -> Tokens:
    """A fresh access token from a stored refresh token."""
    with _lwa(config) as lwa:
        try:
            token = lwa.refresh_token(
                config["LWA_TOKEN_URL"], refresh_token=refresh_token, timeout=TIMEOUT
            )
        except OAuthError as exc:
            raise _oauth_error(exc) from None
    return _tokens(token, refresh_token)


def marketplace_participations(
    config, marketplace: Marketplace, access_token: str
) -> list[Participation]:
    """The marketplaces the seller behind `access_token` sells in (one call per connection)."""
    endpoint = config["SPAPI_ENDPOINT"] or marketplace.region.spapi_endpoint
    response = requests.get(
        f"{endpoint}/sellers/v1/marketplaceParticipations",
        headers={
            "x-amz-access-token": access_token,
            "accept": "application/json",
            "user-agent": user_agent(config["APP_NAME"]),
        },
        timeout=TIMEOUT,
    )
    request_id = response.headers.get("x-amzn-RequestId", "none")
    status = response.status_code
    if status == 429 or status >= 500:
        raise AmazonUnavailable(f"the Sellers API answered HTTP {status} (request {request_id})")
    if status in (401, 403):
        # A fresh token refused: the app lacks a role the call needs (or calls the wrong region).
        raise AppRefused(
            StuckReason.AMAZON_ROLE_MISSING,
            f"the Sellers API answered HTTP {status} (request {request_id})",
        )
    if status >= 400:
        raise AppRefused(
            StuckReason.AMAZON_REJECTED,
            f"the Sellers API answered HTTP {status} (request {request_id})",
        )
    return [
        Participation(
            marketplace_id=item["marketplace"]["id"],
            country=item["marketplace"].get("countryCode", ""),
            store_name=item.get("storeName", ""),
            participating=bool(item.get("participation", {}).get("isParticipating")),
        )
        for item in response.json().get("payload", [])
    ]


class AmazonClient:
    """The calls the worker makes to Amazon, bound to the settings they need once; the activities
    take one, so a test can hand them a stand-in with the same three methods."""

    SETTINGS = (
        "APP_NAME",
        "APP_BASE_URL",
        "LWA_CLIENT_ID",
        "LWA_CLIENT_SECRET",
        "LWA_TOKEN_URL",
        "SPAPI_ENDPOINT",
    )

    def __init__(self, config) -> None:
        self._config = {name: config[name] for name in self.SETTINGS}

    def exchange_code(self, code: str) -> Tokens:
        return exchange_code(self._config, code)

    def refresh_access_token(self, refresh_token: str) -> Tokens:
        return refresh_access_token(self._config, refresh_token)

    def marketplace_participations(
        self, marketplace: Marketplace, access_token: str
    ) -> list[Participation]:
        return marketplace_participations(self._config, marketplace, access_token)
