"""Renewal started at Amazon, on the real stack: the seller presses Re-authorize in the
stand-in's Manage Your Apps, Amazon opens our OAuth Log-in URI, the seller continues to Amazon's
consent and comes back, and the same connection is renewed. Unknown sellers and links that did
not come from Amazon store nothing."""

from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import requests

from core import marketplaces
from core.amazon import consent_url as amazon_consent_url
from core.extensions import db
from core.requests import ConnectionRequest, OAuthState
from tests.amazon_seller import _form, consent
from tests.support import request_of, text_of
from tests.test_connection_life import connected, connection_of, wait_until
from vocabulary.statuses import ConnectionState

US_SELLER, EU_SELLER = "A2DEMOUSSELL01", "A3DEMOEUSELL02"


def signed_in_at_amazon(amazon: str, email: str) -> requests.Session:
    """A browser signed in to Seller Central (the stand-in) as `email`."""
    http = requests.Session()
    page = http.get(f"{amazon}/ap/signin", timeout=10)
    form = _form(page, "signin-form")
    http.post(
        urljoin(page.url, form.action),
        data={**form.fields, "email": email, "password": "demo"},
        timeout=10,
    )
    return http


def reauthorize(amazon: str, http: requests.Session) -> str:
    """Manage Your Apps → Re-authorize: Amazon's redirect to the app's Log-in URI."""
    page = http.get(f"{amazon}/apps/manage", timeout=10)
    assert "Demo Bookkeeping App" in page.text, page.text
    form = _form(page, "reauthorize-form")
    sent = http.post(
        urljoin(page.url, form.action), data=form.fields, allow_redirects=False, timeout=10
    )
    assert sent.status_code == 302, sent.text
    return sent.headers["Location"]


def rows(app) -> tuple[int, int]:
    with app.app_context():
        return (
            db.session.scalar(db.select(db.func.count()).select_from(ConnectionRequest)),
            db.session.scalar(db.select(db.func.count()).select_from(OAuthState)),
        )


def test_renewed_from_manage_your_apps_through_the_login_uri(app, client, seller, mailbox, amazon):
    bookkeeper, account_id, sent = connected(client, seller, mailbox, "Amazon Started Ltd")
    first = connection_of(app, account_id)
    wait_until(lambda: mailbox.wait_for(bookkeeper.email, "is connected to Amazon"), "confirmed")

    http = signed_in_at_amazon(amazon, "seller-us@example.com")
    login_uri = reauthorize(amazon, http)
    query = parse_qs(urlsplit(login_uri).query)
    assert urlsplit(login_uri).path == "/amazon/login"
    assert query["selling_partner_id"] == [US_SELLER] and query["version"] == ["beta"]

    # Our page: who asks and for what, in our own look; pressing on goes back to Amazon.
    page = seller.open_link(login_uri)
    assert page.status_code == 200
    assert "Renew your Amazon connection" in page.text
    assert "Amazon Started Ltd" in page.text and "Ledger &amp; Co" in page.text
    csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    pressed = seller.client.post(
        "/amazon/login",
        data={
            "csrf_token": csrf,
            "connection": first.id,
            **{k: v[0] for k, v in query.items() if k != "version"},
        },
    )
    assert pressed.status_code == 303
    back_to_amazon = pressed.headers["Location"]
    params = parse_qs(urlsplit(back_to_amazon).query)
    assert back_to_amazon.startswith(f"{amazon}/apps/authorize/consent?")
    assert params["amazon_state"] == query["amazon_state"]
    assert params["version"] == ["beta"] and params["redirect_uri"][0].endswith("/amazon/callback")
    assert "application_id" not in params  # the amazon_state names the app

    redirect = consent(back_to_amazon, "seller-us@example.com", session=http)
    outcome = seller.return_from_amazon(redirect)
    assert "<h1>Renewed</h1>" in outcome.text
    renewed = connection_of(app, account_id)
    assert (renewed.id, renewed.status) == (first.id, ConnectionState.HEALTHY)
    assert renewed.authorized_at > first.authorized_at
    renewal = request_of(app, account_id)
    assert (renewal.purpose, renewal.status) == ("renew", "connected")
    with app.app_context():
        kinds = [e.kind for e in db.session.get(ConnectionRequest, renewal.id).events]
    assert kinds[0] == "amazon_started" and "sent" not in kinds  # no invitation email
    [thanked] = mailbox.wait_for(sent["client_email"], "You renewed")
    assert "another year" in text_of(thanked)
    mailbox.wait_for(bookkeeper.email, "Renewed:")

    # The amazon_state is single-use at Amazon.
    again = http.get(back_to_amazon, timeout=10)
    assert again.status_code == 400 and "amazon_state" in again.text


