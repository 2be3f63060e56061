"""User-invitation activities: emails with fresh links, adding the member, closing, notices."""

from sqlalchemy import select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.deps import Activities
from activities.identity import message_key
from activities.links import days_left, issue_link
from activities.mail import composer, deliver
from activities.rows import load
from core import invitation_emails as emails
from core.accounts import Membership
from core.invitations import InvitationLink, UserInvitation, close_open_invitation
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


class InvitationActivities(Activities):
    """Side effects of inviting a user into an account."""

    @activity.defn
    def confirm_invitation_saved(self, input: AcceptInput) -> Done:
        """The web app commits the invitation just after starting its workflow: wait for it."""
        with self.deps.session() as session:
            if session.get(UserInvitation, input.invitation_id) is None:
                raise ApplicationError("the invitation is not saved yet", type="NotYetSaved")
            return Done()

    @activity.defn
    def send_user_invitation(self, input: UserInvitationEmailInput) -> EmailsSent:
        """Make a fresh link (only its hash is kept) and email it to the invitee."""
        with self.deps.session() as session:
            invitation = load(session, UserInvitation, input.invitation_id)
            expires_at = input.expires_at.replace(tzinfo=None)
            token = issue_link(
                session,
                self.deps.settings.secret_key,
                "invitation-link",
                InvitationLink,
                {"invitation_id": invitation.id},
                supersede=input.supersede_links,
            )
            invitation.expires_at = expires_at
            if input.reason == "reminder":
                invitation.reminders_sent = input.reminder_number
            else:
                invitation.reminders_sent = 0
            session.commit()  # the link must work before the email can arrive
            link = f"{self.deps.settings.app_base_url}/invitations/{token}"
            email = emails.invitation_email(
                invitation,
                link,
                expires_at,
                input.reminder_number,
                days_left(expires_at),
                new_link=input.reason == "resent",
            )
            key = message_key(invitation.public_id, input.reason)
            deliver(self.deps.mailer, email, key)
            return EmailsSent([invitation.email])

    @activity.defn
    def add_member(self, input: AcceptInput) -> MemberAdded:
        """Make the user a member with the invited role (idempotent), and close the invitation."""
        with self.deps.session() as session:
            invitation = load(session, UserInvitation, input.invitation_id)
            membership = session.scalar(
                select(Membership).filter_by(
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
                session.add(membership)
            invitation.status = InvitationState.ACCEPTED
            invitation.accepted_by_id = input.user_id
            session.commit()
            return MemberAdded(invitation.account_id, membership.id)

    @activity.defn
    def close_invitation(self, input: CloseInvitationInput) -> Closed:
        """Expired or withdrawn, if still pending: every link to it stops working. Returns the
        status the row ended in."""
        with self.deps.session() as session:
            invitation = load(session, UserInvitation, input.invitation_id)
            close_open_invitation(invitation, input.status)
            session.commit()
            return Closed(invitation.status)

    @activity.defn
    def notify_inviter(self, input: InvitationNoticeInput) -> EmailsSent:
        """Tell the admin who invited: the user joined, or the invitation expired or was closed."""
        compose = composer(emails.NOTICES, input.notice, "notice")
        with self.deps.session() as session:
            invitation = load(session, UserInvitation, input.invitation_id)
            email = compose(invitation)
            deliver(self.deps.mailer, email, f"{invitation.public_id}.{input.notice}")
            return EmailsSent([email.to])
