"""The web app's side of an invitation's workflow: start it and accept through it."""

from flask import current_app
from temporalio.common import SearchAttributePair, TypedSearchAttributes

from core.invitations import UserInvitation
from vocabulary import search_attributes
from vocabulary.messages import UserInvitationInput
from web.connect.lifecycle import start_run
from workflows.markdown import escape
from workflows.user_invitation import UserInvitationWorkflow


def start(invitation: UserInvitation) -> None:
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

    start_run(
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
