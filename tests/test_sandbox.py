"""The Amazon stand-in, over real HTTP: consent, token exchange, participations, faults."""

import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from werkzeug.serving import make_server

from sandbox import create_app
from tests.amazon_seller import consent, consent_error

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

US = {"ATVPDKIKX0DER", "A2EUQ1WTGCTBG2", "A1AM78C64UM0Y8"}
EU = {"A1F83G8C2ARO7P", "A1PA6795UKMFR9", "A13V1IB3VIYZZH", "APJ6JRA9NG5V4", "A1RKKUPIHCS9HS"}
FE = {"A1VC38T7YXB528", "A39IBJ37TRP1C6", "A19VAU5U5O7RUS"}
FORM = "application/x-www-form-urlencoded;charset=UTF-8"
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
def start_sandbox(**overrides: Any) -> Iterator[str]:
    """Serve a fresh stand-in on a free loopback port; yield its base URL."""
    server = make_server("127.0.0.1", 0, create_app({**BASE_CONFIG, **overrides}), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()


@pytest.fixture(scope="module")
def amazon() -> Iterator[str]:
    with start_sandbox() as base_url:
        yield base_url


@pytest.fixture(autouse=True)
def fresh_state(amazon: str) -> None:
    requests.post(f"{amazon}/_sandbox/reset", timeout=5).raise_for_status()


def consent_url(base_url: str, **params: str | None) -> str:
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
    base_url: str, code: str, /, redirect_uri: str = CALLBACK, **fields: str
) -> requests.Response:
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        **fields,
    }
    return requests.post(
        f"{base_url}/auth/o2/token", data=data, headers={"Content-Type": FORM}, timeout=5
    )


def refresh(base_url: str, refresh_token: str) -> requests.Response:
    data = {
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    return requests.post(f"{base_url}/auth/o2/token", data=data, timeout=5)


def participations(base_url: str, access_token: str | None) -> requests.Response:
    headers = {} if access_token is None else {"x-amz-access-token": access_token}
    return requests.get(
        f"{base_url}/sellers/v1/marketplaceParticipations", headers=headers, timeout=5
    )


def stats(base_url: str) -> dict[str, Any]:
    return requests.get(f"{base_url}/_sandbox/stats", timeout=5).json()


def arm_faults(base_url: str, faults: dict[str, Any]) -> None:
    requests.post(f"{base_url}/_sandbox/faults", json=faults, timeout=5).raise_for_status()


# Consent


def test_full_flow_consent_code_tokens_participations(amazon: str) -> None:
    state = "st/a te+&=é"  # must come back byte for byte, properly encoded
    location = consent(consent_url(amazon, state=state), "seller-us@example.com")

    assert location.startswith(CALLBACK + "?")  # no redirect_uri given: first registered one
    params = callback_params(location)
    assert set(params) == {"state", "selling_partner_id", "spapi_oauth_code"}
    assert params["state"] == state
    assert params["selling_partner_id"] == "A2DEMOUSSELL01"

    answer = exchange(amazon, params["spapi_oauth_code"])
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    tokens = answer.json()
    assert tokens["access_token"].startswith("Atza|")
    assert tokens["refresh_token"].startswith("Atzr|")
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] == 3600

    listed = participations(amazon, tokens["access_token"])
    assert listed.status_code == 200
    payload = listed.json()["payload"]
    assert {p["marketplace"]["id"] for p in payload} == US
    us = next(p for p in payload if p["marketplace"]["id"] == "ATVPDKIKX0DER")
    assert us == {
        "marketplace": {
            "id": "ATVPDKIKX0DER",
            "name": "Amazon.com",
            "countryCode": "US",
            "defaultCurrencyCode": "USD",
            "defaultLanguageCode": "en_US",
            "domainName": "www.amazon.com",
        },
        "storeName": "Demo Goods US",
        "participation": {"isParticipating": True, "hasSuspendedListings": False},
    }


