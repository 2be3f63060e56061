"""Every workflow this project runs: the worker registers them, the replay test replays them."""

from workflows.account_email import AccountEmailWorkflow
from workflows.connection import ConnectionWorkflow
from workflows.connection_request import ConnectionRequestWorkflow
from workflows.new_link import NewLinkAskedWorkflow
from workflows.reconcile import ClosedByOperationsWorkflow, ReconcileWorkflow
from workflows.user_invitation import UserInvitationWorkflow
from workflows.webhooks import WebhookDeliveryWorkflow

WORKFLOWS = [
    ConnectionRequestWorkflow,
    ConnectionWorkflow,
    NewLinkAskedWorkflow,
    UserInvitationWorkflow,
    AccountEmailWorkflow,
    ClosedByOperationsWorkflow,
    ReconcileWorkflow,
    WebhookDeliveryWorkflow,
]
