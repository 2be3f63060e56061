"""Playwright on Debian's Chromium, shared by the browser tests: people with their own browser
context, console errors failing the test, screenshots, and the steps every story begins with.

The fixtures `browser` and `people` are registered in conftest.py; tests mark themselves with
`pytestmark = needs_chromium`.
"""

import re
from pathlib import Path

import pytest

from tests.support import link_in, text_of, unique_email

CHROMIUM = Path("/usr/bin/chromium")
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium (apt-get install chromium; .ci/run does)"
)
PASSWORD = "correct horse battery"


def launch_browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield chromium
        chromium.close()


class Person:
    """One browser context (one person), recording console errors and taking screenshots."""

    def __init__(
        self, browser, base_url: str, shots: Path, name: str, mobile=False, **context
    ) -> None:
        # `context`: more of Playwright's new_context options (java_script_enabled, timezone_id).
        size = {"width": 390, "height": 844} if mobile else {"width": 1200, "height": 900}
        self.context = browser.new_context(viewport=size, base_url=base_url, **context)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.shots = shots
        self.name = name
        self.email = ""

    def _console(self, message) -> None:
        # A page answered with its status (410 for a dead link, 409 for a refusal) is logged as a
        # failed load of the document itself: that is the page working, not an error on it.
        if message.type == "error" and message.location.get("url") != self.page.url:
            self.errors.append(f"{message.text} ({message.location.get('url')})")

    def shot(self, step: str, full_page: bool = True) -> None:
        self.page.screenshot(path=str(self.shots / f"{step}.png"), full_page=full_page)

    def close(self) -> None:
        self.context.close()
        assert self.errors == [], f"console errors for {self.name}: {self.errors}"


def people_maker(browser, live_server, request, tmp_path):
    folder = request.config.getoption("--screenshots")
    shots = Path(folder) if folder else tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    made: list[Person] = []

    def make(name: str, mobile: bool = False, **context) -> Person:
        person = Person(browser, live_server, shots, name, mobile, **context)
        made.append(person)
        return person

    yield make
    for person in made:
        person.close()


def sign_up(person: Person, mailbox, name: str, email: str, firm: str = "", shot: bool = False):
    page = person.page
    page.goto("/signup")
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    if firm:
        page.get_by_label("Firm name (optional)").fill(firm)
    if shot:
        person.shot("01-sign-up")
    page.get_by_role("button", name="Sign up").click()
    page.get_by_text("Check your email").wait_for()
    message = mailbox.wait_for(email, "Finish signing up")[-1]
    link = re.search(r"https?://\S+/verify/\S+", text_of(message)).group(0)
    page.goto(link)
    page.get_by_label("The password you chose").fill(PASSWORD)
    page.get_by_role("button", name="Finish signing up").click()


def send_request(page, account_url: str, marketplace: str, mailbox) -> str:
    """Fill in, preview and send a request to a new seller; returns the emailed link."""
    page.goto(account_url + f"/connect/request?marketplace={marketplace}")
    email = unique_email("seller")
    page.get_by_label("Client name").fill("Sam Seller")
    page.get_by_label("Client email").fill(email)
    page.get_by_role("button", name="Preview the email").click()
    page.get_by_role("button", name="Send Request to Connect").click()
    page.get_by_text("Request sent to").wait_for()
    return link_in(mailbox.wait_for(email, "asks you to connect")[0])


def asked_to_connect(people, mailbox, business: str) -> tuple[Person, str]:
    """Bea Keeper (Ledger & Co) signs up, adds `business` and asks Sam Seller to connect its US
    marketplace: (Bea, the link emailed to Sam)."""
    bea = people("bookkeeper")
    bea.email = unique_email("bea")
    sign_up(bea, mailbox, "Bea Keeper", bea.email, "Ledger & Co")
    bea.page.get_by_label("Business name").fill(business)
    bea.page.get_by_role("button", name="Add account").click()
    return bea, send_request(bea.page, bea.page.url, "US", mailbox)


def at_amazon_on_a_phone(people, link: str) -> Person:
    """Sam Seller, on a phone, follows `link` to Amazon's sign-in page."""
    sam = people("seller", mobile=True)
    sam.page.goto(link)
    sam.page.get_by_role("button", name="Continue to Amazon").click()
    sam.page.locator("input[name=email]").wait_for()
    return sam


def amazon_sign_in(page, email: str) -> None:
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password]").fill("demo")
    page.locator("form button[type=submit]").first.click()
    page.get_by_role("button", name="Confirm").click()
