"""User-invitation activities: emails with fresh links, adding the member, closing, notices."""

import math

from flask import Flask
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.identity import email_identity
from activities.mail import deliver
from activities.rows import load
from core import invitation_emails as emails
from core.accounts import Membership
from core.clock import utcnow
from core.crypto import digest, link_token
from core.extensions import db
from core.invitations import InvitationLink, UserInvitation, close_open_invitation
from core.request_rows import supersede_links
from core.users import User
from vocabulary.messages import (
    AcceptInput,
    Closed,
    CloseInvitationInput,
    Done,
    EmailsSent,
    InvitationNoticeInput,
    MemberAdded,
    UserInvitationEmailInput,
)
from vocabulary.statuses import InvitationState


class InvitationActivities:
    """Side effects of inviting a user into an account."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    @activity.defn
    def confirm_invitation_saved(self, input: AcceptInput) -> Done:
        """The web app commits the invitation just after starting its workflow: wait for it."""
        with self.app.app_context():
            if db.session.get(UserInvitation, input.invitation_id) is None:
                raise ApplicationError("the invitation is not saved yet", type="NotYetSaved")
            return Done()

    @activity.defn
    def send_user_invitation(self, input: UserInvitationEmailInput) -> EmailsSent:
        """Make a fresh link (only its hash is kept) and email it to the invitee."""
        with self.app.app_context():
            invitation = load(UserInvitation, input.invitation_id)
            now = utcnow()
            expires_at = input.expires_at.replace(tzinfo=None)
            if input.supersede_links:
                supersede_links(InvitationLink, invitation_id=invitation.id)
            identity = email_identity()
            token = link_token(self.app.config["SECRET_KEY"], "invitation-link", *identity)
            if not db.session.scalar(
                db.select(InvitationLink.id).filter_by(token_hash=digest(token))
            ):  # a retry of this send finds its link already there
                db.session.add(
                    InvitationLink(invitation_id=invitation.id, token_hash=digest(token))
                )
            invitation.expires_at = expires_at
            if input.reason == "reminder":
                invitation.reminders_sent = input.reminder_number
            else:
                invitation.reminders_sent = 0
            db.session.commit()  # the link must work before the email can arrive
            link = f"{self.app.config['APP_BASE_URL']}/invitations/{token}"
            days_left = max(0, math.ceil((expires_at - now).total_seconds() / 86400))
            email = emails.invitation_email(
                invitation,
                link,
                expires_at,
                input.reminder_number,
                days_left,
                new_link=input.reason == "resent",
            )
            key = f"{invitation.public_id}.{input.reason}.{identity[1][:8]}.{identity[2]}"
            deliver(email, key)
            return EmailsSent([invitation.email])

    @activity.defn
    def add_member(self, input: AcceptInput) -> MemberAdded:
        """Make the user a member with the invited role (idempotent), and close the invitation."""
        with self.app.app_context():
            invitation = load(UserInvitation, input.invitation_id)
            membership = db.session.scalar(
                db.select(Membership).filter_by(
                    account_id=invitation.account_id, user_id=input.user_id
                )
            )
            if membership is None:
                membership = Membership(
                    account_id=invitation.account_id,
                    user_id=input.user_id,
                    role=invitation.role,
                    invited_by_id=invitation.invited_by_id,
                )
                db.session.add(membership)
            invitation.status = InvitationState.ACCEPTED
            invitation.accepted_by_id = input.user_id
            db.session.commit()
            return MemberAdded(invitation.account_id, membership.id)

    @activity.defn
    def close_invitation(self, input: CloseInvitationInput) -> Closed:
        """Expired or withdrawn, if still pending: every link to it stops working. Returns the
        status the row ended in."""
        with self.app.app_context():
            invitation = load(UserInvitation, input.invitation_id)
            close_open_invitation(invitation, input.status)
            db.session.commit()
            return Closed(invitation.status)

    @activity.defn
    def notify_inviter(self, input: InvitationNoticeInput) -> EmailsSent:
        """Tell the admin who invited: the user joined, or the invitation expired."""
        with self.app.app_context():
            invitation = load(UserInvitation, input.invitation_id)
            if input.notice == "joined":
                user = db.session.get(User, invitation.accepted_by_id)
                email = emails.inviter_joined(invitation, user)
            elif input.notice == "expired":
                email = emails.inviter_expired(invitation)
            elif input.notice in ("withdrawn_by_operations", "closed_by_operations"):
                email = emails.inviter_closed_by_operations(invitation)
            else:
                raise ApplicationError(f"unknown notice {input.notice}", non_retryable=True)
            deliver(email, f"{invitation.public_id}.{input.notice}")
            return EmailsSent([email.to])
