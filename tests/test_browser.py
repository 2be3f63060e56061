"""The whole story in a real browser (Playwright driving Debian's Chromium) on the real stack.

Each step saves a screenshot (to docs/screenshots with --screenshots docs/screenshots, which is how
the README's pictures are made); any console error fails the test.
"""

import re

from tests.browser import (
    PASSWORD,
    amazon_sign_in,
    asked_to_connect,
    at_amazon_on_a_phone,
    needs_chromium,
    send_request,
    sign_up,
)
from tests.support import link_in, text_of, unique_email

pytestmark = needs_chromium


def test_invite_the_owner_in_the_browser(people, mailbox):
    bea = people("bookkeeper")
    page = bea.page
    bea_email = unique_email("bea")
    sign_up(bea, mailbox, "Bea Keeper", bea_email, "Ledger & Co", shot=True)
    page.get_by_label("Business name").fill("Acme Widgets Ltd")
    page.get_by_role("button", name="Add account").click()
    page.get_by_role("link", name="Connect to Amazon").click()
    page.get_by_label("Marketplace").select_option("UK")
    bea.shot("02-choose-marketplace")
    page.get_by_role("button", name="Continue with Amazon").click()
    bea.shot("03-who-owns-it")
    page.get_by_role("link", name="Request access from the account owner").click()
    seller_email = unique_email("sam")
    page.get_by_label("Client name").fill("Sam Seller")
    page.get_by_label("Client email").fill(seller_email)
    page.get_by_label("Personal note (optional)").fill("Hi Sam, this lets us reconcile payouts.")
    page.get_by_role("button", name="Preview the email").click()
    page.get_by_text("Check the email before it goes").wait_for()
    bea.shot("04-preview")
    page.get_by_role("button", name="Send Request to Connect").click()
    page.get_by_text("Request sent to Sam Seller").wait_for()
    account_link = page.get_by_role("link", name="Acme Widgets Ltd").first
    account_link.click()
    page.get_by_text("Pending request").wait_for()
    bea.shot("05-account-pending")

    sam = people("seller", mobile=True)
    invitation = mailbox.wait_for(seller_email, "asks you to connect")[0]
    sam.page.goto(link_in(invitation))
    sam.page.get_by_text("1 Review").wait_for()
    sam.shot("06-seller-landing")
    sam.page.get_by_role("button", name="Continue to Amazon").click()
    sam.shot("07-amazon-sign-in")
    amazon_sign_in(sam.page, "seller-eu@example.com")
    sam.page.get_by_role("heading", name="Connected").wait_for()
    sam.shot("08-seller-connected")

    # The bookkeeper's page, left open, turns Connected by itself.
    page.get_by_text("Connected · ready").wait_for(timeout=15000)
    bea.shot("09-account-connected")
    mailbox.wait_for(bea_email, "is connected to Amazon UK and ready")
    page.goto("/requests?sort=newest")
    bea.shot("10-open-requests")


def test_invite_the_owner_as_a_user_who_connects_directly(people, mailbox):
    admin = people("admin")
    admin.email = unique_email("ada")
    sign_up(admin, mailbox, "Ada Admin", admin.email, "Ada Books")
    admin.page.get_by_label("Business name").fill("Option Two Ltd")
    admin.page.get_by_role("button", name="Add account").click()
    admin.page.get_by_role("link", name="Users").click()
    owner_email = unique_email("olive")
    admin.page.get_by_label("Email", exact=True).fill(owner_email)
    admin.page.get_by_role("button", name="Send invitation").click()
    admin.page.get_by_text(f"Invitation sent to {owner_email}").wait_for()
    admin.shot("11-users-and-invitations")

    olive = people("invited owner")
    message = mailbox.wait_for(owner_email, "invites you to Option Two Ltd")[0]
    link = re.search(r"https?://\S+/invitations/\S+", text_of(message)).group(0)
    olive.page.goto(link)
    olive.shot("12-invitation")
    olive.page.get_by_role("link", name=f"Sign up as {owner_email}").click()
    olive.page.get_by_label("Name", exact=True).fill("Olive Owner")
    olive.page.get_by_label("Password", exact=True).fill(PASSWORD)
    olive.page.get_by_role("button", name="Sign up").click()
    olive.page.get_by_text("Welcome to Option Two Ltd").wait_for()
    olive.page.get_by_role("link", name="Connect to Amazon").click()
    olive.page.get_by_label("Marketplace").select_option("CA")
    olive.page.get_by_role("button", name="Continue with Amazon").click()
    olive.page.get_by_role("button", name="I own this seller account — connect now").click()
    amazon_sign_in(olive.page, "seller-us@example.com")
    olive.page.get_by_role("heading", name="Connected").wait_for()
    # Olive connected it herself: nobody "has been told", and her own name is not her firm.
    done = olive.page.locator("main").inner_text()
    assert "has been told" not in done and "connected to Olive Owner" not in done
    olive.page.get_by_role("link", name="Back to Option Two Ltd").wait_for()
    olive.shot("13-member-connected")
    mailbox.wait_for(admin.email, "Olive Owner connected Option Two Ltd to Amazon")


