"""Test helpers: a background event loop, an SMTP sink, and people who use the product."""

import asyncio
import email
import email.policy
import re
import socket
import threading
import time
import uuid
from collections.abc import Coroutine
from concurrent.futures import Future
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

from aiosmtpd.controller import Controller
from flask.testing import FlaskClient
from sqlalchemy import select

from core.accounts import AmazonConnection
from core.extensions import db
from core.invitations import UserInvitation
from core.requests import ConnectionRequest
from tests.amazon_seller import consent


class BackgroundLoop:
    """An asyncio loop in a thread, so synchronous tests can drive Temporal's async API."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def submit(self, coro: Coroutine) -> Future:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine, timeout: float = 120) -> Any:
        return self.submit(coro).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Mailbox:
    """A real SMTP server on loopback that keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.raw: list[bytes] = []
        self._lock = threading.Lock()
        self._controller = Controller(self, hostname="127.0.0.1", port=free_port())
        # recipient -> how many of the next messages to them get a permanent failure; keyed by
        # address so that mail from another test's workflow cannot use up the rejection
        self.reject: dict[str, int] = {}
        self.unavailable = False  # answer every DATA command with a temporary failure

    @property
    def port(self) -> int:
        return self._controller.port

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd's name)
        with self._lock:
            if self.unavailable:
                return "451 4.3.0 Mail server temporarily unavailable"
            rejected = [to for to in envelope.rcpt_tos if self.reject.get(to)]
            if rejected:
                for to in rejected:
                    self.reject[to] -= 1
                return "554 5.7.1 Message rejected"
            self.raw.append(envelope.content)
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            message.received_at = time.monotonic()  # when our SMTP server accepted it
            self.messages.append(message)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        with self._lock:
            return [m for m in self.messages if address in str(m["To"])]

    def wait_for(
        self, address: str, subject: str = "", timeout: float = 20, count: int = 1
    ) -> list[EmailMessage]:
        """The messages to `address` whose subject contains `subject`, once there are `count`."""
        deadline = time.monotonic() + timeout
        while True:
            found = [m for m in self.to(address) if subject in str(m["Subject"])]
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                subjects = [str(m["Subject"]) for m in self.to(address)]
                raise AssertionError(f"no email to {address} with {subject!r}; got {subjects}")
            time.sleep(0.05)


