"""When the seller gets stuck: a wrong Amazon account (the page names it, the bookkeeper is told
once, 'Sign in to Amazon again' goes through Amazon's sign-out), and a replaced or withdrawn link
that offers 'Send me the latest link' without ever showing one."""

import re
from urllib.parse import parse_qs, urlencode, urlsplit

import requests
from sqlalchemy import select

from core.extensions import db
from core.requests import RequestEvent
from tests.amazon_seller import consent
from tests.browser import amazon_sign_in, needs_chromium
from tests.support import Bookkeeper, link_in, path_of, request_of, text_of, unique_email

LATEST_SENT = "If this request is still open, we've emailed the latest link"
NOTICE = "signed in with an account that does not sell in the UK"


def invited(client, mailbox, **overrides) -> tuple[Bookkeeper, int, dict, str]:
    bookkeeper = Bookkeeper(client).sign_up()
    account_id = bookkeeper.add_account()
    sent = bookkeeper.send_request(account_id, **overrides)
    link = link_in(mailbox.wait_for(sent["client_email"], "asks you to connect")[0])
    return bookkeeper, account_id, sent, link


def retry_path(outcome_page: str) -> str:
    return re.search(r'action="(/amazon/authorizations/[0-9a-f]+/retry)"', outcome_page).group(1)


def signed_in_at_amazon(http: requests.Session, amazon: str) -> str:
    """The stand-in's idea of who this browser is (its home page names them), or ''."""
    found = re.search(r"Signed in as <strong>([^<]+)</strong>", http.get(amazon, timeout=5).text)
    return found.group(1) if found else ""


# ---- a wrong Amazon account ----------------------------------------------------------------


def test_wrong_account_page_names_the_account_and_signs_out_first(client, seller, mailbox, amazon):
    _, _, _, link = invited(client, mailbox, marketplace="UK")
    amazon_browser = requests.Session()
    redirect = consent(seller.go_to_amazon(link), "seller-us@example.com", session=amazon_browser)
    outcome = seller.return_from_amazon(redirect)
    assert outcome.status_code == 409
    page = outcome.text
    assert "Demo Goods US" in page  # the store name from the participations answer
    assert "A2DEMOUSSELL01" in page  # the seller id
    for sells_in in ("United States", "Canada", "Mexico"):
        assert sells_in in page

    again = seller.client.post(retry_path(page))
    assert again.status_code == 303
    sign_out = urlsplit(again.headers["Location"])
    assert f"{sign_out.scheme}://{sign_out.netloc}" == amazon and sign_out.path == "/ap/signout"
    [return_to] = parse_qs(sign_out.query)["openid.return_to"]
    assert return_to.startswith(f"{amazon}/apps/authorize/consent?")
    assert signed_in_at_amazon(amazon_browser, amazon) == "Dana Demo (US)"
    landed = amazon_browser.get(again.headers["Location"], timeout=5)
    assert 'id="signin-form"' in landed.text and "data-seller-email" not in landed.text
    assert signed_in_at_amazon(amazon_browser, amazon) == ""

    final = seller.return_from_amazon(
        consent(return_to, "seller-eu@example.com", session=amazon_browser)
    )
    assert "<h1>Connected</h1>" in final.text


def test_bookkeeper_is_told_once_after_two_wrong_tries(client, seller, mailbox):
    bookkeeper, _, sent, link = invited(client, mailbox, marketplace="UK")
    first = seller.connect(link, "seller-us@example.com")
    assert first.status_code == 409
    again = seller.client.post(retry_path(first.text))
    second = seller.return_from_amazon(consent(again.headers["Location"], "seller-us@example.com"))
    assert second.status_code == 409
    again = seller.client.post(retry_path(second.text))
    final = seller.return_from_amazon(consent(again.headers["Location"], "seller-eu@example.com"))
    assert "<h1>Connected</h1>" in final.text
    # The confirmation is the workflow's last email: any second notice would have come before.
    mailbox.wait_for(bookkeeper.email, "is connected to Amazon UK")
    [notice] = mailbox.wait_for(bookkeeper.email, NOTICE)
    assert str(notice["Subject"]).startswith(f"{sent['client_name']} signed in")
    body = text_of(notice)
    for fact in ("Demo Goods US", "A2DEMOUSSELL01", "United States", "Canada", "Mexico"):
        assert fact in body
    assert not re.search(r"/connect/[A-Za-z0-9_-]{30}", body)  # the seller's link is theirs


