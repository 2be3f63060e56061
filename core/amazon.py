"""Talking to Amazon: the consent URL, the LWA token endpoint and the Sellers API.

The consent URL is Amazon's own and is built by hand; the token endpoint is plain OAuth 2, spoken
through Authlib's client with the credentials in the form body, as Amazon documents.
"""

from dataclasses import dataclass
from urllib.parse import urlencode

import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session

from core.marketplaces import SIGN_OUT_PATH, SIGN_OUT_RETURN_PARAM, Marketplace

TIMEOUT = (5, 15)  # connect, read: seconds


class AmazonRefused(Exception):
    """Amazon answered with an OAuth error (invalid_grant, invalid_client, ...)."""

    def __init__(self, error: str, description: str = "") -> None:
        super().__init__(f"{error}: {description}" if description else error)
        self.error = error


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
    return OAuth2Session(
        client_id=config["LWA_CLIENT_ID"],
        client_secret=config["LWA_CLIENT_SECRET"],
        token_endpoint_auth_method="client_secret_post",
    )


def _tokens(token: dict, refresh_token: str | None = None) -> Tokens:
    return Tokens(
        access_token=token["access_token"],
        refresh_token=token.get("refresh_token") or refresh_token or "",
        expires_in=int(token.get("expires_in", 3600)),
    )


def exchange_code(config, code: str) -> Tokens:
    """Trade a single-use spapi_oauth_code for tokens; AmazonRefused on an OAuth error."""
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
            raise AmazonRefused(exc.error or "error", exc.description or "") from None
    return _tokens(token)


def refresh_access_token(config, refresh_token: str) -> Tokens:
    """A fresh access token from a stored refresh token."""
    with _lwa(config) as lwa:
        try:
            token = lwa.refresh_token(
                config["LWA_TOKEN_URL"], refresh_token=refresh_token, timeout=TIMEOUT
            )
        except OAuthError as exc:
            raise AmazonRefused(exc.error or "error", exc.description or "") from None
    return _tokens(token, refresh_token)


def marketplace_participations(
    config, marketplace: Marketplace, access_token: str
) -> list[Participation]:
    """The marketplaces the seller behind `access_token` sells in (one call per connection)."""
    endpoint = config["SPAPI_ENDPOINT"] or marketplace.region.spapi_endpoint
    response = requests.get(
        f"{endpoint}/sellers/v1/marketplaceParticipations",
        headers={"x-amz-access-token": access_token, "accept": "application/json"},
        timeout=TIMEOUT,
    )
    if response.status_code in (401, 403):
        raise AmazonRefused("unauthorized", "the access token was refused by the Sellers API")
    response.raise_for_status()
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
