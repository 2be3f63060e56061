"""Reminders, expiry, resend, change of email, duplicates and the expired-link page.

Schedules of seconds come in through the workflow's input, exactly as days do in production.
"""

import re
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from core.extensions import db
from core.requests import ConnectionRequest, RequestEvent
from tests.support import (
    Bookkeeper,
    link_in,
    path_of,
    request_of,
    text_of,
    wait_for_status,
)

S = timedelta(seconds=1)


def invite(client, mailbox, **overrides):
    bookkeeper = Bookkeeper(client).sign_up()
    account_id = bookkeeper.add_account("Reminder Co")
    sent = bookkeeper.send_request(account_id, **overrides)
    invitation = mailbox.wait_for(sent["client_email"], "asks you to connect")[0]
    return bookkeeper, account_id, sent, invitation


def timeline(app, account_id, delivered: bool = False) -> list[str]:
    """The kinds of the request's timeline events (without mail-server receipts, by default)."""
    with app.app_context():
        request = request_of(app, account_id)
        return [
            e.kind
            for e in db.session.scalars(
                select(RequestEvent).filter_by(request_id=request.id).order_by(RequestEvent.id)
            )
            if delivered or e.kind != "delivered"
        ]


def test_reminders_fire_on_time_then_the_request_expires(app, client, mailbox, config):
    config["CONNECT_REMINDERS"] = [1 * S, 2 * S, 3 * S]
    config["CONNECT_EXPIRES_AFTER"] = 5 * S
    bookkeeper, account_id, sent, invitation = invite(client, mailbox)
    seller = sent["client_email"]

    reminders = mailbox.wait_for(seller, "Reminder (", count=3, timeout=15)
    for number, reminder in enumerate(reminders, start=1):
        delay = reminder.received_at - invitation.received_at
        assert number - 0.3 <= delay <= number + 1.5, (number, delay)
        assert "left to connect" in text_of(reminder) or "last day" in text_of(reminder)
    notices = mailbox.wait_for(bookkeeper.email, "Reminder ", count=3)
    assert [str(m["Subject"]).split(" sent")[0] for m in notices] == [
        "Reminder 1 of 3",
        "Reminder 2 of 3",
        "Reminder 3 of 3",
    ]
    request = wait_for_status(app, account_id, "expired", timeout=15)
    assert request.reminders_sent == 3
    expired = mailbox.wait_for(bookkeeper.email, "did not connect Reminder Co in time")[0]
    assert f"/requests/{request.public_id}/renew" in text_of(expired)
    assert len(mailbox.wait_for(seller, "Reminder (", count=3)) == 3  # no more after expiry
    assert timeline(app, account_id) == ["sent", "reminder", "reminder", "reminder", "expired"]
    assert timeline(app, account_id, delivered=True)[:4] == [
        "sent",
        "delivered",
        "reminder",
        "delivered",
    ]


def test_reminders_pause_while_the_seller_is_at_amazon(app, client, seller, mailbox, config):
    config["CONNECT_REMINDERS"] = [1 * S, 2 * S]
    config["CONNECT_EXPIRES_AFTER"] = 30 * S
    config["CONNECT_REMINDER_PAUSE"] = 4 * S
    _, account_id, sent, invitation = invite(client, mailbox)
    seller.go_to_amazon(link_in(invitation))  # presses the button, then does not finish
    pressed = time.monotonic()
    wait_for_status(app, account_id, "consent_started")
    first = mailbox.wait_for(sent["client_email"], "Reminder (", timeout=15)[0]
    assert first.received_at - pressed >= 3.5  # not before the pause ran out
    second = mailbox.wait_for(sent["client_email"], "Reminder (", count=2, timeout=10)[1]
    assert second.received_at - first.received_at < 2.5  # then the schedule resumes
    assert timeline(app, account_id)[:3] == ["sent", "consent_started", "reminder"]


