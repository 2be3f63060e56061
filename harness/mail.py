"""The mail the product sends, as the tests' SMTP sink caught it."""

from __future__ import annotations

import time
from email.message import EmailMessage

from aiosmtpd.controller import Controller

from harness.processes import LOOPBACK
from tests.support import Mailbox

INVITE_SUBJECT = "asks you to connect"
INVITE_WAIT = 60.0  # seconds to wait, per batch, for the invitation emails to arrive


class RestartableMailbox(Mailbox):
    """The tests' SMTP sink, which can go down (connections refused) and come back on its port.

    `unavailable = True` (from Mailbox) answers every message with 451 instead.
    """

    def __init__(self) -> None:
        super().__init__()
        self._port = self._controller.port
        self._up = False

    @property
    def port(self) -> int:
        return self._port

    @property
    def up(self) -> bool:
        return self._up

    def start(self) -> None:
        if self._up:
            return
        # A Controller cannot be started twice: a new one, on the same port.
        self._controller = Controller(self, hostname=LOOPBACK, port=self._port)
        self._controller.start()
        self._up = True

    def stop(self) -> None:
        if self._up:
            self._controller.stop()
            self._up = False

    def message_ids(self, address: str, subject: str) -> set[str]:
        """The distinct Message-IDs of the messages to `address` whose subject has `subject`:
        a retried send keeps its Message-ID, so this counts emails, not deliveries."""
        return {str(m["Message-ID"]) for m in self.matching(address, subject)}

    def matching(self, address: str, subject: str) -> list[EmailMessage]:
        return [m for m in self.to(address) if subject in str(m["Subject"])]


def await_invitations(
    mailbox: Mailbox, invited: list[tuple[str, str]]
) -> tuple[dict[str, EmailMessage], list[tuple[str, str]]]:
    """Each invited client's invitation email, waiting INVITE_WAIT at most for all of them;
    and the (client email, workflow id) of those whose email never came."""
    deadline = time.monotonic() + INVITE_WAIT
    found: dict[str, EmailMessage] = {}
    while True:
        for client_email, _ in invited:
            if client_email not in found:
                for message in mailbox.to(client_email):
                    if INVITE_SUBJECT in str(message["Subject"]):
                        found[client_email] = message
                        break
        if len(found) == len(invited) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    return found, [(email, workflow) for email, workflow in invited if email not in found]
