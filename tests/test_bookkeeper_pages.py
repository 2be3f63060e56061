"""Issue 12, "a bookkeeper never has to wonder": the bookkeeper's pages in Chromium at desktop size.

Logins, accounts and finished connections are written straight to the database (they have their
own tests); what the pages are about (requests, invitations) goes through the real stack.
"""

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from playwright.sync_api import expect

from core.accounts import AmazonConnection, ClientAccount, Membership
from core.clock import utcnow
from core.extensions import db
from core.requests import ConnectionRequest
from core.users import User, hash_password
from tests.browser import PASSWORD, amazon_sign_in, needs_chromium, send_request
from tests.support import text_of, unique_email
from vocabulary.statuses import RequestState

pytestmark = needs_chromium

NEW_YORK = "America/New_York"


def make_bookkeeper(app, account_name: str = "Acme Widgets Ltd", name: str = "Bea Keeper"):
    """A confirmed login with one account it administers; returns (email, account id)."""
    email = unique_email("bea")
    with app.app_context():
        user = User(
            email=email,
            name=name,
            firm_name="Ledger & Co",
            password_hash=hash_password(PASSWORD),
            email_verified_at=utcnow(),
        )
        account = ClientAccount(name=account_name)
        db.session.add_all([user, account])
        db.session.add(Membership(account=account, user=user, role=Membership.ADMIN))
        db.session.commit()
        return email, account.id


def add_connection(
    app, account_id: int, email: str, marketplace: str, owner: str = "", **health
) -> None:
    """A finished connection (and the request that made it), as the worker stores them: made by
    the bookkeeper directly, or by `owner` invited; `health` (status, checked_at) as its checks
    left it."""
    with app.app_context():
        user = db.session.scalar(db.select(User).filter_by(email=email))
        request = ConnectionRequest(
            account_id=account_id,
            requested_by=user,
            kind=ConnectionRequest.INVITE if owner else ConnectionRequest.DIRECT,
            marketplace=marketplace,
            client_name=owner or user.name,
            client_email=unique_email("owner") if owner else user.email,
            status=RequestState.CONNECTED,
        )
        db.session.add(request)
        db.session.flush()
        db.session.add(
            AmazonConnection(
                account_id=account_id,
                marketplace=marketplace,
                selling_partner_id="A1SELLER" + marketplace,
                refresh_token_encrypted=b"x",
                request_id=request.id,
                **health,
            )
        )
        db.session.commit()


def log_in(person, email: str) -> None:
    page = person.page
    page.goto("/login")
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Your client accounts").wait_for()


def test_request_page_resend_is_secondary_times_are_local_and_words_are_plain(people, mailbox, app):
    bea = people("bookkeeper", timezone_id=NEW_YORK, locale="en-US")
    email, account_id = make_bookkeeper(app, "Local Times Ltd")
    log_in(bea, email)
    page = bea.page
    link = send_request(page, f"/accounts/{account_id}", "UK", mailbox)
    request_url = page.url

    # Resend now is there, but not the button the eye lands on.
    resend = page.get_by_role("button", name="Resend now")
    expect(resend).to_be_visible()
    assert "primary" not in (resend.get_attribute("class") or "")

    # Every time on the page: ISO UTC in datetime, UTC on hover, the viewer's zone in the text.
    times = page.locator("main time")
    assert times.count() >= 3
    for i in range(times.count()):
        time = times.nth(i)
        assert re.fullmatch(
            r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", time.get_attribute("datetime")
        )
        assert "UTC" in time.get_attribute("title")
    line = page.locator(".timeline time").first
    expect(line).not_to_contain_text("UTC")
    moment = datetime.fromisoformat(line.get_attribute("datetime").replace("Z", "+00:00"))
    local = moment.astimezone(ZoneInfo(NEW_YORK))
    text = line.inner_text()
    assert f"{local.hour % 12 or 12}:{local.minute:02d}" in text, text
    assert local.tzname() in text, text  # EST or EDT
    assert line.get_attribute("title").endswith(f"{moment:%H:%M} UTC")

    # The seller goes to Amazon: the bookkeeper reads that, in those words.
    sam = people("seller")
    sam.page.goto(link)
    sam.page.get_by_role("button", name="Continue to Amazon").click()
    sam.page.locator("input[name=email]").wait_for()
    expect(page.locator("[data-status]").first).to_have_text("Went to Amazon", timeout=15000)
    expect(page.locator("main")).not_to_contain_text("Consent started")

    # Signing in with an account that does not sell in the UK is the seller's slip, not Amazon's.
    amazon_sign_in(sam.page, "seller-us@example.com")
    sam.page.get_by_role("heading", name=re.compile("does not sell in")).wait_for()
    page.goto(request_url)
    slip = page.locator(".timeline li[data-kind=amazon_error]").first
    expect(slip).to_contain_text("Sam Seller")
    expect(slip).to_contain_text("does not sell in United Kingdom (UK)")
    assert not re.search(r"\bAmazon\s*·", slip.inner_text()), slip.inner_text()
    expect(page.locator("main")).not_to_contain_text("Amazon error")