def test_pages_for_links_that_no_longer_work(people, mailbox, config):
    from datetime import timedelta

    bea = people("bookkeeper")
    sign_up(bea, mailbox, "Bea Keeper", unique_email("bea"), "Ledger & Co")
    page = bea.page
    page.get_by_label("Business name").fill("Links Ltd")
    page.get_by_role("button", name="Add account").click()
    account_url = page.url

    def send(marketplace: str) -> str:
        return send_request(page, account_url, marketplace, mailbox)

    sam = people("seller")
    # withdrawn
    withdrawn = send("US")
    page.get_by_role("link", name="Withdraw request").click()  # a page that asks first
    page.get_by_role("button", name="Withdraw request").click()
    page.get_by_text("Request withdrawn").wait_for()
    sam.page.goto(withdrawn)
    sam.page.get_by_role("heading", name="This request was withdrawn").wait_for()
    sam.shot("14-link-withdrawn")
    # wrong seller account
    wrong = send("DE")
    sam.page.goto(wrong)
    sam.page.get_by_role("button", name="Continue to Amazon").click()
    amazon_sign_in(sam.page, "seller-us@example.com")
    sam.page.get_by_role(
        "heading", name="That Amazon account does not sell in Germany (DE)"
    ).wait_for()
    sam.shot("15-wrong-seller-account")
    # expired
    config["CONNECT_EXPIRES_AFTER"] = timedelta(seconds=1)
    expired = send("FR")
    heading = sam.page.get_by_role("heading", name="This link has expired")
    for _ in range(30):  # the workflow closes the request a moment after the second is up
        sam.page.goto(expired)
        if heading.count():
            break
        sam.page.wait_for_timeout(500)
    heading.wait_for()
    sam.shot("16-link-expired")
    sam.page.get_by_role("button", name="Ask Bea Keeper for a new link").click()
    sam.page.get_by_role("heading", name="We told Bea Keeper").wait_for()


def test_a_consent_begun_from_a_replaced_link_is_refused(people, mailbox):
    """The seller is at Amazon when the bookkeeper resends: coming back, the phone shows that
    the request was sent again; the bookkeeper's page after Withdraw shows it withdrawn."""
    from playwright.sync_api import expect

    bea, link = asked_to_connect(people, mailbox, "Resent Ltd")
    page = bea.page
    sam = at_amazon_on_a_phone(people, link)

    page.get_by_role("button", name="Resend now").click()
    page.get_by_text("A fresh link is on its way").wait_for()
    amazon_sign_in(sam.page, "seller-us@example.com")
    sam.page.get_by_role("heading", name="This request was sent again").wait_for()
    sam.shot("17-seller-consent-from-a-replaced-link")

    page.get_by_role("link", name="Withdraw request").click()  # a page that asks first
    page.get_by_role("button", name="Withdraw request").click()
    page.get_by_text("Request withdrawn").wait_for()
    expect(page.locator("[data-status]").first).to_have_text("Withdrawn")
    expect(page.get_by_role("link", name="Withdraw request")).to_have_count(0)
    expect(page.get_by_role("button", name="Resend now")).to_have_count(0)
    bea.shot("18-request-withdrawn")


def test_amazon_refusing_the_app_is_on_our_side_on_the_sellers_phone(
    people, mailbox, amazon_faults
):
    """The app's own credentials are refused at Amazon: the seller's phone says so, blames
    nobody, offers no pointless retry; the bookkeeper's inbox has the one email about it."""
    from playwright.sync_api import expect

    bea, link = asked_to_connect(people, mailbox, "Refused Ltd")
    sam = at_amazon_on_a_phone(people, link)
    amazon_faults(token={"status": 401, "error": "invalid_client"})
    amazon_sign_in(sam.page, "seller-us@example.com")
    sam.page.get_by_role("heading", name="A problem on our side").wait_for()
    expect(sam.page.get_by_text("Bea Keeper (Ledger & Co) has been told")).to_be_visible()
    expect(sam.page.get_by_role("button", name="Sign in to Amazon again")).to_have_count(0)
    sam.shot("19-amazon-refused-the-app")
    [told] = mailbox.wait_for(bea.email, "a problem on our side")
    assert "Our operations team has been alerted" in text_of(told)