def test_amazons_sign_out_returns_only_to_its_own_consent_page(amazon):
    http = requests.Session()
    consent(
        f"{amazon}/apps/authorize/consent?" + urlencode(_consent_params()),
        "seller-us@example.com",
        session=http,
    )
    for foreign in (
        "https://evil.example/apps/authorize/consent?state=x",
        "//evil.example/apps/authorize/consent",
        f"{amazon}.evil.example/apps/authorize/consent",
        f"{amazon}/ap/signin",
        "javascript:alert(1)",
    ):
        answer = http.get(
            f"{amazon}/ap/signout", params={"openid.return_to": foreign}, allow_redirects=False
        )
        assert answer.status_code == 400, foreign
        assert "Location" not in answer.headers
    assert signed_in_at_amazon(http, amazon) == "Dana Demo (US)"  # refused: nothing changed

    own = f"{amazon}/apps/authorize/consent?" + urlencode(_consent_params())
    answer = http.get(
        f"{amazon}/ap/signout", params={"openid.return_to": own}, allow_redirects=False
    )
    assert answer.status_code == 302 and answer.headers["Location"] == own
    assert signed_in_at_amazon(http, amazon) == ""


def _consent_params() -> dict[str, str]:
    return {
        "application_id": "amzn1.sp.solution.demo-bookkeeping-app",
        "state": "some-state",
        "version": "beta",
    }


# ---- a replaced or withdrawn link ----------------------------------------------------------


def _latest(seller, link: str):
    return seller.client.post(path_of(link) + "/latest")


def test_replaced_link_sends_the_latest_link_to_the_current_address(app, client, seller, mailbox):
    bookkeeper, account_id, sent, link = invited(client, mailbox)
    request = request_of(app, account_id)
    new_email = unique_email("owner")
    changed = client.post(
        f"/accounts/{account_id}/requests/{request.public_id}/email",
        data={"client_email": new_email},
    )
    assert changed.status_code == 302, changed.text
    link_to_new = link_in(mailbox.wait_for(new_email, "asks you to connect")[0])

    closed = seller.open_link(link)
    assert closed.status_code == 410 and "Send me the latest link" in closed.text
    answer = _latest(seller, link)
    assert answer.status_code == 200 and LATEST_SENT in answer.text
    assert "/connect/" not in answer.text.replace(path_of(link), "")

    [_, latest] = mailbox.wait_for(new_email, "asks you to connect", count=2)
    assert len(mailbox.to(sent["client_email"])) == 1  # never to the old address
    assert "Continue to Amazon" in seller.open_link(link_in(latest)).text
    assert seller.open_link(link_to_new).status_code == 410  # the newest link is the only one
    with app.app_context():
        events = db.session.scalars(
            select(RequestEvent).filter_by(request_id=request.id, kind="resent")
        ).all()
        assert [e.actor for e in events] == [f"{sent['client_name']} (asked for the latest link)"]


def test_withdrawn_link_sends_the_newer_requests_link_if_there_is_one(app, client, seller, mailbox):
    bookkeeper, account_id, sent, link = invited(client, mailbox)
    withdraw = f"/accounts/{account_id}/requests/{request_of(app, account_id).public_id}/cancel"
    assert client.post(withdraw).status_code == 302
    closed = seller.open_link(link)
    assert "This request was withdrawn" in closed.text and "Send me the latest link" in closed.text

    nothing = _latest(seller, link)  # no newer request: nothing is sent, the same words
    assert nothing.status_code == 200 and LATEST_SENT in nothing.text
    assert len(mailbox.to(sent["client_email"])) == 1

    newer_email = unique_email("owner")
    bookkeeper.send_request(account_id, client_email=newer_email)
    mailbox.wait_for(newer_email, "asks you to connect")
    answer = _latest(seller, link)
    assert answer.status_code == 200 and LATEST_SENT in answer.text
    [_, latest] = mailbox.wait_for(newer_email, "asks you to connect", count=2)
    assert "Continue to Amazon" in seller.open_link(link_in(latest)).text
    assert len(mailbox.to(sent["client_email"])) == 1


def test_send_latest_is_rate_limited_per_link_and_per_request(app, client, seller, mailbox, config):
    config["LIMIT_ASK_NEW_LINK"] = "2 per hour"
    _, account_id, sent, first = invited(client, mailbox)
    resend = f"/accounts/{account_id}/requests/{request_of(app, account_id).public_id}/resend"
    assert client.post(resend).status_code == 302
    second = link_in(mailbox.wait_for(sent["client_email"], "asks you to connect", count=2)[1])
    assert client.post(resend).status_code == 302
    mailbox.wait_for(sent["client_email"], "asks you to connect", count=3)

    assert _latest(seller, first).status_code == 200
    assert _latest(seller, first).status_code == 200
    limited = _latest(seller, first)  # this link's budget is spent
    assert limited.status_code == 429 and "/connect/" not in limited.text
    assert _latest(seller, second).status_code == 429  # and so is the request's
    assert len(mailbox.to(sent["client_email"])) == 5


