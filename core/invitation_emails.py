"""The emails of a user invitation."""

from collections.abc import Callable
from datetime import datetime

from flask import current_app

from core.emails import Email, invitation_subject, on_behalf_of, person, render, sender
from core.extensions import db
from core.invitations import UserInvitation
from core.users import User
from vocabulary.notices import InvitationNotice
from vocabulary.statuses import InvitationState


def _context(invitation: UserInvitation, **extra) -> dict:
    inviter = invitation.invited_by
    return {
        "invitation": invitation,
        "account": invitation.account,
        "inviter": inviter,
        **sender(inviter),
        # Why the inviter gets it; the invitee's own email says theirs.
        "why": (
            f"You got this email because you invited {invitation.email} to"
            f" {invitation.account.name} at {current_app.config['APP_NAME']}."
            f" To reach them, write to {invitation.email}."
        ),
        **extra,
    }


def invitation_email(
    invitation: UserInvitation,
    link: str,
    expires_at: datetime,
    reminder_number: int = 0,
    days_left: int | None = None,
    new_link: bool = False,
) -> Email:
    """The invitee's email with the 'Accept invitation' link. `new_link`: a resend, so the subject
    says so and threads do not bury it."""
    inviter = invitation.invited_by
    who = person(inviter.name, inviter.firm_name)
    why = (
        f"You got this email because {who} invited you to {invitation.account.name} at"
        f" {current_app.config['APP_NAME']}. Questions? Reply to this email to reach"
        f" {inviter.name}."
    )
    context = _context(
        invitation,
        link=link,
        expires_at=expires_at,
        reminder=reminder_number,
        days_left=days_left,
        why=why,
    )
    text, html = render("invite_user", **context)
    subject = invitation_subject(
        f"{who} invites you to {invitation.account.name}",
        "" if reminder_number else None,
        new_link,
    )
    return Email(invitation.email, subject, text, html, **on_behalf_of(inviter))


def inviter_joined(invitation: UserInvitation) -> Email:
    user = db.session.get(User, invitation.accepted_by_id)
    text, html = render("user_joined", **_context(invitation, user=user))
    subject = f"{user.name} joined {invitation.account.name}"
    return Email(invitation.invited_by.email, subject, text, html)


def inviter_expired(invitation: UserInvitation) -> Email:
    text, html = render("invitation_expired", **_context(invitation))
    subject = f"Your invitation of {invitation.email} to {invitation.account.name} expired"
    return Email(invitation.invited_by.email, subject, text, html)


def inviter_closed_by_operations(invitation: UserInvitation) -> Email:
    """Ops withdrew the invitation in Temporal, or ended its workflow there."""
    withdrawn = invitation.status == InvitationState.CANCELLED
    how = "withdrew" if withdrawn else "closed"
    text, html = render("invitation_closed_by_operations", **_context(invitation, how=how))
    subject = (
        f"Your invitation of {invitation.email} to {invitation.account.name} was"
        f" {'withdrawn' if withdrawn else 'closed'} by operations"
    )
    return Email(invitation.invited_by.email, subject, text, html)


# Which composer writes each notice: a new notice is a template pair, a composer and a line here.
NOTICES: dict[InvitationNotice, Callable[[UserInvitation], Email]] = {
    InvitationNotice.JOINED: inviter_joined,
    InvitationNotice.EXPIRED: inviter_expired,
    InvitationNotice.WITHDRAWN_BY_OPERATIONS: inviter_closed_by_operations,
    InvitationNotice.CLOSED_BY_OPERATIONS: inviter_closed_by_operations,
}
