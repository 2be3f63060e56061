"""Bad input on every form gets a clear message next to the field and writes nothing."""

import pytest
from sqlalchemy import func, select

from core.accounts import ClientAccount
from core.extensions import db
from core.requests import ConnectionRequest
from core.users import User
from tests.support import Bookkeeper, unique_email


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def bookkeeper(client):
    return Bookkeeper(client).sign_up()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("client_email", "not-an-email", "Enter a valid email address."),
        ("client_email", "", "This field is required."),
        ("client_email", "a@b.com\r\nBcc: victim@example.com", "Enter a valid email address."),
        ("client_name", "Sam\r\nBcc: victim@example.com", "Use a single line"),
        ("client_name", "x" * 121, "Too long: up to 120 characters, this one has 121."),
        ("client_name", "", "This field is required."),
        ("marketplace", "XX", "Choose one of Amazon"),
        ("note", "n" * 1001, "Too long: up to 1,000 characters, this one has 1,001."),
    ],
)
def test_request_form_rejects(app, client, bookkeeper, field, value, message):
    account_id = bookkeeper.add_account()
    before = count(app, ConnectionRequest)
    data = bookkeeper.request_form(account_id, **{field: value})
    response = client.post(
        f"/accounts/{account_id}/connect/request", data={**data, "action": "preview"}
    )
    assert response.status_code == 200
    assert message in response.text
    assert 'aria-invalid="true"' in response.text
    assert "Send Request to Connect" not in response.text
    assert count(app, ConnectionRequest) == before


def test_preview_shows_the_exact_email_and_writes_nothing(app, client, bookkeeper):
    account_id = bookkeeper.add_account("Preview Co")
    before = count(app, ConnectionRequest)
    data = bookkeeper.request_form(account_id, client_name="Pat Owner", note="See you Friday")
    page = client.post(
        f"/accounts/{account_id}/connect/request",
        data={**data, "action": "preview"},
        follow_redirects=True,
    )
    assert "Hi Pat Owner," in page.text
    assert "See you Friday" in page.text
    assert "asks you to connect Preview Co" in page.text
    assert "Continue to connect" in page.text
    assert count(app, ConnectionRequest) == before


def test_direct_path_rejects_unknown_marketplace(app, client, bookkeeper):
    account_id = bookkeeper.add_account()
    before = count(app, ConnectionRequest)
    response = client.post(f"/accounts/{account_id}/connect/direct", data={"marketplace": "ZZ"})
    assert response.status_code == 302
    assert count(app, ConnectionRequest) == before
    page = client.get(response.headers["Location"])
    assert "Choose one of Amazon" in page.text


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("email", "nope", "Invalid email address."),
        ("name", "Bea\nKeeper", "Use a single line"),
        ("password", "short", "Use at least 10 characters."),
        ("firm_name", "Firm\r\nX-Evil: 1", "Use a single line"),
    ],
)
def test_signup_rejects(app, client, field, value, message):
    before = count(app, User)
    data = {
        "name": "Bea",
        "email": unique_email("b"),
        "password": "long enough pw",
        "firm_name": "",
    }
    data[field] = value
    response = client.post("/signup", data=data)
    assert response.status_code == 200 and message in response.text
    assert count(app, User) == before


def test_account_name_rejects_newlines(app, client, bookkeeper):
    before = count(app, ClientAccount)
    response = client.post("/accounts/new", data={"name": "Acme\r\nBcc: x@y.z"})
    assert response.status_code == 200 and "Use a single line" in response.text
    assert count(app, ClientAccount) == before


def test_csrf_is_required(app, worker):
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        response = app.test_client().post(
            "/signup", data={"name": "x", "email": unique_email("c"), "password": "long enough pw"}
        )
        assert response.status_code == 400
        assert "CSRF" in response.text
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
