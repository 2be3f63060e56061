"""Handing one email to the SMTP server, with the failures sorted for Temporal's retries."""

import smtplib

from temporalio.exceptions import ApplicationError

from core.emails import Email
from core.extensions import mail


def deliver(email: Email, message_id: str) -> None:
    """Send; a permanent refusal (5xx) is not worth retrying, anything else is."""
    try:
        mail.send(email.message(message_id))
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