def test_withdraw_and_disconnect_ask_first_without_javascript(people, mailbox, app):
    bea = people("bookkeeper", java_script_enabled=False)
    email, account_id = make_bookkeeper(app, "No Script Ltd")
    add_connection(app, account_id, email, "UK")
    log_in(bea, email)
    page = bea.page
    link = send_request(page, f"/accounts/{account_id}", "US", mailbox)

    # Withdraw a request: a page says what happens; Cancel leaves it as it is.
    page.get_by_role("link", name="Withdraw request").click()
    expect(page.get_by_role("heading", name=re.compile("Withdraw"))).to_be_visible()
    expect(page.locator("main")).to_contain_text("stops working")
    page.get_by_role("link", name="Cancel").click()
    expect(page.locator("[data-status]").first).to_have_text("Sent")
    page.get_by_role("link", name="Withdraw request").click()
    page.get_by_role("button", name="Withdraw request").click()
    page.get_by_text("Request withdrawn").wait_for()
    expect(page.locator("[data-status]").first).to_have_text("Withdrawn")
    assert "withdrawn" in bea.context.request.get(link).text().lower()

    # Withdraw a user's invitation.
    page.goto(f"/accounts/{account_id}/users")
    invitee = unique_email("olive")
    page.get_by_label("Email", exact=True).fill(invitee)
    page.get_by_role("button", name="Send invitation").click()
    page.get_by_text(f"Invitation sent to {invitee}").wait_for()
    page.get_by_role("link", name="Withdraw").click()
    expect(page.locator("main")).to_contain_text(invitee)
    expect(page.locator("main")).to_contain_text("stops working")
    page.get_by_role("button", name="Withdraw invitation").click()
    page.get_by_text(f"Invitation of {invitee} withdrawn").wait_for()

    # Disconnect a marketplace.
    page.goto(f"/accounts/{account_id}")
    page.get_by_role("link", name="Disconnect").click()
    expect(page.locator("main")).to_contain_text("United Kingdom (UK)")
    expect(page.locator("main")).to_contain_text("gets an email saying so")
    page.get_by_role("link", name="Cancel").click()
    expect(page.get_by_text("Connected · ready")).to_be_visible()
    page.get_by_role("link", name="Disconnect").click()
    page.get_by_role("button", name="Disconnect").click()
    page.get_by_text("Amazon UK disconnected").wait_for()


def test_accounts_list_and_marketplace_picker_show_what_is_covered(people, mailbox, app):
    bea = people("bookkeeper")
    email, account_id = make_bookkeeper(app, "Two Markets Ltd")
    add_connection(app, account_id, email, "UK")
    log_in(bea, email)
    page = bea.page
    send_request(page, f"/accounts/{account_id}", "DE", mailbox)

    page.goto("/")
    row = page.locator("ul.list li").filter(has_text="Two Markets Ltd")
    expect(row).to_contain_text("Amazon UK connected")
    expect(row).to_contain_text("Amazon DE: Sent")

    page.goto(f"/accounts/{account_id}/connect/")
    groups = page.locator("select[name=marketplace] optgroup")
    labels = [groups.nth(i).get_attribute("label") for i in range(groups.count())]
    assert labels[0] == "North America" and "Far East" in labels
    assert any(label.startswith("Europe") for label in labels)
    options = page.locator("select[name=marketplace] option")
    expect(options.filter(has_text="(UK)")).to_have_text(re.compile(r"\(UK\) — connected$"))
    expect(options.filter(has_text="(DE)")).to_have_text(re.compile(r"\(DE\) — request pending$"))
    expect(options.filter(has_text="(FR)")).to_have_text("France (FR)")


