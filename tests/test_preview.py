"""The bookkeeper's preview is the email: the seller's exact HTML in a sandboxed frame, the exact
text one click away, post/redirect/get so Back and a second Send are harmless, a warning when the
request goes to the bookkeeper's own address, and limits shown before they are hit."""

import re

from sqlalchemy import func, select

from core.accounts import Membership
from core.extensions import db
from core.request_emails import PREVIEW_LINK
from core.requests import ConnectionRequest
from core.users import User
from tests.browser import needs_chromium, sign_up
from tests.support import Bookkeeper, html_of, link_in, text_of, unique_email


def requests_for(app, account_id: int) -> int:
    with app.app_context():
        query = select(func.count()).select_from(ConnectionRequest).filter_by(account_id=account_id)
        return db.session.scalar(query)


@needs_chromium
def test_the_preview_is_the_email_and_back_does_not_resend(app, people, mailbox):
    bea = people("bookkeeper")
    page = bea.page
    bea.email = unique_email("bea")
    sign_up(bea, mailbox, "Bea Keeper", bea.email, "Ledger & Co")
    page.get_by_label("Business name").fill("Preview Widgets Ltd")
    page.get_by_role("button", name="Add account").click()
    account_id = int(re.search(r"/accounts/(\d+)", page.url).group(1))
    page.goto(f"/accounts/{account_id}/connect/request?marketplace=DE")

    # The limits are on the fields and said next to them.
    assert page.get_by_label("Client name").get_attribute("maxlength") == "120"
    assert page.get_by_label("Client email").get_attribute("maxlength") == "254"
    note = page.get_by_label("Personal note (optional)")
    assert note.get_attribute("maxlength") == "1000"
    page.get_by_text("Up to 1,000 characters").wait_for()
    note.fill("Hi Sam, this lets us reconcile payouts.")
    page.get_by_text("39 of 1,000 characters").wait_for()

    # Her own address: the preview asks, and Edit brings back the form as she left it.
    page.get_by_label("Client name").fill("Sam Seller")
    page.get_by_label("Client email").fill(bea.email.upper())
    page.get_by_role("button", name="Preview the email").click()
    page.get_by_text("Did you mean to send this to yourself?").wait_for()
    page.get_by_role("link", name="Edit").first.click()
    assert page.get_by_label("Client name").input_value() == "Sam Seller"
    assert page.get_by_label("Personal note (optional)").input_value().startswith("Hi Sam")
    seller_email = unique_email("sam")
    page.get_by_label("Client email").fill(seller_email)
    page.get_by_role("button", name="Preview the email").click()
    page.get_by_text("Check the email before it goes").wait_for()
    assert page.get_by_text("Did you mean to send this to yourself?").count() == 0

    # The frame: sandboxed, no popups or navigation, its own strict policy.
    frame_element = page.locator("iframe.email-frame")
    sandbox = frame_element.get_attribute("sandbox")
    assert sandbox is not None
    assert "allow-popups" not in sandbox and "allow-top-navigation" not in sandbox
    assert "allow-scripts" not in sandbox
    frame_url = frame_element.get_attribute("src")
    headers = page.request.get(frame_url).headers
    policy = headers["content-security-policy"]
    for directive in ("default-src 'none'", "sandbox", "frame-ancestors 'self'"):
        assert directive in policy, policy
    frame = page.frame_locator("iframe.email-frame")
    frame.get_by_text("Continue to connect").wait_for()
    framed_text = frame.locator("body").inner_text()
    # Its links lead nowhere: the click is refused, the page and the frame stay as they are.
    preview_url = page.url
    assert frame_element.get_attribute("inert") is not None
    frame.get_by_text("Continue to connect").click(force=True)
    page.wait_for_timeout(300)
    assert page.url == preview_url
    assert frame.locator("body").inner_text() == framed_text
    page.get_by_text("Plain-text version").click()
    shown_text = page.locator("pre.email-text").inner_text()
    headers_shown = page.locator("dl.headers").inner_text()

    page.get_by_role("button", name="Send Request to Connect").click()
    page.get_by_text("Request sent to Sam Seller").wait_for()
    sent_page = page.url
    invitation = mailbox.wait_for(seller_email, "asks you to connect")[0]

    # What she saw is what Sam got: the HTML as rendered, the text apart from the link.
    assert invitation["Subject"] in headers_shown
    assert invitation["From"] in headers_shown
    if invitation["Reply-To"]:
        assert invitation["Reply-To"] in headers_shown
    received = bea.context.new_page()
    received.set_content(html_of(invitation))
    assert received.locator("body").inner_text() == framed_text
    received.close()
    received_text = text_of(invitation).replace("\r\n", "\n")  # as SMTP carries it
    assert shown_text.strip() == received_text.replace(link_in(invitation), PREVIEW_LINK).strip()

    # Back shows the preview again, no "Confirm Form Resubmission"; a second Send sends nothing.
    page.go_back()
    page.get_by_text("Check the email before it goes").wait_for()
    assert requests_for(app, account_id) == 1
    send_again = page.get_by_role("button", name="Send Request to Connect")
    if send_again.count():  # the page as it was (a back/forward cache): Send leads to the request
        send_again.click()
        page.get_by_text("already sent").wait_for()
    else:  # the page asked for again: it says so, and links to the request
        page.get_by_text("already sent").wait_for()
        page.get_by_role("link", name="View the request").click()
    page.wait_for_url(sent_page)
    assert requests_for(app, account_id) == 1
    assert len(mailbox.to(seller_email)) == 1


