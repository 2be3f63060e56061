"""Trust before the click: our own name and colour, emails from the bookkeeper through the app,
and a seller who knows what Amazon will show and what the bookkeeper will read.

Real stack: the emails go through the SMTP sink, the seller's page is walked in Chromium."""

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from core.extensions import db
from core.invitations import UserInvitation
from sandbox.config import DEFAULTS as SANDBOX_DEFAULTS
from tests.browser import needs_chromium
from tests.support import Bookkeeper, html_of, link_in, path_of, request_of, text_of, unique_email

ADDRESS = "no-reply@bookkeeping.test"  # the address part of the tests' MAIL_DEFAULT_SENDER
AMAZON_APP_NAME = SANDBOX_DEFAULTS["SANDBOX_APP_NAME"]  # what the stand-in's consent page shows
# "Friday 4 December 2026, 14:05 UTC"
EMAIL_DATE = r"(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday) \d{1,2} [A-Z][a-z]+ \d{4}, \d\d:\d\d UTC"  # noqa: E501
AMAZON_LOOK = ("Amazon Connect", "Amazon&nbsp;Connect", "#ff9900", "#c77700", "#232f3e")


def sender(message) -> tuple[str, str]:
    [address] = message["From"].addresses
    return address.display_name, address.addr_spec


def reply_to(message) -> str | None:
    if message["Reply-To"] is None:
        return None
    [address] = message["Reply-To"].addresses
    return address.addr_spec


def assert_ours(message) -> None:
    """Nothing in the email looks like Amazon's own product."""
    for text in (str(message["Subject"]), str(message["From"]), text_of(message), html_of(message)):
        for look in AMAZON_LOOK:
            assert look.lower() not in text.lower(), (look, text)


def footer(message) -> str:
    """The text version's last lines, where the email says why it came."""
    return " ".join(text_of(message).strip().splitlines()[-3:])


def test_email_date_says_the_day_and_the_zone():
    from core.emails import email_date

    assert email_date(datetime(2026, 12, 4, 14, 5)) == "Friday 4 December 2026, 14:05 UTC"
    paris = timezone(timedelta(hours=1))
    assert email_date(datetime(2026, 12, 4, 15, 5, tzinfo=paris)) == (
        "Friday 4 December 2026, 14:05 UTC"
    )
    new_year = datetime(2026, 1, 1, 0, 0, tzinfo=UTC)
    assert email_date(new_year) == "Thursday 1 January 2026, 00:00 UTC"
    assert email_date(None) == ""


def test_account_emails_come_from_the_app_and_say_why(app, client, mailbox):
    bookkeeper = Bookkeeper(client).sign_up()
    [signup] = mailbox.wait_for(bookkeeper.email, "Finish signing up")
    assert sender(signup) == ("LedgerBridge", ADDRESS)
    assert reply_to(signup) is None
    assert signup["Subject"] == "Finish signing up to LedgerBridge"
    assert "because someone signed up with this address at LedgerBridge" in footer(signup)
    assert "because someone signed up with this address at LedgerBridge" in html_of(signup)
    assert_ours(signup)

    app.test_client().post("/reset", data={"email": bookkeeper.email})
    [reset] = mailbox.wait_for(bookkeeper.email, "Reset your LedgerBridge password")
    assert sender(reset) == ("LedgerBridge", ADDRESS)
    assert "at LedgerBridge" in footer(reset)
    assert_ours(reset)