def test_an_unknown_seller_is_told_to_ask_their_bookkeeper_and_nothing_is_stored(
    app, seller, amazon
):
    """As the Appstore would send a seller nobody here connected (no test connects this id)."""
    before = rows(app)
    query = {
        "amazon_callback_uri": f"{amazon}/apps/authorize/consent",
        "amazon_state": "appstore-state",
        "selling_partner_id": "A9UNKNOWNSELLER9",
        "version": "beta",
    }
    page = seller.open_link(f"/amazon/login?{urlencode(query)}")
    assert page.status_code == 200 and "Ask your bookkeeper for an invitation" in page.text
    assert "Continue to Amazon" not in page.text
    assert rows(app) == before


def test_a_login_uri_call_that_did_not_come_from_amazon_goes_nowhere(
    app, client, seller, mailbox, amazon
):
    _, account_id, _ = connected(client, seller, mailbox, "Not Redirected Ltd")
    connection = connection_of(app, account_id)
    before = rows(app)
    good = {
        "amazon_callback_uri": f"{amazon}/apps/authorize/consent",
        "amazon_state": "s",
        "selling_partner_id": US_SELLER,
    }
    page = seller.client.get(f"/amazon/login?{urlencode(good)}")
    csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    for bad in (
        {"amazon_callback_uri": "https://evil.example/apps/authorize/consent"},
        {"amazon_callback_uri": f"{amazon}/somewhere/else"},
        {"amazon_callback_uri": f"{amazon}@evil.example/apps/authorize/consent"},
        {"amazon_callback_uri": "//evil.example/apps/authorize/consent"},
        {"selling_partner_id": "<script>"},
        {"amazon_state": ""},
    ):
        page = seller.client.get(f"/amazon/login?{urlencode({**good, **bad})}")
        assert page.status_code == 400, bad
        assert "This link did not come from Amazon" in page.text
        posted = seller.client.post(
            "/amazon/login", data={**good, **bad, "connection": connection.id, "csrf_token": csrf}
        )
        assert posted.status_code == 400 and "did not come from Amazon" in posted.text, bad
    # Another seller's id with this connection: refused, nothing started.
    other = {
        **good,
        "selling_partner_id": EU_SELLER,
        "csrf_token": csrf,
        "connection": connection.id,
    }
    assert seller.client.post("/amazon/login", data=other).status_code == 404
    assert rows(app) == before


def test_pressing_continue_stores_nothing_until_amazon_sends_the_same_seller_back(
    app, client, seller, mailbox, amazon
):
    """A stranger who knows a seller id gets as far as Amazon's sign-in and no further: no
    request exists until Amazon returns that seller; another seller is refused."""
    _, account_id, _ = connected(client, seller, mailbox, "Stranger Proof Ltd")
    connection = connection_of(app, account_id)
    http = signed_in_at_amazon(amazon, "seller-us2@example.com")  # another US seller
    query = {
        "amazon_callback_uri": f"{amazon}/apps/authorize/consent",
        "amazon_state": "appstore-state",
        "selling_partner_id": US_SELLER,
    }
    page = seller.open_link(f"/amazon/login?{urlencode(query)}")
    csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    requests_before = rows(app)[0]
    pressed = seller.client.post(
        "/amazon/login", data={**query, "csrf_token": csrf, "connection": connection.id}
    )
    assert pressed.status_code == 303
    assert rows(app)[0] == requests_before  # no request yet
    # Amazon's consent with our state, as another seller (a real code, the wrong account).
    state = parse_qs(urlsplit(pressed.headers["Location"]).query)["state"][0]
    url = amazon_consent_url(app.config, marketplaces.get("US"), state)
    redirect = consent(url, "seller-us2@example.com", session=http)
    answer = seller.return_from_amazon(redirect)
    assert answer.status_code == 409 and "not the seller account connected before" in answer.text
    assert rows(app)[0] == requests_before
    assert connection_of(app, account_id).authorized_at == connection.authorized_at


def test_removing_the_app_in_manage_your_apps_is_found_revoked(
    app, client, seller, mailbox, amazon, config
):
    config["CONNECTION_CHECK_EVERY"] = timedelta(seconds=1)
    bookkeeper, account_id, _ = connected(client, seller, mailbox, "Removed At Amazon Ltd")
    http = signed_in_at_amazon(amazon, "seller-us@example.com")
    page = http.get(f"{amazon}/apps/manage", timeout=10)
    form = _form(page, "remove-form")
    removed = http.post(urljoin(page.url, form.action), data=form.fields, timeout=10)
    assert "No apps are authorized for this account" in removed.text
    wait_until(lambda: connection_of(app, account_id).status == ConnectionState.REVOKED, "revoked")
    mailbox.wait_for(bookkeeper.email, "was revoked")
