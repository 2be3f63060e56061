"""Email activities: invitations with fresh links, reminders, and notices to each party."""

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.deps import Activities
from activities.identity import message_key
from activities.links import days_left, issue_link
from activities.mail import composer, deliver
from activities.rows import load
from core import request_emails as emails
from core.clock import utcnow
from core.request_rows import move_open_request, supersede_links
from core.requests import ConnectionLink, ConnectionRequest
from core.timeline import add_event
from vocabulary.messages import EmailsSent, InvitationInput, NoticeInput
from vocabulary.statuses import RequestState

INVITATION_EVENTS = {
    "sent": "Sent the invitation",
    "resent": "Re-sent the invitation with a fresh link (earlier links stopped working)",
    "email_changed": "Sent the invitation",  # after the line "Email changed from … to …"
}


def _speaker(request: ConnectionRequest, reason: str) -> ConnectionRequest:
    """Which request of a group sends this email for all of it: the first its invitation, the
    first still open the others (reminders fall at the same moments; a resend or a new address
    is applied to every open one, the first first). Alone, itself."""
    if request.group_id is None:
        return request
    group = request.group()
    if reason == "sent":
        return group[0]
    return next((member for member in group if member.is_open), request)


def _sent_with(session, request, speaker, input: InvitationInput, expires_at) -> EmailsSent:
    """Another request of the group emailed for this one: its timeline and status say so."""
    request.expires_at = expires_at
    if input.reason != "reminder":
        move_open_request(request.id, RequestState.SENT, reminders_sent=0)
        what = "Sent" if input.reason == "sent" else "Sent again (a fresh link)"
    else:
        if request.status in (RequestState.SENT, RequestState.OPENED):
            request.status = RequestState.REMINDED
        request.reminders_sent = input.reminder_number
        request.last_reminder_at = utcnow()
        what = f"Reminder {input.reminder_number} of {input.reminders_total} sent"
    if activity.info().attempt == 1:
        add_event(
            request.id,
            input.reason,
            input.actor,
            f"{what} in one email with the Amazon {speaker.marketplace} request, to"
            f" {request.client_email}",
        )
    session.commit()
    return EmailsSent([])


class EmailActivities(Activities):
    """Sends the emails of a connection request through the configured SMTP server."""

    @activity.defn
    def send_invitation(self, input: InvitationInput) -> EmailsSent:
        """Make a fresh link (only its hash is kept), email it to the seller, note it."""
        with self.deps.session() as session:
            request = load(session, ConnectionRequest, input.request_id)
            if not request.is_open:  # never a live link, nor an email, for a closed request
                raise ApplicationError(
                    f"the request is {request.status}", type="RequestClosed", non_retryable=True
                )
            expires_at = input.expires_at.replace(tzinfo=None)
            speaker = _speaker(request, input.reason)
            if speaker is not request:
                return _sent_with(session, request, speaker, input, expires_at)
            token = issue_link(
                session,
                self.deps.settings.secret_key,
                "connect-link",
                ConnectionLink,
                {"request_id": request.id},
                supersede=input.supersede_links,
                sent_to=request.client_email,
            )
            if input.supersede_links and request.group_id is not None:
                # Any link of the group leads to all of it: the old ones die together.
                for member in request.group():
                    if member.id != request.id:
                        supersede_links(ConnectionLink, request_id=member.id)
            request.expires_at = expires_at
            number = input.reminder_number
            if input.reason == "reminder":
                what = f"Reminder {number} of {input.reminders_total}"
            else:
                what = INVITATION_EVENTS[input.reason]
                if not move_open_request(request.id, RequestState.SENT, reminders_sent=0):
                    session.rollback()
                    raise ApplicationError(
                        "the request was closed", type="RequestClosed", non_retryable=True
                    )
            if activity.info().attempt == 1:  # retries show in Temporal; the timeline says it once
                add_event(
                    request.id, input.reason, input.actor, f"{what} to {request.client_email}"
                )
            session.commit()  # the link must work before the email can arrive

            link = f"{self.deps.settings.app_base_url}/connect/{token}"
            days = days_left(expires_at)
            key = message_key(request.public_id, input.reason)
            # Sent again (a resend or a new address): "New link: " so threads don't bury it.
            new_link = input.reason in ("resent", "email_changed")
            invitation = emails.seller_invitation(
                request, link, expires_at, number, days, new_link=new_link
            )
            deliver(self.deps.mailer, invitation, key)
            recipients = [request.client_email]
            if input.reason == "sent":
                copy = emails.bookkeeper_invitation_copy(request, expires_at)
                deliver(self.deps.mailer, copy, f"{request.public_id}.sent.copy")
                recipients.append(request.requested_by.email)
            elif input.reason == "reminder":
                notice = emails.bookkeeper_reminded(request, number, input.reminders_total, days)
                deliver(self.deps.mailer, notice, f"{request.public_id}.reminder.{number}.copy")
                recipients.append(request.requested_by.email)
                if request.status in (RequestState.SENT, RequestState.OPENED):
                    request.status = RequestState.REMINDED
                request.reminders_sent = number
                request.last_reminder_at = utcnow()
            add_event(
                request.id,
                "delivered",
                "mail server",
                f"Accepted the email for {request.client_email}",
            )
            session.commit()
            return EmailsSent(recipients)

    @activity.defn
    def send_notice(self, input: NoticeInput) -> EmailsSent:
        """One notice to one party, with a Message-ID stable across retries."""
        compose = composer(emails.NOTICES, input.notice, "notice")
        with self.deps.session() as session:
            request = load(session, ConnectionRequest, input.request_id)
            email = compose(request, self.deps.settings.app_base_url)
            if email is None:
                return EmailsSent([])  # nobody to tell
            deliver(self.deps.mailer, email, f"{request.public_id}.{input.notice}")
            return EmailsSent([email.to])
