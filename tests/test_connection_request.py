"""The invite path end to end: bookkeeper sends, seller connects, both are told."""

from sqlalchemy import select

from core.accounts import AmazonConnection
from core.extensions import db
from core.requests import Authorization, ConnectionRequest
from tests.support import Bookkeeper, html_of, link_in, text_of


def connected_rows(app, account_id):
    with app.app_context():
        return db.session.scalars(select(AmazonConnection).filter_by(account_id=account_id)).all()


def test_bookkeeper_invites_and_seller_connects(app, client, seller, mailbox):
    bookkeeper = Bookkeeper(client).sign_up()
    account_id = bookkeeper.add_account("Acme Widgets Ltd")
    sent = bookkeeper.send_request(account_id, note="Hi Sam, this lets us reconcile payouts.")

    invite = mailbox.wait_for(sent["client_email"], "asks you to connect")[0]
    assert "Acme Widgets Ltd" in invite["Subject"] and "Ledger & Co" in invite["Subject"]
    assert "Continue to connect" in html_of(invite)
    assert "reconcile payouts" in text_of(invite)
    copy = mailbox.wait_for(bookkeeper.email, "Request sent")[0]
    assert sent["client_email"] in text_of(copy)

    link = link_in(invite)
    landing = seller.open_link(link)
    assert landing.status_code == 200
    for words in ("Ledger &amp; Co", "Bea Keeper", "Acme Widgets Ltd", "United States"):
        assert words in landing.text

    outcome = seller.connect(link, "seller-us@example.com")
    assert outcome.status_code == 200, outcome.text
    assert "<h1>Connected</h1>" in outcome.text

    [connection] = connected_rows(app, account_id)
    assert connection.marketplace == "US"
    assert connection.selling_partner_id == "A2DEMOUSSELL01"
    assert b"Atzr|" not in connection.refresh_token_encrypted

    confirmation = mailbox.wait_for(bookkeeper.email, "is connected to Amazon US and ready")[0]
    assert "A2DEMOUSSELL01" in text_of(confirmation)
    mailbox.wait_for(sent["client_email"], "You connected Acme Widgets Ltd")

    page = client.get(f"/accounts/{account_id}")
    assert "Connected · ready" in page.text and "A2DEMOUSSELL01" in page.text

    # The link is spent: the seller's page says so, and nothing more is written.
    spent = seller.open_link(link)
    assert spent.status_code == 410 and "Already connected" in spent.text
    with app.app_context():
        request = db.session.scalar(select(ConnectionRequest).filter_by(account_id=account_id))
        assert request.status == "connected"
        authorization = db.session.scalar(select(Authorization).filter_by(request_id=request.id))
        assert (
            authorization.code_encrypted is None and authorization.refresh_token_encrypted is None
        )


def test_opening_the_link_changes_nothing(app, client, seller, mailbox):
    bookkeeper = Bookkeeper(client).sign_up()
    account_id = bookkeeper.add_account()
    sent = bookkeeper.send_request(account_id)
    link = link_in(mailbox.wait_for(sent["client_email"], "asks you to connect")[0])
    for _ in range(3):  # a mail scanner prefetching the link
        assert seller.open_link(link).status_code == 200
    outcome = seller.connect(link)
    assert "<h1>Connected</h1>" in outcome.text


def test_account_status_feed_for_live_pages(app, client, seller, mailbox):
    bookkeeper = Bookkeeper(client).sign_up()
    account_id = bookkeeper.add_account()
    sent = bookkeeper.send_request(account_id)
    page = client.get(f"/accounts/{account_id}").text
    assert f'data-live-status="/accounts/{account_id}/status"' in page
    before = client.get(f"/accounts/{account_id}/status").get_json()
    assert list(before["requests"].values()) == ["sent"] and before["connections"] == []
    seller.connect(link_in(mailbox.wait_for(sent["client_email"], "asks you to connect")[0]))
    after = client.get(f"/accounts/{account_id}/status").get_json()
    assert list(after["requests"].values()) == ["connected"] and after["connections"] == [
        "US:healthy"
    ]