# ---- the same in a phone's browser ---------------------------------------------------------


@needs_chromium
def test_stuck_seller_on_a_phone(people, client, mailbox, amazon):
    bookkeeper, _, _, link = invited(client, mailbox, marketplace="UK")
    sam = people("seller", mobile=True)
    page = sam.page
    page.goto(link)
    page.get_by_role("button", name="Continue to Amazon").click()
    amazon_sign_in(page, "seller-us@example.com")
    page.get_by_role("heading", name="That Amazon account does not sell in").wait_for()
    for fact in ("Demo Goods US", "A2DEMOUSSELL01", "United States", "Canada", "Mexico"):
        page.get_by_text(fact).first.wait_for()
    sam.shot("wrong-account-named")
    page.get_by_role("button", name="Sign in to Amazon again").click()
    page.locator("#signin-form").wait_for()  # signed out: the stand-in asks who it is
    assert page.locator("[data-seller-email]").count() == 0
    amazon_sign_in(page, "seller-eu@example.com")
    page.get_by_role("heading", name="Connected").wait_for()

    # A replaced link, then a withdrawn one with a newer request behind it.
    account_id = bookkeeper.add_account("Second Shop Ltd")
    sent = bookkeeper.send_request(account_id)
    old = link_in(mailbox.wait_for(sent["client_email"], "asks you to connect")[0])
    request = request_of(client.application, account_id)
    client.post(f"/accounts/{account_id}/requests/{request.public_id}/resend")
    mailbox.wait_for(sent["client_email"], "asks you to connect", count=2)
    page.goto(old)
    page.get_by_role("button", name="Send me the latest link").click()
    page.get_by_text(LATEST_SENT).wait_for()
    sam.shot("latest-link-sent")
    latest = link_in(mailbox.wait_for(sent["client_email"], "asks you to connect", count=3)[2])
    page.goto(latest)
    page.get_by_role("button", name="Continue to Amazon").wait_for()

    client.post(f"/accounts/{account_id}/requests/{request.public_id}/cancel")
    newer_email = unique_email("owner")
    bookkeeper.send_request(account_id, client_email=newer_email)
    mailbox.wait_for(newer_email, "asks you to connect")
    page.goto(latest)
    page.get_by_role("heading", name="This request was withdrawn").wait_for()
    page.get_by_role("button", name="Send me the latest link").click()
    page.get_by_text(LATEST_SENT).wait_for()
    newest = link_in(mailbox.wait_for(newer_email, "asks you to connect", count=2)[1])
    page.goto(newest)
    page.get_by_role("button", name="Continue to Amazon").wait_for()


def test_the_wrong_accounts_store_name_is_capped_and_escaped(app):
    """Amazon's store name is the seller's own text: kept short and on one line, shown escaped."""
    from types import SimpleNamespace

    from flask import render_template

    from activities.amazon import _remember_account_used
    from core import marketplaces
    from core.amazon import Participation
    from core.requests import Authorization

    hostile = "<script>alert(1)</script>\n" + "x" * 500
    authorization = Authorization(selling_partner_id="A2DEMOUSSELL01", public_id="p")
    _remember_account_used(
        authorization,
        [
            Participation("ATVPDKIKX0DER", "US", hostile, True),
            Participation("NOT-AN-AMAZON-ID", "XX", "", True),  # unknown: not named
            Participation("A1F83G8C2ARO7P", "UK", "Other", False),  # not selling: not named
        ],
    )
    assert len(authorization.store_name) == Authorization.STORE_NAME_MAX
    assert "\n" not in authorization.store_name
    assert authorization.sells_in == "US"

    who = SimpleNamespace(name="Bea", firm_name="Ledger & Co")
    request = SimpleNamespace(account=SimpleNamespace(name="Acme"), requested_by=who)
    with app.test_request_context():
        page = render_template(
            "consent/outcome.html",
            outcome="wrong_account",
            message="m",
            connection_request=request,
            marketplace=marketplaces.get("UK"),
            authorization=authorization,
            sells_in=[marketplaces.get("US")],
            link_again=False,
        )
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
