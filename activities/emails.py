"""Email activities: invitations, confirmations, failure notices."""

import secrets
import smtplib

from flask import Flask
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.types import EmailsSent, InviteEmailsInput, RequestRef
from web.connect import emails
from web.connect.models import Authorization, ConnectionRequest
from web.crypto import digest
from web.extensions import db, mail


class EmailActivities:
    """Sends the emails of a connection request through the configured SMTP server."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def _send(self, email: emails.Email, message_id: str) -> None:
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

    def _request(self, request_id: int) -> ConnectionRequest:
        request = db.session.get(ConnectionRequest, request_id)
        if request is None:
            raise ApplicationError(f"no connection request {request_id}", non_retryable=True)
        return request

    @activity.defn
    def send_invite_emails(self, input: InviteEmailsInput) -> EmailsSent:
        """Make a fresh link, keep only its hash, email it to the seller, copy the bookkeeper."""
        with self.app.app_context():
            request = self._request(input.request_id)
            token = secrets.token_urlsafe(32)
            request.link_token_hash = digest(token)
            request.link_expires_at = input.link_expires_at.replace(tzinfo=None)
            db.session.commit()
            link = f"{self.app.config['APP_BASE_URL']}/connect/{token}"
            key = f"{request.public_id}.invite.{activity.info().attempt}"
            self._send(emails.seller_invitation(request, link, input.link_expires_at), key)
            copy = emails.bookkeeper_invitation_copy(request, input.link_expires_at)
            self._send(copy, f"{request.public_id}.invite-copy")
            return EmailsSent([request.client_email, request.requested_by.email])

    @activity.defn
    def send_confirmation_emails(self, input: RequestRef) -> EmailsSent:
        """Tell the bookkeeper the account is ready, and thank the seller."""
        with self.app.app_context():
            request = self._request(input.request_id)
            authorization = db.session.scalars(
                db.select(Authorization).filter_by(request_id=request.id, outcome="connected")
            ).first()
            seller_id = authorization.selling_partner_id if authorization else ""
            self._send(
                emails.bookkeeper_connected(request, seller_id), f"{request.public_id}.connected"
            )
            recipients = [request.requested_by.email]
            if request.kind == ConnectionRequest.INVITE:
                self._send(
                    emails.seller_connected(request), f"{request.public_id}.connected-seller"
                )
                recipients.append(request.client_email)
            return EmailsSent(recipients)

    @activity.defn
    def send_failure_email(self, input: RequestRef) -> EmailsSent:
        """Tell the bookkeeper the connection could not be completed."""
        with self.app.app_context():
            request = self._request(input.request_id)
            self._send(emails.bookkeeper_failed(request), f"{request.public_id}.failed")
            return EmailsSent([request.requested_by.email])
