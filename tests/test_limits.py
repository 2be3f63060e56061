"""Rate limits on the doors people hammer, and the per-account daily cap."""

import pytest
from sqlalchemy import func, select

from core.extensions import db, limiter
from core.requests import ConnectionRequest
from tests.support import Bookkeeper, unique_email
from web import create_app


@pytest.fixture
def limits(app, config):
    limiter.reset()
    yield config
    limiter.reset()


def test_login_is_rate_limited(app, limits):
    limits["LIMIT_LOGIN"] = "3 per minute"
    browser = app.test_client()
    data = {"email": unique_email("nobody"), "password": "wrong password"}
    answers = [browser.post("/login", data=data).status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]
    page = browser.post("/login", data=data)
    assert "Too many tries" in page.text and "Retry-After" in page.headers
    assert browser.get("/login").status_code == 200  # looking is never limited


def test_signup_is_rate_limited(app, limits):
    limits["LIMIT_SIGNUP"] = "2 per minute"
    browser = app.test_client()
    answers = [
        browser.post("/signup", data={"name": "x", "email": "bad", "password": "p"}).status_code
        for _ in range(3)
    ]
    assert answers == [200, 200, 429]


def test_sending_requests_is_limited_per_user_and_capped_per_account(app, client, limits, mailbox):
    limits["CONNECT_DAILY_CAP"] = 2
    bookkeeper = Bookkeeper(client).sign_up()
    account_id = bookkeeper.add_account("Capped Ltd")
    for marketplace in ("US", "CA"):
        bookkeeper.send_request(account_id, marketplace=marketplace)
    capped = bookkeeper.submit_request(
        account_id, bookkeeper.request_form(account_id, marketplace="MX")
    )
    assert capped.status_code == 429 and "reached today&#39;s limit of 2 requests" in capped.text
    with app.app_context():
        count = db.session.scalar(
            select(func.count()).select_from(ConnectionRequest).filter_by(account_id=account_id)
        )
    assert count == 2

    limits["LIMIT_SEND"] = "1 per minute"
    limiter.reset()
    other = bookkeeper.add_account("Other Ltd")
    bookkeeper.send_request(other, marketplace="US")
    data = bookkeeper.request_form(other, marketplace="CA")
    assert bookkeeper.submit_request(other, data).status_code == 429
    # Previews are not sends.
    preview = {**data, "action": "preview"}
    assert client.post(f"/accounts/{other}/connect/request", data=preview).status_code == 303
    assert client.get(f"/accounts/{other}/connect/request/preview").status_code == 200


def test_invitations_are_rate_limited(app, client, limits):
    limits["LIMIT_INVITE"] = "1 per minute"
    bookkeeper = Bookkeeper(client).sign_up()
    account_id = bookkeeper.add_account()
    url = f"/accounts/{account_id}/users/invite"
    assert client.post(url, data={"email": unique_email("a"), "role": "member"}).status_code == 302
    assert client.post(url, data={"email": unique_email("b"), "role": "member"}).status_code == 429


def test_limits_key_on_the_visitor_behind_a_trusted_proxy_only(app, limits):
    limits["LIMIT_LOGIN"] = "1 per minute"
    data = {"email": unique_email("nobody"), "password": "wrong password"}

    def attempts(browser, addresses):
        return [
            browser.post("/login", data=data, headers={"X-Forwarded-For": address}).status_code
            for address in addresses
        ]

    # Not behind a proxy: X-Forwarded-For is anyone's to forge, so it is ignored.
    assert attempts(app.test_client(), ["203.0.113.1", "203.0.113.2"]) == [200, 429]
    limiter.reset()
    # Behind one trusted proxy (TRUSTED_PROXIES=1), its X-Forwarded-For names the visitor: two
    # visitors behind the same proxy each get their own allowance.
    proxied = create_app({**app.config, "TRUSTED_PROXIES": 1})
    browser = proxied.test_client()
    assert attempts(browser, ["203.0.113.1", "203.0.113.1", "203.0.113.2"]) == [200, 429, 200]
