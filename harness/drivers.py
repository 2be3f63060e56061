"""The product's people over real HTTP, as `requests` sessions (CSRF on, as in production).

`Bookkeeper` signs up, adds client accounts, previews and sends connection requests;
`SellerBrowser` follows the emailed link, consents at the Amazon stand-in and comes back to the
callback. `prepare_sellers`, `timed_return` and `fire` are the benchmarks' timed callbacks:
many sellers made ready at Amazon, then sent back at once.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import requests

from core.requests import workflow_id_for
from harness.mail import INVITE_WAIT, await_invitations
from harness.processes import HTTP_TIMEOUT
from tests.amazon_seller import consent
from tests.support import Mailbox, link_in, text_of, unique_email

if TYPE_CHECKING:
    from harness.parts import Parts

MARKETPLACE = "US"
AMAZON_LOGIN = "seller-us@example.com"  # a stand-in seller who sells in the US marketplace
CODE_TTL = 300.0  # the stand-in's (and Amazon's) spapi_oauth_code lifetime, seconds
CODE_MARGIN = 60.0  # fire a batch only while every code in it has this much life left
MAX_REFRESHES = 10  # "finishing" pages a timed seller follows before it counts as a failure
BENCH_ID = "X-Bench-Id"  # request header that ties a client timing to the in-process marks
_CSRF_INPUT = re.compile(r'<input[^>]*\bname="csrf_token"[^>]*>')
_VALUE = re.compile(r'\bvalue="([^"]*)"')
_VERIFY_LINK = re.compile(r"https?://\S+/verify/[A-Za-z0-9_-]+")
_REFRESH = re.compile(r'http-equiv="refresh" content="(\d+);url=([^"]+)"')

log = logging.getLogger("bench")


# --- pages ------------------------------------------------------------------------------------


def csrf_token(page: str) -> str | None:
    tag = _CSRF_INPUT.search(page)
    value = _VALUE.search(tag.group(0)) if tag else None
    return value.group(1) if value else None


def expect(response: requests.Response, status: int, what: str) -> requests.Response:
    if response.status_code != status:
        raise AssertionError(
            f"{what}: expected HTTP {status}, got {response.status_code}: {response.text[:800]}"
        )
    return response


def title_of(page: str) -> str:
    found = re.search(r"<h1>(.*?)</h1>", page, flags=re.S)
    return found.group(1).strip() if found else page[:300]


def connected(response: requests.Response) -> bool:
    return response.status_code == 200 and "<h1>Connected</h1>" in response.text


def describe_page(response: requests.Response) -> str:
    return f"HTTP {response.status_code}: {title_of(response.text)}"


# --- people -----------------------------------------------------------------------------------


class Browser:
    """A requests session on the web app that posts forms with the page's CSRF token.

    `sessions`, if given, collects the session so that whoever started the app can close it."""

    def __init__(self, base_url: str, sessions: list[requests.Session] | None = None) -> None:
        self.base = base_url
        self.http = requests.Session()
        if sessions is not None:
            sessions.append(self.http)
        self.csrf = ""

    def _url(self, url: str) -> str:
        return url if url.startswith("http") else self.base + url

    def _seen(self, response: requests.Response) -> requests.Response:
        if 'name="csrf_token"' in response.text:
            self.csrf = csrf_token(response.text) or self.csrf
        return response

    def get(
        self, url: str, headers: dict[str, str] | None = None, timeout: float = HTTP_TIMEOUT
    ) -> requests.Response:
        response = self.http.get(
            self._url(url), headers=headers, timeout=timeout, allow_redirects=False
        )
        return self._seen(response)

    def post(
        self, url: str, data: dict[str, str] | None = None, headers: dict[str, str] | None = None
    ) -> requests.Response:
        response = self.http.post(
            self._url(url),
            data={"csrf_token": self.csrf, **(data or {})},
            headers=headers,
            timeout=HTTP_TIMEOUT,
            allow_redirects=False,
        )
        return self._seen(response)


@dataclass
class Timing:
    """One timed call that started a workflow, with wall-clock ends to line up with its history."""

    seconds: float  # perf_counter, from the calling thread
    workflow_id: str
    sent_at: float  # time.time()
    received_at: float


class Bookkeeper(Browser):
    """Signs up, adds client accounts, previews and sends connection requests."""

    def sign_up(self, mailbox: Mailbox) -> Bookkeeper:
        """Sign up; where sign-up is confirmed by email, follow the emailed link to finish."""
        self.get("/signup")
        self.email = unique_email("bookkeeper")
        data = {
            "name": "Bea Keeper",
            "email": self.email,
            "password": "correct horse battery",
            "firm_name": "Ledger & Co",
        }
        response = self.post("/signup", data)
        if response.status_code == 200 and "Check your email" in response.text:
            # The login works once the emailed link is followed with the password chosen.
            message = mailbox.wait_for(self.email, "Finish signing up", timeout=INVITE_WAIT)[-1]
            link = _VERIFY_LINK.search(text_of(message))
            assert link, f"no confirmation link in: {text_of(message)}"
            expect(self.get(link.group(0)), 200, "the confirmation page")
            response = self.post(link.group(0), {"password": data["password"]})
        expect(response, 302, "sign up")
        expect(self.get("/accounts/new"), 200, "the new-account page, logged in")
        return self

    def add_account(self, name: str = "Acme Widgets Ltd") -> int:
        self.get("/accounts/new")
        response = expect(self.post("/accounts/new", {"name": name}), 302, "add account")
        return int(response.headers["Location"].rsplit("/", 1)[-1])

    def preview(self, account_id: int, marketplace: str = MARKETPLACE) -> dict[str, str]:
        """Fill in the form with a new client email and preview it; the form data and draft."""
        data = {
            "marketplace": marketplace,
            "client_name": "Sam Seller",
            "client_email": unique_email("seller"),
            "note": "",
        }
        url = f"/accounts/{account_id}/connect/request"
        if not self.csrf:
            self.get(f"{url}?marketplace={marketplace}")
        expect(self.post(url, {**data, "action": "preview"}), 303, "preview")
        page = expect(self.get(f"{url}/preview"), 200, "preview page")
        assert "Send Request to Connect" in page.text, title_of(page.text)
        data["draft"] = re.search(r'name="draft" value="([^"]+)"', page.text).group(1)
        return data

    def send(self, account_id: int, data: dict[str, str], bench_id: str = "") -> Timing:
        """Press 'Send Request to Connect' on the preview; time it until the answer arrived."""
        url = f"/accounts/{account_id}/connect/request/send"
        headers = {BENCH_ID: bench_id} if bench_id else None
        sent_at = time.time()
        started = time.perf_counter()
        response = self.post(url, {"draft": data["draft"]}, headers=headers)
        elapsed = time.perf_counter() - started
        received_at = time.time()
        expect(response, 303, "send")
        location = response.headers["Location"]
        assert f"/accounts/{account_id}" in location and "/requests/" in location, location
        workflow_id = workflow_id_for(account_id, data["marketplace"])
        return Timing(elapsed, workflow_id, sent_at, received_at)

    def send_request(self, account_id: int, marketplace: str = MARKETPLACE) -> dict[str, Any]:
        """Preview, then press 'Send Request to Connect'; the form data, and the send's seconds."""
        data: dict[str, Any] = self.preview(account_id, marketplace)
        data["send_seconds"] = self.send(account_id, data).seconds
        return data