def test_long_names_wrap_and_fields_show_their_limits(people, app):
    bea = people("bookkeeper")
    long_name = "W" * 120  # the longest any field allows, unbroken: wider than any screen
    email, account_id = make_bookkeeper(app, long_name)
    add_connection(app, account_id, email, "UK")
    with app.app_context():
        request = db.session.scalar(db.select(ConnectionRequest).filter_by(account_id=account_id))
        request.client_name = long_name
        db.session.commit()
        public_id = request.public_id
    log_in(bea, email)
    page = bea.page
    for path in (
        "/",
        f"/accounts/{account_id}",
        f"/accounts/{account_id}/users",
        f"/accounts/{account_id}/requests/{public_id}",
        f"/accounts/{account_id}/connect/",
    ):
        page.goto(path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 1200, f"{path} is {width} px wide"

    page.goto("/accounts/new")
    name = page.get_by_label("Business name")
    assert name.get_attribute("maxlength") == "120"
    expect(page.locator("main")).to_contain_text("Up to 120 characters")
    page.goto(f"/accounts/{account_id}/users")
    assert page.get_by_label("Email", exact=True).get_attribute("maxlength") == "254"
    bea.context.clear_cookies()
    page.goto("/signup")
    for label in ("Name", "Firm name (optional)"):
        assert page.get_by_label(label, exact=True).get_attribute("maxlength") == "120"
    assert page.get_by_label("Email", exact=True).get_attribute("maxlength") == "254"
    assert page.get_by_label("Password", exact=True).get_attribute("maxlength") == "200"
    page.goto("/login")
    assert page.get_by_label("Email", exact=True).get_attribute("maxlength") == "254"


def test_an_invited_client_is_not_asked_for_a_firm(people, mailbox, app):
    admin = people("bookkeeper")
    email, account_id = make_bookkeeper(app, "Option Two Ltd", name="Ada Admin")
    log_in(admin, email)
    admin.page.goto(f"/accounts/{account_id}/users")
    owner_email = unique_email("olive")
    admin.page.get_by_label("Email", exact=True).fill(owner_email)
    admin.page.get_by_role("button", name="Send invitation").click()
    admin.page.get_by_text(f"Invitation sent to {owner_email}").wait_for()

    olive = people("invited owner")
    message = mailbox.wait_for(owner_email, "invites you to Option Two Ltd")[0]
    olive.page.goto(re.search(r"https?://\S+/invitations/\S+", text_of(message)).group(0))
    olive.page.get_by_role("link", name=f"Sign up as {owner_email}").click()
    expect(olive.page.get_by_label("Name", exact=True)).to_be_visible()
    expect(olive.page.get_by_label(re.compile("Firm"))).to_have_count(0)
    olive.page.get_by_label("Name", exact=True).fill("Olive Owner")
    olive.page.get_by_label("Password", exact=True).fill(PASSWORD)
    olive.page.get_by_role("button", name="Sign up").click()
    olive.page.get_by_text("Welcome to Option Two Ltd").wait_for()
    # A member: no Users button that would lead nowhere useful; Connect to Amazon stays.
    expect(olive.page.get_by_role("link", name="Users")).to_have_count(0)
    expect(olive.page.get_by_role("link", name="Connect to Amazon")).to_be_visible()
    with app.app_context():
        user = db.session.scalar(db.select(User).filter_by(email=owner_email))
        assert user.display_firm == ""
    assert olive.page.locator("header .who").inner_text().strip() == "Olive Owner"


def test_the_account_page_says_when_each_connection_was_checked_and_which_was_revoked(people, app):
    bea = people("bookkeeper", timezone_id=NEW_YORK, locale="en-US")
    email, account_id = make_bookkeeper(app, "Health Ltd")
    two_hours_ago = utcnow() - timedelta(hours=2)
    add_connection(app, account_id, email, "UK", checked_at=two_hours_ago)
    add_connection(
        app, account_id, email, "DE", owner="Sam Seller", status="revoked", checked_at=utcnow()
    )
    log_in(bea, email)
    page = bea.page
    page.goto(f"/accounts/{account_id}")
    rows = page.locator("section.card").first.locator("tbody tr")
    uk, de = rows.filter(has_text="United Kingdom"), rows.filter(has_text="Germany")
    expect(uk).to_contain_text("Connected · ready")
    expect(uk).to_contain_text("Checked 2 hours ago")
    expect(de).to_contain_text("Access revoked")
    reconnect = de.get_by_role("link", name="Ask Sam Seller to reconnect")
    expect(reconnect).to_be_visible()
    assert "primary" in reconnect.get_attribute("class")
    bea.shot("20-connection-revoked")
    reconnect.click()
    page.get_by_role("button", name="Send Request to Connect").wait_for()  # the preview