def test_an_over_long_note_is_refused_not_cut(client):
    bookkeeper = Bookkeeper(client).sign_up()
    account_id = bookkeeper.add_account("Long Notes Ltd")
    url = f"/accounts/{account_id}/connect/request"
    data = bookkeeper.request_form(account_id, note="x" * 1001)
    response = client.post(url, data={**data, "action": "preview"})
    assert response.status_code == 200, response.status_code
    assert "Too long: up to 1,000 characters, this one has 1,001." in response.text
    long_name = bookkeeper.request_form(account_id, client_name="N" * 121)
    response = client.post(url, data={**long_name, "action": "preview"})
    assert "Too long: up to 120 characters, this one has 121." in response.text
    assert client.get(f"{url}/preview").status_code == 302


def test_the_frame_needs_a_draft_and_is_only_framed_by_us(client):
    bookkeeper = Bookkeeper(client).sign_up()
    account_id = bookkeeper.add_account("Framed Ltd")
    url = f"/accounts/{account_id}/connect/request"
    assert client.get(f"{url}/preview/email").status_code == 404
    data = bookkeeper.request_form(account_id, note="<b>not bold</b>")
    assert client.post(url, data={**data, "action": "preview"}).status_code == 303
    frame = client.get(f"{url}/preview/email")
    assert frame.status_code == 200
    assert "&lt;b&gt;not bold&lt;/b&gt;" in frame.text
    assert "frame-ancestors 'self'" in frame.headers["Content-Security-Policy"]
    assert frame.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert frame.headers["Cache-Control"] == "no-store"
    # Every other page still refuses to be framed.
    assert client.get(f"{url}/preview").headers["X-Frame-Options"] == "DENY"


def test_a_second_send_of_the_same_preview_sends_nothing(app, client, mailbox):
    bookkeeper = Bookkeeper(client).sign_up()
    account_id = bookkeeper.add_account("Twice Pressed Ltd")
    url = f"/accounts/{account_id}/connect/request"
    data = bookkeeper.request_form(account_id)
    assert client.post(url, data={**data, "action": "preview"}).status_code == 303
    draft = re.search(r'name="draft" value="([^"]+)"', client.get(f"{url}/preview").text).group(1)
    first = client.post(f"{url}/send", data={"draft": draft})
    assert first.status_code == 303 and "/requests/" in first.headers["Location"]
    second = client.post(f"{url}/send", data={"draft": draft}, follow_redirects=True)
    assert "already sent" in second.text and second.request.path == first.headers["Location"]
    # Back: the preview again, saying so, with no Send button.
    back = client.get(f"{url}/preview")
    assert "already sent" in back.text and "Send Request to Connect</button>" not in back.text
    assert requests_for(app, account_id) == 1
    mailbox.wait_for(data["client_email"], "asks you to connect")
    assert len(mailbox.to(data["client_email"])) == 1


def test_a_full_length_note_in_any_script_previews_and_sends_as_written(app, client, mailbox):
    """The draft is kept on the server: 1,000 characters of Japanese fit as well as of ASCII."""
    bookkeeper = Bookkeeper(client).sign_up()
    account_id = bookkeeper.add_account("Tokyo Goods KK")
    url = f"/accounts/{account_id}/connect/request"
    note = ("帳簿の照合のため、アマゾンのセラーアカウントを接続してください。" * 40)[:1000]
    data = bookkeeper.request_form(account_id, marketplace="JP", note=note)
    assert client.post(url, data={**data, "action": "preview"}).status_code == 303
    assert note in client.get(f"{url}/preview/email").text
    cookie = client.get_cookie("session")
    assert cookie is None or len(cookie.value) < 1000  # the note is not in the cookie
    assert bookkeeper.submit_request(account_id, data).status_code == 303
    with app.app_context():
        sent = db.session.scalar(select(ConnectionRequest).filter_by(account_id=account_id))
        assert sent.note == note


def test_a_draft_is_only_its_users(app, client):
    """Another admin of the same account cannot send someone else's draft by its id."""
    bea = Bookkeeper(client).sign_up()
    account_id = bea.add_account("Shared Ltd")
    url = f"/accounts/{account_id}/connect/request"
    form = {**bea.request_form(account_id), "action": "preview"}
    assert client.post(url, data=form).status_code == 303
    draft = re.search(r'name="draft" value="([^"]+)"', client.get(f"{url}/preview").text).group(1)
    otto = Bookkeeper(app.test_client(), name="Otto Other").sign_up()
    with app.app_context():
        user = db.session.scalar(select(User).filter_by(email=otto.email))
        db.session.add(Membership(account_id=account_id, user_id=user.id, role=Membership.ADMIN))
        db.session.commit()
    assert otto.client.get(f"{url}/preview/email").status_code == 404
    refused = otto.client.post(f"{url}/send", data={"draft": draft}, follow_redirects=True)
    assert "That preview is out of date" in refused.text
    assert requests_for(app, account_id) == 0
