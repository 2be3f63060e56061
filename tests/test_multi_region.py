"""One request for several regions, on the real stack: one email and one checklist for the owner,
one consent per region (each its own seller account at Amazon), the bookkeeper told as each
region and then all are connected; reminders go out once for the group."""

import re
import time
from datetime import timedelta

from core.extensions import db
from core.requests import ConnectionRequest
from tests.amazon_seller import consent
from tests.support import Bookkeeper, connections, link_in, text_of


def group_of(app, account_id) -> list[ConnectionRequest]:
    with app.app_context():
        return list(
            db.session.scalars(
                db.select(ConnectionRequest)
                .filter_by(account_id=account_id)
                .order_by(ConnectionRequest.id)
            )
        )


def asked_for_two_regions(client, mailbox, name: str, bookkeeper: Bookkeeper | None = None):
    bookkeeper = bookkeeper or Bookkeeper(client).sign_up()
    account_id = bookkeeper.add_account(name)
    data = bookkeeper.request_form(account_id, marketplace="UK", also_1="JP")
    sent = bookkeeper.submit_request(account_id, data)
    assert sent.status_code == 303, sent.text
    return bookkeeper, account_id, data


def test_one_request_two_regions_one_email_a_checklist_and_each_region_told(
    app, client, seller, mailbox
):
    bookkeeper, account_id, data = asked_for_two_regions(client, mailbox, "Two Regions Ltd")
    [invite] = mailbox.wait_for(data["client_email"], "in 2 regions")
    assert "United Kingdom (UK), Japan (JP)" in text_of(invite)
    [copy] = mailbox.wait_for(bookkeeper.email, "Request sent")
    assert "(UK, JP)" in copy["Subject"]
    uk, jp = group_of(app, account_id)
    assert (uk.marketplace, jp.marketplace) == ("UK", "JP")
    assert uk.group_id == jp.group_id == uk.public_id
    time.sleep(0.5)
    assert len(mailbox.to(data["client_email"])) == 1  # one email for both

    link = link_in(invite)
    landing = seller.open_link(link).text
    assert "Europe next · Far East after that" in landing
    assert "Continue to Amazon: Europe" in landing

    first = seller.connect(link, "seller-eu@example.com")
    assert "<h1>Connected</h1>" in first.text
    assert "Europe connected · Far East next" in first.text
    assert "Next: connect Japan (JP)" in first.text
    [one] = mailbox.wait_for(bookkeeper.email, "(1 of 2)")
    assert "Still waiting for: Japan (JP)" in text_of(one)
    # The same link now leads on to the next region.
    assert "Europe connected · Far East next" in seller.open_link(link).text

    public_id = re.search(r"/amazon/authorizations/([0-9a-f]+)/next", first.text).group(1)
    pressed = seller.client.post(f"/amazon/authorizations/{public_id}/next")
    assert pressed.status_code == 303
    second = seller.return_from_amazon(
        consent(pressed.headers["Location"], "seller-fe@example.com")
    )
    assert "<h1>Connected</h1>" in second.text
    assert "Europe connected · Far East connected" in second.text
    assert "Next: connect" not in second.text
    [all_done] = mailbox.wait_for(bookkeeper.email, "all regions connected")
    assert "All 2 regions asked for are connected" in text_of(all_done)
    stored = {c.marketplace: c.covered for c in connections(app, account_id)}
    assert stored == {"UK": ["UK", "DE", "FR", "IT", "ES"], "JP": ["JP", "AU", "SG"]}
    assert [r.status for r in group_of(app, account_id)] == ["connected", "connected"]
    assert seller.open_link(link).status_code == 410  # nothing left to connect


def test_the_group_is_reminded_once_and_two_marketplaces_of_one_region_are_refused(
    app, client, mailbox, config
):
    bookkeeper = Bookkeeper(client).sign_up()
    account_id = bookkeeper.add_account("One Region Twice Ltd")
    refused = bookkeeper.submit_request(
        account_id, bookkeeper.request_form(account_id, marketplace="UK", also_1="DE")
    )
    assert refused.status_code == 200
    assert "is in Europe, Middle East and India already" in refused.text
    assert group_of(app, account_id) == []

    config["CONNECT_REMINDERS"] = [timedelta(seconds=2)]
    _, account_id, data = asked_for_two_regions(client, mailbox, "Reminded Once Ltd", bookkeeper)
    mailbox.wait_for(data["client_email"], "Reminder")
    wanted = {"reminded"}
    deadline = time.monotonic() + 10
    while {r.status for r in group_of(app, account_id)} != wanted:
        assert time.monotonic() < deadline, [r.status for r in group_of(app, account_id)]
        time.sleep(0.2)
    time.sleep(1)
    reminders = [m for m in mailbox.to(data["client_email"]) if "Reminder" in m["Subject"]]
    assert len(reminders) == 1
    assert "United Kingdom (UK), Japan (JP)" in text_of(reminders[0])


def test_a_new_address_for_the_group_sends_one_email_and_every_old_link_dies(
    app, client, seller, mailbox
):
    bookkeeper, account_id, data = asked_for_two_regions(client, mailbox, "New Address Ltd")
    old_link = link_in(mailbox.wait_for(data["client_email"], "in 2 regions")[0])
    seller.connect(old_link, "seller-eu@example.com")  # Europe done; the link leads on
    uk, jp = group_of(app, account_id)
    new_address = data["client_email"].replace("@", "+new@")
    changed = client.post(
        f"/accounts/{account_id}/requests/{jp.public_id}/email",
        data={"client_email": new_address},
        follow_redirects=True,
    )
    assert "The request now goes to" in changed.text
    [fresh] = mailbox.wait_for(new_address, "asks you to connect")
    assert "Japan (JP)" in text_of(fresh) and "United Kingdom" not in text_of(fresh)
    assert seller.open_link(old_link).status_code == 410  # the old address's link is dead
    assert "Far East next" in seller.open_link(link_in(fresh)).text
    time.sleep(0.5)
    assert len(mailbox.to(new_address)) == 1