def test_reminders_stop_when_the_seller_connects(app, client, seller, mailbox, config):
    config["CONNECT_REMINDERS"] = [2 * S]
    _, account_id, sent, invitation = invite(client, mailbox)
    assert "<h1>Connected</h1>" in seller.connect(link_in(invitation)).text
    time.sleep(2.5)
    assert not [m for m in mailbox.to(sent["client_email"]) if "Reminder (" in str(m["Subject"])]
    assert timeline(app, account_id) == ["sent", "consent_started", "connected"]


def test_opening_the_page_in_a_browser_marks_it_opened(app, client, seller, mailbox):
    _, account_id, _, invitation = invite(client, mailbox)
    link = link_in(invitation)
    seller.open_link(link)  # a GET alone (a mail scanner) changes nothing
    time.sleep(0.5)
    assert request_of(app, account_id).status == "sent"
    assert seller.client.post(path_of(link) + "/opened").status_code == 204  # the page's script
    wait_for_status(app, account_id, "opened")
    seller.client.post(path_of(link) + "/opened")
    time.sleep(0.3)
    assert timeline(app, account_id).count("opened") == 1


def test_resend_gives_a_fresh_link_and_kills_the_old(app, client, seller, mailbox):
    bookkeeper, account_id, sent, invitation = invite(client, mailbox)
    old = link_in(invitation)
    public_id = request_of(app, account_id).public_id
    response = client.post(f"/accounts/{account_id}/requests/{public_id}/resend")
    assert response.status_code == 302
    assert "fresh link is on its way" in client.get(response.headers["Location"]).text
    fresh = link_in(mailbox.wait_for(sent["client_email"], "asks you to connect", count=2)[1])
    assert fresh != old
    dead = seller.open_link(old)
    assert dead.status_code == 410 and "replaced by a newer one" in dead.text
    assert "<h1>Connected</h1>" in seller.connect(fresh).text
    assert "resent" in timeline(app, account_id)


def test_change_email_sends_to_the_new_address(app, client, seller, mailbox):
    _, account_id, _, invitation = invite(client, mailbox)
    old = link_in(invitation)
    public_id = request_of(app, account_id).public_id
    url = f"/accounts/{account_id}/requests/{public_id}/email"

    bad = client.post(url, data={"client_email": "nobody"})
    assert bad.status_code == 400 and "Enter a valid email address." in bad.text

    client.post(url, data={"client_email": "owner@new-domain.example"})
    fresh = link_in(mailbox.wait_for("owner@new-domain.example", "asks you to connect")[0])
    assert seller.open_link(old).status_code == 410
    assert request_of(app, account_id).client_email == "owner@new-domain.example"
    assert "<h1>Connected</h1>" in seller.connect(fresh).text
    page = client.get(f"/accounts/{account_id}/requests/{public_id}").text
    assert "Email changed from" in page and "owner@new-domain.example" in page


def test_withdrawn_request_sends_nothing_more(app, client, seller, mailbox, config):
    config["CONNECT_REMINDERS"] = [1 * S]
    bookkeeper, account_id, sent, invitation = invite(client, mailbox)
    public_id = request_of(app, account_id).public_id
    client.post(f"/accounts/{account_id}/requests/{public_id}/cancel")
    wait_for_status(app, account_id, "cancelled")
    before = len(mailbox.to(bookkeeper.email)), len(mailbox.to(sent["client_email"]))
    time.sleep(1.5)
    assert (len(mailbox.to(bookkeeper.email)), len(mailbox.to(sent["client_email"]))) == before
    assert "withdrawn" in seller.open_link(link_in(invitation)).text
    resend = client.post(f"/accounts/{account_id}/requests/{public_id}/resend")
    assert "no longer" in client.get(resend.headers["Location"]).text


def test_second_request_offers_to_resend_the_open_one(app, client, mailbox):
    bookkeeper, account_id, sent, _ = invite(client, mailbox, marketplace="FR")
    with app.app_context():
        before = db.session.scalar(select(func.count()).select_from(ConnectionRequest))
    data = bookkeeper.request_form(account_id, marketplace="FR")
    again = bookkeeper.submit_request(account_id, data)
    assert again.status_code == 409
    assert "already open" in again.text and "Resend it now" in again.text
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ConnectionRequest)) == before
    # Another marketplace is another business key.
    other = bookkeeper.submit_request(account_id, {**data, "marketplace": "DE"})
    assert other.status_code == 303