def test_seller_emails_come_from_the_bookkeeper_via_the_app(app, client, seller, mailbox):
    bookkeeper = Bookkeeper(client).sign_up()
    account_id = bookkeeper.add_account("Acme Widgets Ltd")
    sent = bookkeeper.send_request(account_id)
    [invite] = mailbox.wait_for(sent["client_email"], "asks you to connect")

    assert sender(invite) == ("Bea Keeper (Ledger & Co) via LedgerBridge", ADDRESS)
    assert reply_to(invite) == bookkeeper.email
    assert not invite["Subject"].startswith("New link")
    why = (
        "You got this email because Bea Keeper (Ledger & Co) asked you to connect"
        " Acme Widgets Ltd's Amazon account."
    )
    ask = "Questions? Reply to this email to reach Bea Keeper."
    assert why in footer(invite) and ask in footer(invite)
    assert "because Bea Keeper (Ledger &amp; Co) asked you to connect Acme" in html_of(invite)
    assert ask in html_of(invite)
    assert_ours(invite)
    assert "#0f766e" in html_of(invite)  # our button colour

    # It names what Amazon will show, what will be read, who can connect, and how to undo it.
    for body in (text_of(invite), html_of(invite)):
        assert AMAZON_APP_NAME in body
        assert app.config["AMAZON_ACCESS_DESCRIPTION"] in body
        assert "Seller Central" in body and "Vendor Central" in body
        assert "User Permissions" in body and "Manage Your Apps" in body
    assert re.search(rf"The link works until {EMAIL_DATE}\.", text_of(invite)), text_of(invite)
    assert re.search(rf"works until {EMAIL_DATE}\.", html_of(invite))

    # The bookkeeper's own copy comes from the app, and dates say their zone.
    [copy] = mailbox.wait_for(bookkeeper.email, "Request sent")
    assert sender(copy) == ("LedgerBridge", ADDRESS)
    assert reply_to(copy) is None
    assert re.search(rf"works until {EMAIL_DATE}\.", text_of(copy)), text_of(copy)
    assert "You got this email because you asked Sam Seller" in footer(copy)
    assert_ours(copy)

    # A resend and a change of address say "New link: " so the live one is not buried.
    public_id = request_of(app, account_id).public_id
    client.post(f"/accounts/{account_id}/requests/{public_id}/resend")
    fresh = mailbox.wait_for(sent["client_email"], "asks you to connect", count=2)[1]
    assert fresh["Subject"].startswith("New link: Bea Keeper (Ledger & Co) asks you to connect")
    assert sender(fresh) == ("Bea Keeper (Ledger & Co) via LedgerBridge", ADDRESS)
    new_address = unique_email("owner")
    client.post(
        f"/accounts/{account_id}/requests/{public_id}/email", data={"client_email": new_address}
    )
    [moved] = mailbox.wait_for(new_address, "asks you to connect")
    assert moved["Subject"].startswith("New link: ")

    # The confirmation to the seller, too, comes from the bookkeeper.
    seller.connect(link_in(moved))
    [done] = mailbox.wait_for(new_address, "You connected Acme Widgets Ltd")
    assert sender(done) == ("Bea Keeper (Ledger & Co) via LedgerBridge", ADDRESS)
    assert reply_to(done) == bookkeeper.email
    assert "Reply to this email to reach Bea Keeper" in footer(done)
    assert_ours(done)
    connected = mailbox.wait_for(bookkeeper.email, "is connected to Amazon US")[0]
    assert sender(connected) == ("LedgerBridge", ADDRESS)
    assert_ours(connected)

    # Every email of the story, to either party, ends saying why it came.
    everything = [*mailbox.to(bookkeeper.email), *mailbox.to(sent["client_email"])]
    everything += mailbox.to(new_address)
    assert len(everything) >= 7
    for message in everything:
        assert "You got this email because" in footer(message), message["Subject"]
        assert "You got this email because" in html_of(message), message["Subject"]


