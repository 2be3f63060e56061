"""The Amazon stand-in, over real HTTP: consent, token exchange, participations, faults and the
other test controls."""

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from sandbox import create_app
from tests.amazon_app import (
    APP_ID,
    CALLBACK,
    CLIENT_ID,
    CLIENT_SECRET,
    OTHER_CALLBACK,
    UNAUTHORIZED,
    arm_faults,
    callback_params,
    consent_url,
    control,
    exchange,
    get_code,
    participations,
    refresh,
    start_sandbox,
    stats,
)
from tests.amazon_seller import consent, consent_error

US = {"ATVPDKIKX0DER", "A2EUQ1WTGCTBG2", "A1AM78C64UM0Y8"}
EU = {"A1F83G8C2ARO7P", "A1PA6795UKMFR9", "A13V1IB3VIYZZH", "APJ6JRA9NG5V4", "A1RKKUPIHCS9HS"}
FE = {"A1VC38T7YXB528", "A39IBJ37TRP1C6", "A19VAU5U5O7RUS"}


@pytest.fixture(scope="module")
def amazon() -> Iterator[str]:
    with start_sandbox() as base_url:
        yield base_url


@pytest.fixture(autouse=True)
def fresh_state(amazon: str) -> None:
    control(amazon, "reset").raise_for_status()


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
        ({"application_id": "amzn1.sp.solution.someone-else"}, "MD1000"),  # unknown app
        ({"application_id": None}, "MD1000"),
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


def test_explicit_redirect_uri_is_used(amazon: str) -> None:
    location = consent(consent_url(amazon, redirect_uri=OTHER_CALLBACK), "seller-us@example.com")
    assert location.startswith(OTHER_CALLBACK + "?")


@pytest.mark.parametrize(
    ("consented", "sent", "status"),
    [
        # Not sent: Amazon's own example request and python-amazon-sp-api send none.
        (None, None, 200),
        (OTHER_CALLBACK, None, 200),
        (None, "", 200),  # an empty value counts as not sent
        # Sent: it must be the consent's, the explicit one or the first registered one.
        (None, CALLBACK, 200),
        (OTHER_CALLBACK, OTHER_CALLBACK, 200),
        (None, OTHER_CALLBACK, 400),
        (OTHER_CALLBACK, CALLBACK, 400),
    ],
)
def test_redirect_uri_is_optional_but_must_match_when_sent(
    amazon: str, consented: str | None, sent: str | None, status: int
) -> None:
    answer = exchange(amazon, get_code(amazon, redirect_uri=consented), redirect_uri=sent)
    assert answer.status_code == status
    if status == 400:
        assert answer.json()["error"] == "invalid_grant"
    else:
        assert answer.json()["access_token"].startswith("Atza|")


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
    revoked = control(amazon, "revoke", {"selling_partner_id": "A2DEMOUSSELL01"})
    assert revoked.json() == {"revoked": 2}
    assert refresh(amazon, tokens["refresh_token"]).json()["error"] == "invalid_grant"
    assert participations(amazon, tokens["access_token"]).status_code == 403


def test_an_authorization_lapses_after_its_lifetime(amazon: str) -> None:
    assert control(amazon, "authorization-lifetime", {"seconds": 0.3}).status_code == 200
    tokens = exchange(amazon, get_code(amazon)).json()
    assert refresh(amazon, tokens["refresh_token"]).status_code == 200  # still within it
    time.sleep(0.35)
    lapsed = refresh(amazon, tokens["refresh_token"])
    assert (lapsed.status_code, lapsed.json()["error"]) == (400, "invalid_grant")
    assert "expired" in lapsed.json()["error_description"]
    control(amazon, "authorization-lifetime", {"seconds": None}).raise_for_status()
    assert refresh(amazon, tokens["refresh_token"]).status_code == 200  # a year again


@pytest.mark.parametrize("body", [{"seconds": 0}, {"seconds": "1"}, {}, {"seconds": 1, "x": 1}])
def test_a_bad_authorization_lifetime_is_refused(amazon: str, body: Any) -> None:
    assert control(amazon, "authorization-lifetime", body).status_code == 400


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


def test_token_429_is_throttled_not_a_server_error(amazon: str) -> None:
    arm_faults(amazon, {"token": {"status": 429}})
    answer = refresh(amazon, "Atzr|whatever")
    assert answer.status_code == 429
    assert answer.json() == {
        "error": "temporarily_unavailable",
        "error_description": "Injected fault (429)",
    }
    assert answer.headers["Cache-Control"] == "no-store"


def test_participations_429_is_quota_exceeded(amazon: str) -> None:
    tokens = exchange(amazon, get_code(amazon)).json()
    arm_faults(amazon, {"participations": {"status": 429}})
    answer = participations(amazon, tokens["access_token"])
    assert answer.status_code == 429
    assert [e["code"] for e in answer.json()["errors"]] == ["QuotaExceeded"]


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


