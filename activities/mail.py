"""Handing one email to the SMTP server, with the failures sorted for Temporal's retries, and
choosing its composer from a registry."""

import smtplib
from collections.abc import Mapping
from enum import StrEnum
from typing import TypeVar

from temporalio.exceptions import ApplicationError

from activities.deps import Mailer
from core.emails import Email

K = TypeVar("K", bound=StrEnum)
T = TypeVar("T")


def composer(registry: Mapping[K, T], name: K, what: str) -> T:
    """The registry's entry for `name`; an unknown one is a bug in the caller: not retried."""
    entry = registry.get(name)
    if entry is None:
        raise ApplicationError(f"unknown {what} {name}", non_retryable=True)
    return entry


def deliver(mailer: Mailer, email: Email, message_id: str) -> None:
    """Send; a permanent refusal (5xx) is not worth retrying, anything else is."""
    try:
        mailer.send(email.message(message_id))
    except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused) as err:
        raise ApplicationError(
            f"the mail server refused {email.to}", type="EmailRejected", non_retryable=True
        ) from err
    except smtplib.SMTPResponseException as err:
        if 500 <= err.smtp_code < 600:
            raise ApplicationError(
                f"the mail server rejected the message ({err.smtp_code})",
                type="EmailRejected",
                non_retryable=True,
            ) from err
        raise