@pytest.mark.parametrize(
    ("email", "selling_partner_id", "marketplaces"),
    [
        ("seller-us@example.com", "A2DEMOUSSELL01", US),
        ("seller-eu@example.com", "A3DEMOEUSELL02", EU),
        ("seller-fe@example.com", "A1DEMOFESELL03", FE),
    ],
)
def test_each_demo_seller_reports_its_region(
    amazon: str, email: str, selling_partner_id: str, marketplaces: set[str]
) -> None:
    params = callback_params(consent(consent_url(amazon), email))
    assert params["selling_partner_id"] == selling_partner_id
    access_token = exchange(amazon, params["spapi_oauth_code"]).json()["access_token"]
    payload = participations(amazon, access_token).json()["payload"]
    assert {p["marketplace"]["id"] for p in payload} == marketplaces


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"application_id": "amzn1.sp.solution.someone-else"}, "MD9100"),
        ({"application_id": None}, "MD9100"),
        ({"application_id": CLIENT_ID}, "MD1000"),  # the LWA client id is not the app id
        ({"version": None}, "MD1000"),  # draft app without version=beta
        ({"redirect_uri": CALLBACK + "#frag"}, "MD5110"),
        ({"redirect_uri": "http://127.0.0.1:8000/elsewhere"}, "MD5101"),
        ({"state": None}, "invalid_request"),
    ],
)
def test_consent_url_mistakes_show_amazon_error_page(
    amazon: str, params: dict[str, str | None], code: str
) -> None:
    assert consent_error(consent_url(amazon, **params)) == code


def test_fragment_checked_before_registration(amazon: str) -> None:
    url = consent_url(amazon, redirect_uri="http://127.0.0.1:8000/elsewhere#x")
    assert consent_error(url) == "MD5110"


def test_published_app_needs_no_beta_version() -> None:
    with start_sandbox(SANDBOX_APP_DRAFT="false") as base_url:
        location = consent(consent_url(base_url, version=None), "seller-us@example.com")
    assert callback_params(location)["selling_partner_id"] == "A2DEMOUSSELL01"


def test_helper_raises_with_error_code_on_error_page(amazon: str) -> None:
    with pytest.raises(AssertionError, match="MD1000"):
        consent(consent_url(amazon, version=None), "seller-us@example.com")


def test_wrong_password_stays_on_sign_in(amazon: str) -> None:
    http = requests.Session()
    url = consent_url(amazon)
    page = http.get(url, timeout=5)
    csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    form = {"email": "seller-us@example.com", "password": "wrong", "csrf_token": csrf}
    answer = http.post(f"{amazon}/ap/signin", data=form, allow_redirects=False, timeout=5)
    assert answer.status_code == 200
    assert "Your email or password is incorrect." in answer.text
    assert 'id="signin-form"' in http.get(url, timeout=5).text  # still not signed in
    with pytest.raises(AssertionError, match="sign-in as seller-us@example.com failed"):
        consent(url, "seller-us@example.com", "wrong")


def test_cancel_shows_page_without_redirect(amazon: str) -> None:
    text = consent(consent_url(amazon), "seller-us@example.com", confirm=False)
    assert "Authorization cancelled" in text
    assert "Test Bookkeeping App" in text


def test_sign_out_switches_seller(amazon: str) -> None:
    http = requests.Session()
    first = consent(consent_url(amazon), "seller-us@example.com", session=http)
    second = consent(consent_url(amazon), "seller-eu@example.com", session=http)
    assert callback_params(first)["selling_partner_id"] == "A2DEMOUSSELL01"
    assert callback_params(second)["selling_partner_id"] == "A3DEMOEUSELL02"


def test_confirm_without_form_token_is_refused(amazon: str) -> None:
    http = requests.Session()
    consent(consent_url(amazon), "seller-us@example.com", session=http)  # signs in
    form = {"application_id": APP_ID, "state": "s", "version": "beta", "action": "confirm"}
    answer = http.post(
        f"{amazon}/apps/authorize/consent", data=form, allow_redirects=False, timeout=5
    )
    assert answer.status_code == 400
    assert "Location" not in answer.headers


def test_pages_send_no_referrer_and_own_cookie(amazon: str) -> None:
    answer = requests.get(consent_url(amazon), timeout=5)
    assert answer.headers["Referrer-Policy"] == "no-referrer"
    assert "amazon_sandbox_session" in answer.cookies
    assert "Amazon stand-in (sandbox)" in answer.text


# Token exchange