def test_a_bare_fault_answers_without_amazons_body(amazon: str) -> None:
    arm_faults(amazon, {"token": {"status": 429, "bare": True}})
    answer = exchange(amazon, get_code(amazon))
    assert (answer.status_code, answer.text) == (429, "")
    assert answer.headers["x-amzn-RequestId"]


@pytest.mark.parametrize(
    "faults",
    [
        {"token": {"count": 2}},  # neither status nor delay
        {"token": {"status": 200}},
        {"token": {"status": 503, "count": 0}},
        {"token": {"status": 429, "bare": "yes"}},
        {"token": {"status": 429, "bare": True, "error": "invalid_grant"}},
        {"nowhere": {"status": 503}},
        [],
    ],
)
def test_bad_fault_specs_are_refused(amazon: str, faults: Any) -> None:
    answer = control(amazon, "faults", faults)
    assert answer.status_code == 400
    assert stats(amazon)["faults"] == {}


def test_reset_forgets_tokens_and_counts(amazon: str) -> None:
    tokens = exchange(amazon, get_code(amazon)).json()
    arm_faults(amazon, {"token": {"status": 503, "count": 5}})
    control(amazon, "reset").raise_for_status()
    assert participations(amazon, tokens["access_token"]).status_code == 403
    assert stats(amazon) == {
        "token": {"authorization_code": 0, "refresh_token": 0, "total": 0},
        "participations": 1,
        "user_agents": {"participations": ["python-requests/" + requests.__version__]},
        "faults": {},
        "client_secret": {"rotated": False, "previous_valid": False},
        "roles": {"withheld": False},
        "authorization_lifetime": None,
    }


def test_control_api_absent_when_faults_disabled() -> None:
    with start_sandbox(SANDBOX_FAULTS_ENABLED="false") as base_url:
        assert requests.get(f"{base_url}/_sandbox/stats", timeout=5).status_code == 404
        for path in (
            "reset",
            "faults",
            "revoke",
            "client-secret",
            "roles",
            "authorization-lifetime",
        ):
            assert control(base_url, path, {}).status_code == 404, path


# Amazon's response headers

REQUEST_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def test_every_lwa_and_spapi_answer_names_its_request(amazon: str) -> None:
    code = get_code(amazon)
    lwa = [
        exchange(amazon, code, client_secret="wrong"),  # 401
        exchange(amazon, code),  # 200
        exchange(amazon, code),  # 400: used
    ]
    access_token = lwa[1].json()["access_token"]
    arm_faults(amazon, {"token": {"status": 503}, "participations": {"status": 500}})
    lwa.append(refresh(amazon, lwa[1].json()["refresh_token"]))  # 503
    spapi = [
        participations(amazon, access_token),  # 500
        participations(amazon, access_token),  # 200
        participations(amazon, "Atza|forged"),  # 403
    ]
    assert [a.status_code for a in lwa + spapi] == [401, 200, 400, 503, 500, 200, 403]
    ids = [a.headers["x-amzn-RequestId"] for a in lwa + spapi]
    assert all(REQUEST_ID.fullmatch(i) for i in ids), ids
    assert len(set(ids)) == len(ids)  # a fresh id for every answer
    # The Sellers API's usage plan: 0.016 requests per second.
    assert {a.headers["x-amzn-RateLimit-Limit"] for a in spapi} == {"0.016"}
    assert all("x-amzn-RateLimit-Limit" not in a.headers for a in lwa)


# Regions: a code and the tokens made from it belong to the region of the seller who consented


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("sellingpartnerapi-eu.amazon.com", 200),
        ("sandbox.sellingpartnerapi-eu.amazon.com", 200),
        ("sellingpartnerapi-na.amazon.com", 403),
        ("SellingPartnerAPI-FE.amazon.com:443", 403),
        ("sandbox.sellingpartnerapi-na.amazon.com", 403),
        # The stand-in's own address stands for whichever regional host the app meant.
        (None, 200),
    ],
)
def test_amazon_host_of_another_region_refuses_the_token(
    amazon: str, host: str | None, status: int
) -> None:
    tokens = exchange(amazon, get_code(amazon, "seller-eu@example.com")).json()
    refreshed = refresh(amazon, tokens["refresh_token"]).json()
    for access_token in (tokens["access_token"], refreshed["access_token"]):
        answer = participations(amazon, access_token, host=host)
        assert answer.status_code == status
        if status == 403:
            assert answer.json() == UNAUTHORIZED
        else:
            assert {p["marketplace"]["id"] for p in answer.json()["payload"]} == EU