def test_temporal_refuses_a_second_run_for_the_same_business_key(app, client, mailbox):
    """Even if the database check is raced, the workflow id makes Temporal refuse."""
    from services import requests
    from services.gateway import AlreadyOpen

    _, account_id, _, _ = invite(client, mailbox, marketplace="IT")
    with app.test_request_context():
        existing = db.session.get(ConnectionRequest, request_of(app, account_id).id)
        twin = ConnectionRequest(
            id=existing.id,
            account=existing.account,
            account_id=account_id,
            requested_by=existing.requested_by,
            kind="invite",
            marketplace="IT",
            client_name="Twin",
            client_email="twin@example.com",
            status="sent",
        )
        with pytest.raises(AlreadyOpen):
            requests._start_workflow(twin)
        db.session.rollback()


def test_expired_link_lets_the_seller_ask_for_a_new_one(app, client, seller, mailbox, config):
    config["CONNECT_EXPIRES_AFTER"] = 1 * S
    bookkeeper, account_id, sent, invitation = invite(client, mailbox)
    wait_for_status(app, account_id, "expired")
    link = link_in(invitation)
    page = seller.open_link(link)
    assert page.status_code == 410
    assert "This link has expired" in page.text and "Ask Bea Keeper for a new link" in page.text
    asked = seller.client.post(path_of(link) + "/ask")
    assert "We told Bea Keeper" in asked.text
    notice = mailbox.wait_for(bookkeeper.email, "asks for a new link")[0]
    renew = re.search(r"https?://\S+/renew", text_of(notice)).group(0)
    again = seller.client.post(path_of(link) + "/ask")  # rate-limited: once a day per request
    assert "already asked today" in again.text
    time.sleep(0.5)
    assert len(mailbox.wait_for(bookkeeper.email, "asks for a new link")) == 1

    # The bookkeeper's one click: the same request again, previewed, ready to send.
    preview = client.get(path_of(renew), follow_redirects=True)
    assert "Send Request to Connect" in preview.text and sent["client_email"] in preview.text
    draft = re.search(r'name="draft" value="([^"]+)"', preview.text).group(1)
    url = f"/accounts/{account_id}/connect/request/send"
    response = client.post(url, data={"draft": draft})
    assert response.status_code == 303
    assert request_of(app, account_id).status == "sent"
    mailbox.wait_for(sent["client_email"], "asks you to connect", count=2)


def test_open_requests_list_across_accounts(app, client, mailbox):
    bookkeeper = Bookkeeper(client).sign_up()
    first = bookkeeper.add_account("Alpha Store")
    second = bookkeeper.add_account("Beta Store")
    bookkeeper.send_request(first)
    time.sleep(0.05)
    last = bookkeeper.send_request(second)
    mailbox.wait_for(last["client_email"], "asks you to connect")
    oldest = client.get("/requests").text.split("<main>")[1]  # after the account switcher
    assert oldest.index("Alpha Store") < oldest.index("Beta Store")
    newest = client.get("/requests?sort=newest").text.split("<main>")[1]
    assert newest.index("Beta Store") < newest.index("Alpha Store")
    assert "Sent" in oldest and "just now" in oldest and "in 14 days" in oldest


def test_direct_connect_finishes_the_open_request(app, client, seller, mailbox):
    bookkeeper, account_id, sent, _ = invite(client, mailbox, marketplace="MX")
    url = f"/accounts/{account_id}/connect/direct"
    asked = client.post(url, data={"marketplace": "MX"})
    assert asked.status_code == 200 and "This finishes Bea Keeper&#39;s open request" in asked.text
    response = client.post(url, data={"marketplace": "MX", "confirm": "yes"})
    assert response.status_code == 303
    redirect = seller.consent(response.headers["Location"], "seller-us@example.com")
    assert "<h1>Connected</h1>" in client.get(path_of(redirect)).text
    with app.app_context():
        count = db.session.scalar(
            select(func.count()).select_from(ConnectionRequest).filter_by(account_id=account_id)
        )
    assert count == 1