def text_of(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def html_of(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("html",)).get_content()


def link_in(message: EmailMessage) -> str:
    """The 'Continue to connect' link of an invitation email."""
    match = re.search(r"https?://\S+/connect/[A-Za-z0-9_-]+", text_of(message))
    assert match, text_of(message)
    return match.group(0)


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def unique_email(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


class Bookkeeper:
    """A bookkeeper in the browser: signs up, adds an account, connects or sends requests."""

    mailbox: "Mailbox"  # set once per session by conftest: sign-up is confirmed by email

    def __init__(
        self, client: FlaskClient, name: str = "Bea Keeper", firm: str = "Ledger & Co"
    ) -> None:
        self.client = client
        self.name = name
        self.firm = firm
        self.email = unique_email("bookkeeper")

    def sign_up(self) -> "Bookkeeper":
        """Sign up, open the confirmation email, and finish signing up (logged in after)."""
        data = {
            "name": self.name,
            "email": self.email,
            "password": "correct horse battery",
            "firm_name": self.firm,
        }
        response = self.client.post("/signup", data=data)
        assert response.status_code == 200 and "Check your email" in response.text, response.text
        message = self.mailbox.wait_for(self.email, "Finish signing up")[-1]
        link = re.search(r"https?://\S+/verify/[A-Za-z0-9_-]+", text_of(message)).group(0)
        finished = self.client.post(path_of(link), data={"password": data["password"]})
        assert finished.status_code == 302, finished.text
        return self

    def add_account(self, name: str = "Acme Widgets Ltd") -> int:
        response = self.client.post("/accounts/new", data={"name": name})
        assert response.status_code == 302, response.text
        return int(response.headers["Location"].rsplit("/", 1)[-1])

    def request_form(self, account_id: int, **overrides) -> dict:
        data = {
            "marketplace": "US",
            "client_name": "Sam Seller",
            "client_email": unique_email("seller"),
            "note": "",
        }
        data.update(overrides)
        return data

    def submit_request(self, account_id: int, data: dict):
        """The request form, its preview, then 'Send Request to Connect': the first answer that
        is not the next step (the form refused, already open, over a limit) or the send's."""
        url = f"/accounts/{account_id}/connect/request"
        previewed = self.client.post(url, data={**data, "action": "preview"})
        if previewed.status_code != 303:
            return previewed
        preview = self.client.get(previewed.headers["Location"])
        assert preview.status_code == 200 and "Send Request to Connect" in preview.text, (
            preview.text
        )
        draft = re.search(r'name="draft" value="([^"]+)"', preview.text).group(1)
        return self.client.post(f"{url}/send", data={"draft": draft})

    def send_request(self, account_id: int, **overrides) -> dict:
        """Preview, then press 'Send Request to Connect'; returns the form data sent."""
        data = self.request_form(account_id, **overrides)
        sent = self.submit_request(account_id, data)
        assert sent.status_code == 303 and "/requests/" in sent.headers["Location"], sent.text
        return data


class Seller:
    """The owner of the seller account: a browser on our site and at Amazon's."""

    def __init__(self, client: FlaskClient, amazon: str) -> None:
        self.client = client
        self.amazon = amazon

    def open_link(self, link: str):
        return self.client.get(path_of(link))

    def go_to_amazon(self, link: str) -> str:
        """Press 'Continue to Amazon' on the landing page; returns Amazon's consent URL."""
        response = self.client.post(path_of(link))
        assert response.status_code == 303, response.text
        return response.headers["Location"]

    def consent(self, consent_url: str, amazon_login: str) -> str:
        """Sign in at Amazon and confirm; returns Amazon's redirect back to the app."""
        return consent(consent_url, amazon_login)

    def return_from_amazon(self, redirect: str):
        return self.client.get(path_of(redirect))

    def connect(self, link: str, amazon_login: str = "seller-us@example.com"):
        """The whole seller journey from the email's link to the outcome page."""
        return self.return_from_amazon(self.consent(self.go_to_amazon(link), amazon_login))


def request_of(app, account_id) -> ConnectionRequest:
    with app.app_context():
        return db.session.scalar(
            select(ConnectionRequest)
            .filter_by(account_id=account_id)
            .order_by(ConnectionRequest.id.desc())
        )


def wait_for_status(app, account_id, status, timeout=20) -> ConnectionRequest:
    deadline = time.monotonic() + timeout
    while (request := request_of(app, account_id)).status != status:
        assert time.monotonic() < deadline, f"status stayed {request.status!r}"
        time.sleep(0.05)
    return request


def connections(app, account_id):
    with app.app_context():
        return db.session.scalars(select(AmazonConnection).filter_by(account_id=account_id)).all()


# ---- user invitations ----------------------------------------------------------------------


def invitation_link(message: EmailMessage) -> str:
    """The 'Accept invitation' link of a user invitation email."""
    return re.search(r"https?://\S+/invitations/[A-Za-z0-9_-]+", text_of(message)).group(0)


def invite(admin: Bookkeeper, account_id: int, email: str, role: str = "member"):
    """The admin submits the Users page's invite form; returns the response."""
    return admin.client.post(
        f"/accounts/{account_id}/users/invite", data={"email": email, "role": role}
    )


def invitation_of(app, email: str) -> UserInvitation:
    with app.app_context():
        return db.session.scalar(select(UserInvitation).filter_by(email=email))


def invitation_status(app, email: str) -> str:
    with app.app_context():
        return db.session.scalar(select(UserInvitation.status).filter_by(email=email))


def invite_new_address(
    admin: Bookkeeper,
    account_id: int,
    mailbox: Mailbox,
    prefix: str = "invitee",
    subject: str = "invites you to",
) -> tuple[str, str]:
    """The admin invites a fresh address; returns it and the link of the email it gets."""
    email = unique_email(prefix)
    assert invite(admin, account_id, email).status_code == 302
    return email, invitation_link(mailbox.wait_for(email, subject)[0])


def invite_user(
    client: FlaskClient,
    mailbox: Mailbox,
    account_name: str = "Acme Widgets Ltd",
    prefix: str = "invitee",
) -> tuple[Bookkeeper, int, str, str]:
    """A new admin of a new account invites a user; returns (admin, account id, invitee's
    email, emailed link)."""
    admin = Bookkeeper(client).sign_up()
    account_id = admin.add_account(account_name)
    email, link = invite_new_address(
        admin, account_id, mailbox, prefix, f"invites you to {account_name}"
    )
    return admin, account_id, email, link