def test_each_region_serves_its_own_sellers(amazon: str) -> None:
    for email, region in [("seller-us@example.com", "na"), ("seller-fe@example.com", "fe")]:
        access_token = exchange(amazon, get_code(amazon, email)).json()["access_token"]
        host = f"sellingpartnerapi-{region}.amazon.com"
        assert participations(amazon, access_token, host=host).status_code == 200


# Test controls: the client secret and the role


def test_rotated_client_secret_replaces_the_old_one(amazon: str) -> None:
    tokens = exchange(amazon, get_code(amazon)).json()
    rotated = control(amazon, "client-secret", {"client_secret": "new-secret"})
    assert rotated.json() == {"rotated": True, "previous_valid": False}

    old = refresh(amazon, tokens["refresh_token"])
    assert old.status_code == 401
    assert old.json()["error"] == "invalid_client"
    assert refresh(amazon, tokens["refresh_token"], "new-secret").status_code == 200
    code = get_code(amazon)
    assert exchange(amazon, code, client_secret=CLIENT_SECRET).status_code == 401
    assert exchange(amazon, code, client_secret="new-secret").status_code == 200
    # The state shows, never a secret.
    assert stats(amazon)["client_secret"] == {"rotated": True, "previous_valid": False}
    assert "new-secret" not in requests.get(f"{amazon}/_sandbox/stats", timeout=5).text


def test_previous_client_secret_works_while_still_valid(amazon: str) -> None:
    refresh_token = exchange(amazon, get_code(amazon)).json()["refresh_token"]
    body = {"client_secret": "second", "previous_valid": True}
    assert control(amazon, "client-secret", body).json() == {
        "rotated": True,
        "previous_valid": True,
    }
    assert refresh(amazon, refresh_token, CLIENT_SECRET).status_code == 200
    assert refresh(amazon, refresh_token, "second").status_code == 200

    # A rotation keeps at most the secret it replaces: the one before that stops working.
    control(amazon, "client-secret", {"client_secret": "third", "previous_valid": True})
    assert [refresh(amazon, refresh_token, s).status_code for s in (CLIENT_SECRET, "second")] == [
        401,
        200,
    ]
    control(amazon, "client-secret", {"client_secret": "fourth", "previous_valid": False})
    assert [refresh(amazon, refresh_token, s).status_code for s in ("third", "fourth")] == [
        401,
        200,
    ]


def test_withheld_role_refuses_the_sellers_api(amazon: str) -> None:
    access_token = exchange(amazon, get_code(amazon)).json()["access_token"]
    assert control(amazon, "roles", {"withheld": True}).json() == {"withheld": True}
    refused = participations(amazon, access_token)
    assert refused.status_code == 403
    assert refused.json() == UNAUTHORIZED
    assert stats(amazon)["roles"] == {"withheld": True}

    assert control(amazon, "roles", {"withheld": False}).json() == {"withheld": False}
    assert participations(amazon, access_token).status_code == 200


def test_reset_restores_the_client_secret_and_the_role(amazon: str) -> None:
    control(amazon, "client-secret", {"client_secret": "new-secret"}).raise_for_status()
    control(amazon, "roles", {"withheld": True}).raise_for_status()
    control(amazon, "reset").raise_for_status()
    assert stats(amazon)["client_secret"] == {"rotated": False, "previous_valid": False}
    assert stats(amazon)["roles"] == {"withheld": False}
    tokens = exchange(amazon, get_code(amazon))  # the configured secret again
    assert tokens.status_code == 200
    assert participations(amazon, tokens.json()["access_token"]).status_code == 200


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("client-secret", None),
        ("client-secret", ["new-secret"]),
        ("client-secret", {}),
        ("client-secret", {"client_secret": ""}),
        ("client-secret", {"client_secret": 5}),
        ("client-secret", {"client_secret": "x", "previous_valid": "yes"}),
        ("client-secret", {"client_secret": "x", "previous_valid": 1}),
        ("client-secret", {"client_secret": "x", "expires": "7d"}),
        ("roles", None),
        ("roles", {}),
        ("roles", {"withheld": "true"}),
        ("roles", {"withheld": 1}),
        ("roles", {"withheld": True, "role": "sellers"}),
        ("revoke", None),
        ("revoke", {"selling_partner_id": 3}),
        ("revoke", {"selling_partner_id": "A0NOBODY"}),
    ],
)
def test_bad_control_input_is_refused(amazon: str, path: str, body: Any) -> None:
    answer = control(amazon, path, body)
    assert answer.status_code == 400
    assert answer.json()["error"]
    unchanged = stats(amazon)
    assert unchanged["client_secret"] == {"rotated": False, "previous_valid": False}
    assert unchanged["roles"] == {"withheld": False}


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