def test_user_invitation_names_are_encoded_and_not_repeated(app, client, mailbox):
    """A firm equal to the name is not said twice; commas, quotes and accents survive."""
    admin = Bookkeeper(client, name='Zoë "Z" Keeper, CPA', firm="").sign_up()
    account_id = admin.add_account("Comma, Quote & Co")
    email = unique_email("invitee")
    client.post(f"/accounts/{account_id}/users/invite", data={"email": email, "role": "member"})
    [invitation] = mailbox.wait_for(email, "invites you to")
    assert sender(invitation) == ('Zoë "Z" Keeper, CPA via LedgerBridge', ADDRESS)
    assert reply_to(invitation) == admin.email
    assert "(Zoë" not in invitation["Subject"]  # the firm is the name: said once
    assert re.search(rf"works until {EMAIL_DATE}\.", text_of(invitation)), text_of(invitation)
    assert 'Zoë "Z" Keeper, CPA invited you' in footer(invitation)
    assert "Reply to this email to reach Zoë" in footer(invitation)
    assert_ours(invitation)

    with app.app_context():
        public_id = db.session.scalar(select(UserInvitation.public_id).filter_by(email=email))
    client.post(f"/accounts/{account_id}/invitations/{public_id}/resend")
    fresh = mailbox.wait_for(email, "invites you to", count=2)[1]
    assert fresh["Subject"].startswith("New link: ")


def test_pages_carry_our_name_and_colour(client, config):
    login = client.get("/login").text
    assert re.search(r"<title>[^<]*· LedgerBridge</title>", login), login
    style = client.get("/static/style.css").text
    favicon = client.get("/static/favicon.svg").text
    for text in (login, style, favicon):
        for look in AMAZON_LOOK:
            assert look.lower() not in text.lower(), look
    assert "--amazon" not in style
    assert re.search(r"--brand:\s*#0f766e", style)

    config["APP_NAME"] = "Books Bridge"
    assert "· Books Bridge</title>" in client.get("/login").text


@needs_chromium
def test_seller_landing_on_a_phone_says_what_happens_at_amazon(app, client, mailbox, people):
    bookkeeper = Bookkeeper(client).sign_up()
    account_id = bookkeeper.add_account("Acme Widgets Ltd")
    sent = bookkeeper.send_request(account_id)
    link = link_in(mailbox.wait_for(sent["client_email"], "asks you to connect")[0])

    sam = people("seller", mobile=True)
    page = sam.page
    page.goto(path_of(link))
    page.get_by_text("1 Review").wait_for()
    assert page.title().endswith("· LedgerBridge")
    body = page.locator("main").inner_text()
    assert AMAZON_APP_NAME in body
    assert app.config["AMAZON_ACCESS_DESCRIPTION"] in body
    assert "Seller Central" in body and "Vendor Central" in body
    assert "User Permissions" in body and "Manage Your Apps" in body
    html = page.content()
    for look in AMAZON_LOOK:
        assert look.lower() not in html.lower(), look
    button = page.get_by_role("button", name="Continue to Amazon")
    colours = button.evaluate(
        "b => [getComputedStyle(b).backgroundColor, getComputedStyle(b).color]"
    )
    assert colours == ["rgb(15, 118, 110)", "rgb(255, 255, 255)"]
    # The whole page fits the phone: nothing to scroll sideways.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    sam.shot("trust-seller-landing")


@pytest.mark.parametrize("name", ["Amazon Books", "amazon"])
def test_our_name_cannot_be_amazons(name):
    from core.config import load_config

    with pytest.raises(RuntimeError, match="APP_NAME"):
        load_config({"APP_NAME": name})


def test_direct_connection_says_you_connected_it_yourself(client, seller, mailbox):
    bookkeeper = Bookkeeper(client).sign_up()
    account_id = bookkeeper.add_account("Own Shop")
    started = client.post(f"/accounts/{account_id}/connect/direct", data={"marketplace": "CA"})
    redirect = seller.consent(started.headers["Location"], "seller-us@example.com")
    client.get(path_of(redirect))
    [done] = mailbox.wait_for(bookkeeper.email, "Own Shop is connected to Amazon CA")
    assert sender(done) == ("LedgerBridge", ADDRESS)
    assert (
        "You got this email because you connected Own Shop's Amazon account at LedgerBridge"
        " yourself." in footer(done)
    )
    assert "asked" not in footer(done)
