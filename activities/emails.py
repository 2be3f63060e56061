"""Email activities: invitations with fresh links, reminders, and notices to each party."""

import math

from flask import Flask
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.identity import email_identity
from activities.mail import deliver
from activities.rows import load
from core import request_emails as emails
from core.accounts import Membership
from core.clock import utcnow
from core.crypto import digest, link_token
from core.extensions import db
from core.request_rows import move_open_request, supersede_links
from core.requests import Authorization, ConnectionLink, ConnectionRequest, RequestEvent
from vocabulary.messages import EmailsSent, InvitationInput, NoticeInput
from vocabulary.statuses import Outcome, RequestState

INVITATION_EVENTS = {
    "sent": "Sent the invitation",
    "resent": "Re-sent the invitation with a fresh link (earlier links stopped working)",
    "email_changed": "Sent the invitation",  # after the line "Email changed from … to …"
}


class EmailActivities:
    """Sends the emails of a connection request through the configured SMTP server."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def _seller_id(self, request: ConnectionRequest) -> str:
        authorization = db.session.scalars(
            db.select(Authorization).filter_by(request_id=request.id, outcome=Outcome.CONNECTED)
        ).first()
        return authorization.selling_partner_id if authorization else ""

    def _url(self, path: str) -> str:
        return f"{self.app.config['APP_BASE_URL']}{path}"

    def _renew_link(self, request: ConnectionRequest) -> str:
        return self._url(f"/accounts/{request.account_id}/requests/{request.public_id}/renew")

    @activity.defn
    def send_invitation(self, input: InvitationInput) -> EmailsSent:
        """Make a fresh link (only its hash is kept), email it to the seller, note it."""
        with self.app.app_context():
            request = load(ConnectionRequest, input.request_id)
            if not request.is_open:  # never a live link, nor an email, for a closed request
                raise ApplicationError(
                    f"the request is {request.status}", type="RequestClosed", non_retryable=True
                )
            now = utcnow()
            expires_at = input.expires_at.replace(tzinfo=None)
            if input.supersede_links:
                supersede_links(ConnectionLink, request_id=request.id)
            identity = email_identity()
            token = link_token(self.app.config["SECRET_KEY"], "connect-link", *identity)
            if not db.session.scalar(
                db.select(ConnectionLink.id).filter_by(token_hash=digest(token))
            ):  # a retry of this send finds its link already there
                db.session.add(
                    ConnectionLink(
                        request_id=request.id,
                        token_hash=digest(token),
                        sent_to=request.client_email,
                    )
                )
            request.expires_at = expires_at
            number = input.reminder_number
            if input.reason == "reminder":
                what = f"Reminder {number} of {input.reminders_total}"
            else:
                what = INVITATION_EVENTS[input.reason]
                if not move_open_request(request.id, RequestState.SENT, reminders_sent=0):
                    db.session.rollback()
                    raise ApplicationError(
                        "the request was closed", type="RequestClosed", non_retryable=True
                    )
            if activity.info().attempt == 1:  # retries show in Temporal; the timeline says it once
                db.session.add(
                    RequestEvent(
                        request_id=request.id,
                        actor=input.actor,
                        kind=input.reason,
                        detail=f"{what} to {request.client_email}",
                    )
                )
            db.session.commit()  # the link must work before the email can arrive

            days_left = max(0, math.ceil((expires_at - now).total_seconds() / 86400))
            link = self._url(f"/connect/{token}")
            key = f"{request.public_id}.{input.reason}.{identity[1][:8]}.{identity[2]}"
            # Sent again (a resend or a new address): "New link: " so threads don't bury it.
            new_link = input.reason in ("resent", "email_changed")
            invitation = emails.seller_invitation(
                request, link, expires_at, number, days_left, new_link=new_link
            )
            deliver(invitation, key)
            recipients = [request.client_email]
            if input.reason == "sent":
                copy = emails.bookkeeper_invitation_copy(request, expires_at)
                deliver(copy, f"{request.public_id}.sent.copy")
                recipients.append(request.requested_by.email)
            elif input.reason == "reminder":
                notice = emails.bookkeeper_reminded(
                    request, number, input.reminders_total, days_left
                )
                deliver(notice, f"{request.public_id}.reminder.{number}.copy")
                recipients.append(request.requested_by.email)
                if request.status in (RequestState.SENT, RequestState.OPENED):
                    request.status = RequestState.REMINDED
                request.reminders_sent = number
                request.last_reminder_at = utcnow()
            db.session.add(
                RequestEvent(
                    request_id=request.id,
                    actor="mail server",
                    kind="delivered",
                    detail=f"Accepted the email for {request.client_email}",
                )
            )
            db.session.commit()
            return EmailsSent(recipients)

    @activity.defn
    def send_notice(self, input: NoticeInput) -> EmailsSent:
        """One notice to one party, with a Message-ID stable across retries."""
        with self.app.app_context():
            request = load(ConnectionRequest, input.request_id)
            if input.notice == "connected_bookkeeper":
                email = emails.bookkeeper_connected(request, self._seller_id(request))
            elif input.notice == "connected_inviter":
                membership = db.session.scalar(
                    db.select(Membership).filter_by(
                        account_id=request.account_id, user_id=request.requested_by_id
                    )
                )
                if membership is None or membership.invited_by is None:
                    return EmailsSent([])  # nobody invited them: nobody to tell
                email = emails.inviter_member_connected(
                    request, membership.invited_by, self._seller_id(request)
                )
            elif input.notice == "connected_seller":
                email = emails.seller_connected(request)
            elif input.notice == "failed_bookkeeper":
                email = emails.bookkeeper_failed(request)
            elif input.notice == "expired_bookkeeper":
                email = emails.bookkeeper_expired(request, self._renew_link(request))
            elif input.notice == "new_link_asked":
                email = emails.bookkeeper_new_link_asked(request, self._renew_link(request))
            elif input.notice in ("withdrawn_by_operations", "closed_by_operations"):
                email = emails.bookkeeper_closed_by_operations(request, self._renew_link(request))
            elif input.notice == "wrong_account_bookkeeper":
                used = db.session.scalars(
                    db.select(Authorization)
                    .filter_by(request_id=request.id, outcome=Outcome.WRONG_ACCOUNT)
                    .order_by(Authorization.id)
                ).first()
                if used is None:
                    return EmailsSent([])  # nothing to tell (the row was removed)
                new_request = self._url(f"/accounts/{request.account_id}/connect/request")
                email = emails.bookkeeper_wrong_account(request, used, new_request)
            else:
                raise ApplicationError(f"unknown notice {input.notice}", non_retryable=True)
            deliver(email, f"{request.public_id}.{input.notice}")
            return EmailsSent([email.to])