def test_explicit_redirect_uri_is_used_and_must_match(amazon: str) -> None:
    location = consent(consent_url(amazon, redirect_uri=OTHER_CALLBACK), "seller-us@example.com")
    assert location.startswith(OTHER_CALLBACK + "?")
    code = callback_params(location)["spapi_oauth_code"]
    answer = exchange(amazon, code, redirect_uri=CALLBACK)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"

    code = get_code(amazon, redirect_uri=OTHER_CALLBACK)
    assert exchange(amazon, code, redirect_uri=OTHER_CALLBACK).status_code == 200


def test_code_is_single_use(amazon: str) -> None:
    code = get_code(amazon)
    assert exchange(amazon, code).status_code == 200
    again = exchange(amazon, code)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


def test_code_expires() -> None:
    with start_sandbox(SANDBOX_CODE_TTL="0.2") as base_url:
        code = get_code(base_url)
        time.sleep(0.3)
        answer = exchange(base_url, code)
    assert answer.status_code == 400
    assert answer.json() == {
        "error": "invalid_grant",
        "error_description": "The authorization code has expired.",
    }


def test_unknown_code_is_invalid_grant(amazon: str) -> None:
    answer = exchange(amazon, "ANDMxqpCmqWHJeyzdbMH")
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"


def test_bad_client_secret_is_invalid_client_and_keeps_code(amazon: str) -> None:
    code = get_code(amazon)
    answer = exchange(amazon, code, client_secret="wrong")
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"
    assert answer.headers["Cache-Control"] == "no-store"
    # A failed client authentication must not burn the seller's code.
    assert exchange(amazon, code).status_code == 200


def test_http_basic_client_authentication(amazon: str) -> None:
    code = get_code(amazon)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK}
    answer = requests.post(
        f"{amazon}/auth/o2/token", data=data, auth=(CLIENT_ID, CLIENT_SECRET), timeout=5
    )
    assert answer.status_code == 200
    assert answer.json()["access_token"].startswith("Atza|")


def test_token_endpoint_wants_form_encoding(amazon: str) -> None:
    body = {
        "grant_type": "authorization_code",
        "code": get_code(amazon),
        "redirect_uri": CALLBACK,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    answer = requests.post(f"{amazon}/auth/o2/token", json=body, timeout=5)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request"


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"redirect_uri": ""}, "invalid_request"),
        ({"code": ""}, "invalid_request"),
        ({"client_id": ""}, "invalid_request"),
        ({"grant_type": ""}, "invalid_request"),
        ({"grant_type": "client_credentials"}, "unsupported_grant_type"),
    ],
)
def test_token_request_mistakes(amazon: str, fields: dict[str, str], error: str) -> None:
    answer = exchange(amazon, get_code(amazon), **fields)
    assert answer.status_code == 400
    assert answer.json()["error"] == error
    assert answer.json()["error_description"]


def test_refresh_grant(amazon: str) -> None:
    tokens = exchange(amazon, get_code(amazon)).json()
    answer = refresh(amazon, tokens["refresh_token"])
    assert answer.status_code == 200
    refreshed = answer.json()
    assert refreshed["access_token"] != tokens["access_token"]
    assert refreshed["refresh_token"] == tokens["refresh_token"]
    assert refreshed["expires_in"] == 3600
    assert participations(amazon, refreshed["access_token"]).status_code == 200

    unknown = refresh(amazon, "Atzr|not-a-token")
    assert unknown.status_code == 400
    assert unknown.json()["error"] == "invalid_grant"


def test_revoked_seller_cannot_refresh(amazon: str) -> None:
    tokens = exchange(amazon, get_code(amazon)).json()
    revoked = requests.post(
        f"{amazon}/_sandbox/revoke", json={"selling_partner_id": "A2DEMOUSSELL01"}, timeout=5
    )
    assert revoked.json() == {"revoked": 2}
    assert refresh(amazon, tokens["refresh_token"]).json()["error"] == "invalid_grant"
    assert participations(amazon, tokens["access_token"]).status_code == 403


# Participations


@pytest.mark.parametrize("access_token", [None, "", "Atza|forged"])
def test_participations_refuse_bad_token(amazon: str, access_token: str | None) -> None:
    answer = participations(amazon, access_token)
    assert answer.status_code == 403
    assert answer.json() == UNAUTHORIZED


def test_participations_refuse_expired_token() -> None:
    with start_sandbox(SANDBOX_ACCESS_TOKEN_TTL=0.2) as base_url:
        tokens = exchange(base_url, get_code(base_url)).json()
        time.sleep(0.3)
        answer = participations(base_url, tokens["access_token"])
    assert tokens["expires_in"] == 0  # the TTL, truncated to whole seconds as Amazon reports it
    assert answer.status_code == 403
    assert answer.json() == UNAUTHORIZED