class SellerBrowser(Browser):
    """The seller account's owner: a browser on our site, and another at Amazon's."""

    def __init__(self, base_url: str, sessions: list[requests.Session] | None = None) -> None:
        super().__init__(base_url, sessions)
        self.amazon = requests.Session()
        self.refreshes = 0  # 'finishing' pages followed on the last return from Amazon

    def go_to_amazon(self, link: str) -> str:
        """Open the emailed link and press 'Continue to Amazon'; Amazon's consent URL.

        The landing POST binds the OAuth state to this browser's session cookie."""
        expect(self.get(link), 200, "landing page")
        response = expect(self.post(link), 303, "continue to Amazon")
        return response.headers["Location"]

    def consent_at_amazon(self, consent_url: str, amazon_login: str = AMAZON_LOGIN) -> str:
        """Sign in and confirm at Amazon; its redirect back to the app (not yet followed)."""
        redirect = consent(consent_url, amazon_login, session=self.amazon)
        assert redirect.startswith(f"{self.base}/amazon/callback?"), redirect
        return redirect

    def consent(self, link: str, amazon_login: str = AMAZON_LOGIN) -> str:
        """From the emailed link to Amazon's redirect back to the app (not yet followed)."""
        return self.consent_at_amazon(self.go_to_amazon(link), amazon_login)

    def return_from_amazon(self, redirect: str, timeout: float = 120) -> requests.Response:
        """Follow Amazon's redirect, and the 'finishing' page's refreshes, to a final page."""
        response = self.get(redirect)
        deadline = time.monotonic() + timeout
        self.refreshes = 0
        while response.status_code == 202:
            refresh = _REFRESH.search(response.text)
            assert refresh, f"a 202 without a refresh: {response.text[:500]}"
            assert time.monotonic() < deadline, f"still 'finishing' after {timeout:.0f} s"
            time.sleep(int(refresh.group(1)))
            self.refreshes += 1
            response = self.get(refresh.group(2))
        return response


