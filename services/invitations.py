"""Invitations of a user into an account (option 2): invite, resend, withdraw, accept. Plain
functions of ids and values, for the views, the API and tests."""

from flask import current_app
from temporalio.client import WorkflowUpdateFailedError
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.service import RPCError

from core.accounts import ClientAccount
from core.extensions import db
from core.invitations import UserInvitation, workflow_id_for
from core.users import User
from services import gateway, limits
from services.changes import Change, apply
from services.gateway import AlreadyOpen, Unavailable
from vocabulary import search_attributes
from vocabulary.messages import AcceptInvitation, CancelRequest, ResendRequest, UserInvitationInput
from workflows.markdown import escape
from workflows.user_invitation import UserInvitationWorkflow

__all__ = ["AlreadyOpen", "Unavailable"]


class AlreadyMember(Exception):
    """The address belongs to a user of the account already: nothing to invite."""


def _start_workflow(invitation: UserInvitation) -> None:
    """Start the invitation's workflow; AlreadyOpen if one runs for this address."""
    config = current_app.config
    domain = search_attributes.email_domain(invitation.email)
    input = UserInvitationInput(
        invitation_id=invitation.id,
        account_name=invitation.account.name,
        email_domain=domain,
        invited_by=invitation.invited_by.name,
        expires_after_seconds=int(config["CONNECT_EXPIRES_AFTER"].total_seconds()),
        reminder_offsets_seconds=[int(d.total_seconds()) for d in config["CONNECT_REMINDERS"]],
    )
    gateway.start(
        invitation,
        UserInvitationWorkflow.run,
        input,
        TypedSearchAttributes(
            [
                SearchAttributePair(search_attributes.ACCOUNT_ID, str(invitation.account_id)),
                SearchAttributePair(search_attributes.SELLER_EMAIL_DOMAIN, domain),
                SearchAttributePair(search_attributes.ONBOARDING_STATUS, invitation.status),
            ]
        ),
        # The Temporal UI renders these as Markdown: the names are user text.
        summary=f"Invite a {invitation.role} to {escape(invitation.account.name)}",
        details=(
            f"**{escape(invitation.account.name)}** (account {invitation.account_id}) · invited"
            f" by {escape(invitation.invited_by.name)} · someone at {escape(domain)}"
            f" as {invitation.role}"
        ),
    )


def invite(account_id: int, user_id: int, email: str, role: str) -> UserInvitation:
    """Write the invitation and start its workflow, or write nothing: AlreadyMember when the
    address is a user of the account, limits.OverLimit past LIMIT_INVITE, AlreadyOpen when this
    address is invited already, Unavailable when Temporal cannot be reached."""
    account = db.session.get(ClientAccount, account_id)
    if any(m.user.email.lower() == email.lower() for m in account.memberships):
        raise AlreadyMember(email)
    limits.spend_sends(account, user_id, "LIMIT_INVITE")
    invitation = UserInvitation(
        account=account,
        email=email,
        role=role,
        invited_by=db.session.get(User, user_id),
        workflow_id=workflow_id_for(current_app.config["SECRET_KEY"], account.id, email),
    )
    gateway.save_and_start(invitation, _start_workflow)
    return invitation


def resend(invitation_id: int, user_id: int) -> Change:
    """A fresh link to the invitee; earlier links stop working. Raises limits.OverLimit."""
    invitation = db.session.get(UserInvitation, invitation_id)
    account = invitation.account
    undo = limits.spend_resend(
        invitation, lambda: limits.spend_sends(account, user_id, "LIMIT_INVITE")
    )
    return apply(
        invitation,
        UserInvitationWorkflow.resend,
        ResendRequest(db.session.get(User, user_id).name),
        f"A fresh invitation is on its way to {invitation.email}.",
        undo,
    )


def withdraw(invitation_id: int, user_id: int) -> Change:
    """Withdraw an invitation: its link stops working."""
    invitation = db.session.get(UserInvitation, invitation_id)
    return apply(
        invitation,
        UserInvitationWorkflow.withdraw,
        CancelRequest(db.session.get(User, user_id).name),
        f"Invitation of {invitation.email} withdrawn.",
    )


def accept(invitation_id: int, user_id: int) -> str:
    """Accept through the workflow; returns '' or what went wrong, in words for the user."""
    invitation = db.session.get(UserInvitation, invitation_id)
    try:
        gateway.update(invitation, UserInvitationWorkflow.accept, AcceptInvitation(user_id))
    except WorkflowUpdateFailedError as err:
        return err.cause.message if err.cause else "This invitation cannot be accepted."
    except RPCError:
        return "This invitation is no longer open."
    except TimeoutError:
        return "Accepting is taking longer than usual. Reload this page in a minute."
    return ""