# Faults and stats


def test_token_503_twice_then_success_is_counted(amazon: str) -> None:
    code = get_code(amazon)
    arm_faults(amazon, {"token": {"status": 503, "count": 2}})
    for _ in range(2):
        answer = exchange(amazon, code)
        assert answer.status_code == 503
        assert answer.json()["error"] == "temporarily_unavailable"
        assert answer.headers["Cache-Control"] == "no-store"
    assert exchange(amazon, code).status_code == 200  # the faults did not use up the code

    counted = stats(amazon)
    assert counted["token"]["authorization_code"] == 3
    assert counted["token"]["total"] == 3
    assert counted["faults"] == {}


def test_token_500_is_server_error(amazon: str) -> None:
    arm_faults(amazon, {"token": {"status": 500}})
    answer = refresh(amazon, "Atzr|whatever")
    assert answer.status_code == 500
    assert answer.json()["error"] == "server_error"
    assert stats(amazon)["token"]["refresh_token"] == 1


def test_token_delay_makes_client_time_out(amazon: str) -> None:
    code = get_code(amazon)
    arm_faults(amazon, {"token": {"delay": 0.5, "status": 503}})
    with pytest.raises(requests.Timeout):
        requests.post(
            f"{amazon}/auth/o2/token",
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK},
            auth=(CLIENT_ID, CLIENT_SECRET),
            timeout=0.2,
        )
    assert exchange(amazon, code).status_code == 200


def test_participations_fault_uses_spapi_errors(amazon: str) -> None:
    tokens = exchange(amazon, get_code(amazon)).json()
    arm_faults(amazon, {"participations": {"status": 503}})
    answer = participations(amazon, tokens["access_token"])
    assert answer.status_code == 503
    assert answer.json()["errors"][0]["code"] == "ServiceUnavailable"
    assert participations(amazon, tokens["access_token"]).status_code == 200
    assert stats(amazon)["participations"] == 2


@pytest.mark.parametrize(
    "faults",
    [
        {"token": {"count": 2}},  # neither status nor delay
        {"token": {"status": 200}},
        {"token": {"status": 503, "count": 0}},
        {"nowhere": {"status": 503}},
        [],
    ],
)
def test_bad_fault_specs_are_refused(amazon: str, faults: Any) -> None:
    answer = requests.post(f"{amazon}/_sandbox/faults", json=faults, timeout=5)
    assert answer.status_code == 400
    assert stats(amazon)["faults"] == {}


def test_reset_forgets_tokens_and_counts(amazon: str) -> None:
    tokens = exchange(amazon, get_code(amazon)).json()
    arm_faults(amazon, {"token": {"status": 503, "count": 5}})
    requests.post(f"{amazon}/_sandbox/reset", timeout=5).raise_for_status()
    assert participations(amazon, tokens["access_token"]).status_code == 403
    assert stats(amazon) == {
        "token": {"authorization_code": 0, "refresh_token": 0, "total": 0},
        "participations": 1,
        "faults": {},
    }


def test_control_api_absent_when_faults_disabled() -> None:
    with start_sandbox(SANDBOX_FAULTS_ENABLED="false") as base_url:
        assert requests.get(f"{base_url}/_sandbox/stats", timeout=5).status_code == 404
        assert requests.post(f"{base_url}/_sandbox/reset", timeout=5).status_code == 404


# Configuration


def test_configuration_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANDBOX_APP_DRAFT", "false")
    monkeypatch.setenv("SANDBOX_REDIRECT_URIS", "https://a.example/cb, https://b.example/cb")
    monkeypatch.setenv("SANDBOX_CODE_TTL", "60")
    app = create_app()
    assert app.config["SANDBOX_APP_DRAFT"] is False
    assert app.config["SANDBOX_REDIRECT_URIS"] == ["https://a.example/cb", "https://b.example/cb"]
    assert app.config["SANDBOX_CODE_TTL"] == 60.0
    assert app.config["SESSION_COOKIE_NAME"] == "amazon_sandbox_session"
    assert create_app({"SANDBOX_APP_DRAFT": "true"}).config["SANDBOX_APP_DRAFT"] is True