# --- the benchmarks' timed callbacks ----------------------------------------------------------


@dataclass
class ReturningSeller:
    """A seller who confirmed at Amazon and is about to be redirected back to the app."""

    browser: Browser
    workflow_id: str
    redirect: str  # Amazon's redirect to /amazon/callback, with a fresh single-use code
    consented_at: float  # perf_counter when Amazon issued the code


@dataclass
class CallbackResult:
    seconds: float
    connected: bool
    status: int
    refreshes: int
    bench_id: str
    workflow_id: str
    sent_at: float  # wall clock, to line up with Temporal's history (and in-process marks)
    received_at: float
    error: str = ""


def prepare_sellers(
    parts: Parts, bookkeeper: Bookkeeper, count: int, missing: list[tuple[str, str]]
) -> list[ReturningSeller]:
    """Invite `count` sellers, each for their own client account, and walk each through Amazon.

    A seller whose invitation never comes is left out and added to `missing`.
    """
    invited = []
    for _ in range(count):
        account_id = bookkeeper.add_account(f"Seller Shop {uuid.uuid4().hex[:6]}")
        data = bookkeeper.preview(account_id)
        timing = bookkeeper.send(account_id, data)
        invited.append((data["client_email"], timing.workflow_id))
    invitations, lost = await_invitations(parts.mailbox, invited)
    missing += lost
    if lost:
        log.warning("%d of %d invitations never came; going on without them", len(lost), count)
    sellers = []
    for client_email, workflow_id in invited:
        if client_email not in invitations:
            continue
        browser = SellerBrowser(parts.app_url, parts.sessions)
        consent_url = browser.go_to_amazon(link_in(invitations[client_email]))
        sellers.append((browser, workflow_id, consent_url))
    returning = []
    for browser, workflow_id, consent_url in sellers:
        redirect = browser.consent_at_amazon(consent_url)
        returning.append(ReturningSeller(browser, workflow_id, redirect, time.perf_counter()))
    return returning


def timed_return(seller: ReturningSeller) -> CallbackResult:
    """Follow Amazon's redirect; time it until the "Connected" (or another final) page."""
    bench_id = f"callback-{uuid.uuid4().hex}"
    sent_at = time.time()
    started = time.perf_counter()
    refreshes = 0
    try:
        response = seller.browser.get(seller.redirect, headers={BENCH_ID: bench_id})
        # "Finishing" (202) re-checks by itself after a few seconds, as a browser would.
        while response.status_code == 202 and refreshes < MAX_REFRESHES:
            refresh = _REFRESH.search(response.text)
            if refresh is None:
                break
            time.sleep(int(refresh.group(1)))
            refreshes += 1
            response = seller.browser.get(refresh.group(2))
        elapsed = time.perf_counter() - started
        is_connected = connected(response)
        error = "" if is_connected else describe_page(response)
        status = response.status_code
    except requests.RequestException as err:
        elapsed, is_connected, status, error = time.perf_counter() - started, False, 0, repr(err)
    return CallbackResult(
        elapsed,
        is_connected,
        status,
        refreshes,
        bench_id,
        seller.workflow_id,
        sent_at,
        time.time(),
        error,
    )


def fire(sellers: list[ReturningSeller], concurrency: int) -> list[CallbackResult]:
    """Send every seller back from Amazon, `concurrency` at once; each one timed."""
    oldest = max(time.perf_counter() - s.consented_at for s in sellers)
    if oldest > CODE_TTL - CODE_MARGIN:
        log.warning("the oldest code is %.0f s old; Amazon's codes live %.0f s", oldest, CODE_TTL)
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="seller") as pool:
        return list(pool.map(timed_return, sellers))
