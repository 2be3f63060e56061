"""What the seller sees when Amazon's answer is not a clean yes, and that the workflow copes."""

from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select

from core.accounts import AmazonConnection
from core.extensions import db
from core.requests import Authorization, ConnectionRequest
from tests.support import Bookkeeper, link_in, path_of


def invited(client, mailbox, **overrides) -> tuple[Bookkeeper, int, str]:
    bookkeeper = Bookkeeper(client).sign_up()
    account_id = bookkeeper.add_account()
    sent = bookkeeper.send_request(account_id, **overrides)
    link = link_in(mailbox.wait_for(sent["client_email"], "asks you to connect")[0])
    return bookkeeper, account_id, link


def connections(app, account_id):
    with app.app_context():
        return db.session.scalars(select(AmazonConnection).filter_by(account_id=account_id)).all()


def test_consent_url_is_amazons(app, client, seller, mailbox):
    _, _, link = invited(client, mailbox, marketplace="DE")
    url = urlsplit(seller.go_to_amazon(link))
    params = parse_qs(url.query)
    assert url.path == "/apps/authorize/consent"
    assert params["application_id"] == [app.config["AMAZON_APP_ID"]]
    assert params["version"] == ["beta"]
    assert params["redirect_uri"] == [f"{app.config['APP_BASE_URL']}/amazon/callback"]
    assert len(params["state"][0]) >= 32


def test_wrong_seller_account_can_try_again(app, client, seller, mailbox):
    _, account_id, link = invited(client, mailbox, marketplace="UK")
    outcome = seller.connect(link, "seller-us@example.com")  # sells in US/CA/MX, not UK
    assert outcome.status_code == 409
    assert "does not sell in United Kingdom" in outcome.text
    assert "Sign in to Amazon again" in outcome.text
    assert connections(app, account_id) == []

    # The request is still open: the retry button goes back to Amazon for the same request.
    public_id = outcome.text.split("/amazon/authorizations/")[1].split("/retry")[0]
    again = seller.client.post(f"/amazon/authorizations/{public_id}/retry")
    assert again.status_code == 303
    redirect = seller.consent(again.headers["Location"], "seller-eu@example.com")
    final = seller.return_from_amazon(redirect)
    assert "<h1>Connected</h1>" in final.text
    [connection] = connections(app, account_id)
    assert connection.selling_partner_id == "A3DEMOEUSELL02"


def test_expired_or_used_code_is_not_retried(app, client, seller, mailbox, amazon_faults):
    _, account_id, link = invited(client, mailbox)
    redirect = seller.consent(seller.go_to_amazon(link), "seller-us@example.com")
    amazon_faults(token={"status": 400, "error": "invalid_grant", "count": 1})
    outcome = seller.return_from_amazon(redirect)
    assert outcome.status_code == 409
    assert "expired or was already used" in outcome.text
    assert amazon_faults.stats()["token"]["authorization_code"] == 1  # no retry
    assert connections(app, account_id) == []


def test_token_endpoint_503_is_retried(app, client, seller, mailbox, amazon_faults):
    _, account_id, link = invited(client, mailbox)
    redirect = seller.consent(seller.go_to_amazon(link), "seller-us@example.com")
    amazon_faults(token={"status": 503, "count": 2})
    outcome = seller.return_from_amazon(redirect)
    assert "<h1>Connected</h1>" in outcome.text, outcome.text
    assert amazon_faults.stats()["token"]["authorization_code"] == 3
    assert len(connections(app, account_id)) == 1


def test_forged_state_is_refused(app, client, seller, mailbox):
    _, account_id, link = invited(client, mailbox)
    redirect = seller.consent(seller.go_to_amazon(link), "seller-us@example.com")
    query = parse_qs(urlsplit(redirect).query)
    forged = redirect.replace(query["state"][0], "forged-state-value")
    response = seller.return_from_amazon(forged)
    assert response.status_code == 400
    assert "did not start in this browser" in response.text
    with app.app_context():
        assert db.session.scalars(select(Authorization)).all() == [] or all(
            a.request.account_id != account_id for a in db.session.scalars(select(Authorization))
        )


def test_state_from_another_browser_is_refused(app, client, seller, mailbox):
    _, account_id, link = invited(client, mailbox)
    redirect = seller.consent(seller.go_to_amazon(link), "seller-us@example.com")
    stranger = app.test_client()  # a different browser session presenting the same redirect
    response = stranger.get(path_of(redirect))
    assert response.status_code == 400
    assert connections(app, account_id) == []


def test_replayed_callback_yields_one_connection(app, client, seller, mailbox):
    _, account_id, link = invited(client, mailbox)
    redirect = seller.consent(seller.go_to_amazon(link), "seller-us@example.com")
    first = seller.return_from_amazon(redirect)
    assert "<h1>Connected</h1>" in first.text
    replay = seller.return_from_amazon(redirect)  # the seller pressed back and reloaded
    assert replay.status_code == 302
    assert "<h1>Connected</h1>" in seller.client.get(replay.headers["Location"]).text
    stranger = app.test_client().get(path_of(redirect))  # or someone replays the URL elsewhere
    assert stranger.status_code == 400 and "already used" in stranger.text
    assert len(connections(app, account_id)) == 1
    with app.app_context():
        request = db.session.scalar(select(ConnectionRequest).filter_by(account_id=account_id))
        assert (
            len(db.session.scalars(select(Authorization).filter_by(request_id=request.id)).all())
            == 1
        )


def test_incomplete_callback(client):
    response = client.get("/amazon/callback?state=abc")
    assert response.status_code == 400
    assert "incomplete" in response.text
