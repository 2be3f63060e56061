"""The emails of a user invitation."""

from datetime import datetime

from web.auth.models import User
from web.emails import Email, render
from web.members.models import UserInvitation


def _context(invitation: UserInvitation, **extra) -> dict:
    return {
        "invitation": invitation,
        "account": invitation.account,
        "inviter": invitation.invited_by,
        "firm": invitation.invited_by.firm_name,
        **extra,
    }


def invitation_email(
    invitation: UserInvitation,
    link: str,
    expires_at: datetime,
    reminder_number: int = 0,
    days_left: int | None = None,
) -> Email:
    """The invitee's email with the 'Accept invitation' link."""
    context = _context(
        invitation, link=link, expires_at=expires_at, reminder=reminder_number, days_left=days_left
    )
    text, html = render("invite_user", **context)
    subject = (
        f"{invitation.invited_by.name} ({context['firm']}) invites you to {invitation.account.name}"
    )
    if reminder_number:
        subject = f"Reminder: {subject}"
    return Email(invitation.email, subject, text, html)


def inviter_joined(invitation: UserInvitation, user: User) -> Email:
    text, html = render("user_joined", **_context(invitation, user=user))
    subject = f"{user.name} joined {invitation.account.name}"
    return Email(invitation.invited_by.email, subject, text, html)


def inviter_expired(invitation: UserInvitation) -> Email:
    text, html = render("invitation_expired", **_context(invitation))
    subject = f"Your invitation of {invitation.email} to {invitation.account.name} expired"
    return Email(invitation.invited_by.email, subject, text, html)


def inviter_closed_by_operations(invitation: UserInvitation) -> Email:
    """Ops withdrew the invitation in Temporal, or ended its workflow there."""
    withdrawn = invitation.status == UserInvitation.CANCELLED
    how = "withdrew" if withdrawn else "closed"
    text, html = render("invitation_closed_by_operations", **_context(invitation, how=how))
    subject = (
        f"Your invitation of {invitation.email} to {invitation.account.name} was"
        f" {'withdrawn' if withdrawn else 'closed'} by operations"
    )
    return Email(invitation.invited_by.email, subject, text, html)
