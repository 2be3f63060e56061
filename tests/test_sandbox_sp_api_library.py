"""A real client library against the stand-in: python-amazon-sp-api, unchanged and not patched,
pointed at it by its own settings alone.

The library only knows Amazon's hosts (https://api.amazon.com for tokens,
https://sellingpartnerapi-{na,eu,fe}.amazon.com for the SP-API); its only routing settings are
`proxies` and `verify`. So the stand-in serves TLS under those names with a throwaway authority's
certificate, and a CONNECT proxy on loopback tunnels them to it (tests/amazon_hosts.py). What the
library sends is then what it sends to Amazon: no redirect_uri in the code exchange, the regional
host in every SP-API call.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
import requests
from sp_api.api import Sellers
from sp_api.auth import AccessTokenClient
from sp_api.base import CredentialProvider, Marketplaces, SellingApiForbiddenException

from tests.amazon_app import (
    CLIENT_ID,
    CLIENT_SECRET,
    callback_params,
    consent_url,
    start_sandbox,
)
from tests.amazon_hosts import connect_proxy, make_certificates
from tests.amazon_seller import consent

CREDENTIALS = {"lwa_app_id": CLIENT_ID, "lwa_client_secret": CLIENT_SECRET}


@dataclass(frozen=True)
class AmazonOnLoopback:
    base_url: str  # the stand-in's own https address, for the seller's browser
    browser: requests.Session  # trusts the throwaway authority
    routing: dict  # the library's settings: proxies and verify

    def stats(self) -> dict:
        return self.browser.get(f"{self.base_url}/_sandbox/stats", timeout=5).json()


@pytest.fixture(scope="module")
def amazon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AmazonOnLoopback]:
    certificates = make_certificates(tmp_path_factory.mktemp("tls"))
    with (
        start_sandbox(tls=certificates.server_context()) as base_url,
        connect_proxy(urlsplit(base_url).port) as proxy_url,
    ):
        browser = requests.Session()
        browser.verify = str(certificates.authority)
        browser.trust_env = False  # REQUESTS_CA_BUNDLE or a proxy in the shell would win
        # verify takes a context: httpx 0.28 deprecates a CA file path.
        routing = {"proxies": proxy_url, "verify": certificates.client_context()}
        yield AmazonOnLoopback(base_url, browser, routing)
        browser.close()


@pytest.fixture(autouse=True)
def no_default_marketplace(monkeypatch: pytest.MonkeyPatch) -> None:
    """The library lets SP_API_DEFAULT_MARKETPLACE override the marketplace it is given."""
    monkeypatch.delenv("SP_API_DEFAULT_MARKETPLACE", raising=False)


def test_library_connects_an_eu_seller_and_is_refused_in_another_region(
    amazon: AmazonOnLoopback,
) -> None:
    location = consent(
        consent_url(amazon.base_url), "seller-eu@example.com", session=amazon.browser
    )
    code = callback_params(location)["spapi_oauth_code"]

    # The code exchange, as the library sends it (no redirect_uri).
    lwa = AccessTokenClient(
        credentials=CredentialProvider(credentials=CREDENTIALS).credentials, **amazon.routing
    )
    tokens = lwa.authorize_auth_code(code)
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] == 3600
    assert tokens["access_token"].startswith("Atza|")
    assert tokens["refresh_token"].startswith("Atzr|")

    # The library refreshes on its own, then calls sellingpartnerapi-eu.amazon.com.
    uk = Sellers(
        marketplace=Marketplaces.UK,
        refresh_token=tokens["refresh_token"],
        credentials=CREDENTIALS,
        **amazon.routing,
    )
    participations = uk.get_marketplace_participation()
    uk.close()
    marketplaces = {
        p["marketplace"]["countryCode"]: p["marketplace"] for p in participations.payload
    }
    assert marketplaces["GB"]["id"] == Marketplaces.UK.marketplace_id
    assert set(marketplaces) == {"GB", "DE", "FR", "IT", "ES"}
    assert participations.headers["x-amzn-RateLimit-Limit"] == "0.016"
    counted = amazon.stats()["token"]
    assert (counted["authorization_code"], counted["refresh_token"]) == (1, 1)

    # The same seller's token at the North American host: Amazon refuses another region's token.
    us = Sellers(
        marketplace=Marketplaces.US,
        refresh_token=tokens["refresh_token"],
        credentials=CREDENTIALS,
        **amazon.routing,
    )
    with pytest.raises(SellingApiForbiddenException) as refused:
        us.get_marketplace_participation()
    us.close()
    assert refused.value.amzn_code == "Unauthorized"
    assert refused.value.message == "Access to requested resource is denied."


def test_proxy_tunnels_only_amazon_hosts(amazon: AmazonOnLoopback) -> None:
    proxy = amazon.routing["proxies"]
    with pytest.raises(requests.exceptions.ProxyError):
        requests.get("https://example.com/", proxies={"https": proxy}, timeout=5)
