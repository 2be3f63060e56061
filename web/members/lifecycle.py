"""The web app's side of an invitation's workflow: start it and accept through it."""

from flask import current_app
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError

from web.connect.lifecycle import TIMEOUT, AlreadyOpen
from web.extensions import temporal
from web.members.models import UserInvitation
from workflows import search_attributes
from workflows.user_invitation import UserInvitationInput, UserInvitationWorkflow


def start(invitation: UserInvitation) -> None:
    """Start the invitation's workflow; AlreadyOpen if one runs for this address."""
    config = current_app.config
    domain = invitation.email.rsplit("@", 1)[-1].lower()
    input = UserInvitationInput(
        invitation_id=invitation.id,
        account_name=invitation.account.name,
        email_domain=domain,
        invited_by=invitation.invited_by.name,
        expires_after_seconds=int(config["CONNECT_EXPIRES_AFTER"].total_seconds()),
        reminder_offsets_seconds=[int(d.total_seconds()) for d in config["CONNECT_REMINDERS"]],
    )

    async def start_workflow(client) -> str:
        handle = await client.start_workflow(
            UserInvitationWorkflow.run,
            input,
            id=invitation.workflow_id,
            task_queue=config["TEMPORAL_TASK_QUEUE"],
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(search_attributes.ACCOUNT_ID, str(invitation.account_id)),
                    SearchAttributePair(search_attributes.SELLER_EMAIL_DOMAIN, domain),
                ]
            ),
            static_summary=f"Invite a {invitation.role} to {invitation.account.name}",
            static_details=(
                f"**{invitation.account.name}** (account {invitation.account_id}) · invited by"
                f" {invitation.invited_by.name} · someone at {domain} as {invitation.role}"
            ),
        )
        return handle.result_run_id

    try:
        invitation.workflow_run_id = temporal.run(start_workflow, TIMEOUT)
    except WorkflowAlreadyStartedError as err:
        raise AlreadyOpen(invitation.workflow_id) from err
