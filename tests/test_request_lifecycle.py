"""The direct path, withdrawing, expiry, a slow worker, and the saga's compensation."""

import time
from datetime import timedelta
from urllib.parse import urlsplit

from sqlalchemy import select

from core.extensions import db
from tests.support import Bookkeeper, connections, link_in, path_of, request_of, wait_for_status


def test_direct_path_connects_without_invitation(app, client, seller, mailbox):
    bookkeeper = Bookkeeper(client).sign_up()
    account_id = bookkeeper.add_account("Own Shop")
    path = client.get(f"/accounts/{account_id}/connect/path?marketplace=CA")
    assert "I own this seller account — connect now" in path.text
    assert "Request access from the account owner" in path.text
    started = client.post(f"/accounts/{account_id}/connect/direct", data={"marketplace": "CA"})
    assert started.status_code == 303
    consent_url = started.headers["Location"]
    assert urlsplit(consent_url).path == "/apps/authorize/consent"
    redirect = seller.consent(consent_url, "seller-us@example.com")
    outcome = client.get(path_of(redirect))
    assert "<h1>Connected</h1>" in outcome.text
    assert [c.marketplace for c in connections(app, account_id)] == ["CA"]
    mailbox.wait_for(bookkeeper.email, "Own Shop is connected to Amazon CA")
    # No invitation went anywhere: the bookkeeper is the seller.
    assert not [m for m in mailbox.to(bookkeeper.email) if "Request sent" in str(m["Subject"])]


def test_withdrawn_request_kills_the_link(app, client, seller, mailbox):
    bookkeeper = Bookkeeper(client).sign_up()
    account_id = bookkeeper.add_account()
    sent = bookkeeper.send_request(account_id)
    link = link_in(mailbox.wait_for(sent["client_email"], "asks you to connect")[0])
    public_id = request_of(app, account_id).public_id
    response = client.post(f"/accounts/{account_id}/requests/{public_id}/cancel")
    assert response.status_code == 302
    wait_for_status(app, account_id, "cancelled")
    page = seller.open_link(link)
    assert page.status_code == 410 and "This request was withdrawn" in page.text
    assert seller.client.post(path_of(link)).status_code == 410


def test_consent_after_withdrawal_is_refused(app, client, seller, mailbox):
    bookkeeper = Bookkeeper(client).sign_up()
    account_id = bookkeeper.add_account()
    sent = bookkeeper.send_request(account_id)
    link = link_in(mailbox.wait_for(sent["client_email"], "asks you to connect")[0])
    redirect = seller.consent(seller.go_to_amazon(link), "seller-us@example.com")
    public_id = request_of(app, account_id).public_id
    client.post(f"/accounts/{account_id}/requests/{public_id}/cancel")
    wait_for_status(app, account_id, "cancelled")
    outcome = seller.return_from_amazon(redirect)
    assert outcome.status_code == 410 and "closed" in outcome.text
    assert connections(app, account_id) == []


def test_unused_link_expires(app, client, seller, mailbox, config):
    config["CONNECT_EXPIRES_AFTER"] = timedelta(seconds=2)
    bookkeeper = Bookkeeper(client).sign_up()
    account_id = bookkeeper.add_account()
    sent = bookkeeper.send_request(account_id)
    link = link_in(mailbox.wait_for(sent["client_email"], "asks you to connect")[0])
    assert seller.open_link(link).status_code == 200
    wait_for_status(app, account_id, "expired", timeout=30)
    page = seller.open_link(link)
    assert page.status_code == 410 and "This link has expired" in page.text
    assert "Expired" in client.get(f"/accounts/{account_id}").text


def test_slow_answer_shows_finishing_page_that_completes(app, client, seller, mailbox, config):
    config["CALLBACK_WAIT_SECONDS"] = 0.001  # the workflow cannot answer that fast
    bookkeeper = Bookkeeper(client).sign_up()
    account_id = bookkeeper.add_account()
    sent = bookkeeper.send_request(account_id)
    link = link_in(mailbox.wait_for(sent["client_email"], "asks you to connect")[0])
    first = seller.connect(link)
    assert first.status_code == 202
    assert "finishing the connection" in first.text
    assert 'http-equiv="refresh"' in first.text  # keeps checking by itself, no script needed
    status_url = first.text.split(";url=")[1].split('"')[0]
    deadline = time.monotonic() + 20
    while (page := seller.client.get(status_url)).status_code == 202:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert "<h1>Connected</h1>" in page.text
    mailbox.wait_for(sent["client_email"], "You connected")


def test_confirmation_that_cannot_be_sent_undoes_the_connection(app, client, seller, mailbox):
    bookkeeper = Bookkeeper(client).sign_up()
    account_id = bookkeeper.add_account("Saga Ltd")
    sent = bookkeeper.send_request(account_id)
    link = link_in(mailbox.wait_for(sent["client_email"], "asks you to connect")[0])
    redirect = seller.consent(seller.go_to_amazon(link), "seller-us@example.com")
    # the mail server permanently refuses the first confirmation (the bookkeeper's)
    mailbox.reject[bookkeeper.email] = 1
    seller.return_from_amazon(redirect)
    request = wait_for_status(app, account_id, "failed")
    assert "confirmation emails could not be sent" in request.status_detail
    assert connections(app, account_id) == []
    mailbox.wait_for(bookkeeper.email, "Connecting Saga Ltd to Amazon US failed")


def test_retried_invitation_is_the_same_email_with_the_same_link(app, client, seller, mailbox):
    """The mail server fails the first tries: the retry rebuilds the same link and Message-ID."""
    from core.requests import ConnectionLink

    bookkeeper = Bookkeeper(client).sign_up()
    account_id = bookkeeper.add_account("Retry Ltd")
    mailbox.unavailable = True
    try:
        sent = bookkeeper.send_request(account_id)
        time.sleep(2.5)  # the first two tries fail with 451
    finally:
        mailbox.unavailable = False
    [invitation] = mailbox.wait_for(sent["client_email"], "asks you to connect", timeout=30)
    with app.app_context():
        request = request_of(app, account_id)
        links = db.session.scalars(select(ConnectionLink).filter_by(request_id=request.id)).all()
    assert len(links) == 1  # not one per try
    assert invitation["Message-ID"].strip().startswith(f"<{request.public_id}.sent.")
    assert "<h1>Connected</h1>" in seller.connect(link_in(invitation)).text