def test_the_owner_renews_on_a_phone_by_email_and_from_manage_your_apps(
    people, mailbox, config, amazon
):
    """A year in seconds: the owner is asked to renew, the bookkeeper's page says renewal due;
    the owner renews on a phone from the email, and again from Amazon's Manage Your Apps, which
    goes through our Log-in URI page first."""
    from datetime import timedelta

    from playwright.sync_api import expect

    config["CONNECTION_CHECK_EVERY"] = timedelta(minutes=5)
    config["AMAZON_AUTHORIZATION_LIFETIME"] = timedelta(seconds=60)
    config["RENEWAL_REMINDERS"] = [timedelta(seconds=55)]
    bea, link = asked_to_connect(people, mailbox, "Renewal Ltd")
    account_url = re.sub(r"/requests/.*", "", bea.page.url)
    sam = at_amazon_on_a_phone(people, link)
    amazon_sign_in(sam.page, "seller-us@example.com")
    sam.page.get_by_role("heading", name="Connected").wait_for()

    [asked] = mailbox.wait_for(asked_to_email(mailbox, link), "asks you to renew")
    bea.page.goto(account_url)
    bea.page.get_by_text("Renewal due").first.wait_for()
    expect(bea.page.get_by_text("waiting for Sam Seller to renew Amazon US")).to_be_visible()
    bea.shot("21-account-renewal-due")

    sam.page.goto(link_in(asked))
    sam.page.get_by_role("heading", name="Renew Renewal Ltd's Amazon account").wait_for()
    expect(sam.page.get_by_text("Amazon asks the owner to renew")).to_be_visible()
    sam.shot("22-seller-renewal-landing")
    sam.page.get_by_role("button", name="Continue to Amazon").click()
    sam.page.get_by_role("button", name="Confirm").click()  # still signed in at Amazon
    sam.page.get_by_role("heading", name="Renewed").wait_for()
    sam.shot("23-seller-renewed")
    bea.page.get_by_text("Connected · ready").wait_for(timeout=15000)

    # Later, from Seller Central: Manage Your Apps → Re-authorize → our Log-in URI page.
    sam.page.goto(f"{amazon}/apps/manage")
    sam.page.get_by_role("button", name="Re-authorize").click()
    sam.page.get_by_role("heading", name="Renew your Amazon connection").wait_for()
    expect(sam.page.get_by_text("Renewal Ltd")).to_be_visible()
    sam.shot("24-renewal-from-amazon")
    # The same seller may be connected elsewhere too (other tests' accounts): this business's.
    card = sam.page.locator(".card", has_text="Renewal Ltd")
    card.get_by_role("button", name="Continue to Amazon").click()
    sam.page.get_by_role("button", name="Confirm").click()
    sam.page.get_by_role("heading", name="Renewed").wait_for()
    mailbox.wait_for(bea.email, "Renewed:", count=2)


def asked_to_email(mailbox, link: str) -> str:
    """The address the emailed `link` was sent to."""
    for message in reversed(mailbox.messages):
        if link in text_of(message):
            return str(message["To"])
    raise AssertionError("no email carries that link")


def test_one_request_for_two_regions_is_a_checklist_on_the_sellers_phone(people, mailbox):
    bea = people("bookkeeper")
    bea.email = unique_email("bea")
    sign_up(bea, mailbox, "Bea Keeper", bea.email, "Ledger & Co")
    page = bea.page
    page.get_by_label("Business name").fill("Global Goods Ltd")
    page.get_by_role("button", name="Add account").click()
    page.goto(re.sub(r"/?$", "", page.url) + "/connect/request?marketplace=UK")
    seller_email = unique_email("sam")
    page.get_by_label("Client name").fill("Sam Seller")
    page.get_by_label("Client email").fill(seller_email)
    page.get_by_text("Ask for more regions at once").click()
    page.get_by_label("Also in another region (optional)").select_option("JP")
    bea.shot("25-request-two-regions")
    page.get_by_role("button", name="Preview the email").click()
    page.get_by_role("button", name="Send Request to Connect").click()
    page.get_by_text("Request sent to").wait_for()

    sam = people("seller", mobile=True)
    [invite] = mailbox.wait_for(seller_email, "in 2 regions")
    sam.page.goto(link_in(invite))
    sam.page.get_by_text("Europe next · Far East after that").wait_for()
    sam.shot("26-seller-checklist")
    sam.page.get_by_role("button", name="Continue to Amazon: Europe").click()
    amazon_sign_in(sam.page, "seller-eu@example.com")
    sam.page.get_by_text("Europe connected · Far East next").wait_for()
    sam.shot("27-seller-next-region")
    sam.page.get_by_role("button", name="Next: connect Japan (JP)").click()
    # Still signed in at Amazon as the European seller: the Far East is another account.
    sam.page.locator("#signout-form button").click()
    amazon_sign_in(sam.page, "seller-fe@example.com")
    sam.page.get_by_text("Europe connected · Far East connected").wait_for()
    mailbox.wait_for(bea.email, "all regions connected")
