"""A stored connection's workflow as the app starts it from outside a workflow: a disconnect
(to tell the owner) and the reconciliation (when ops stopped its life in Temporal)."""

from temporalio.client import Client

from core.accounts import AmazonConnection
from core.config import connection_life
from vocabulary import search_attributes
from vocabulary.messages import ConnectionInput
from vocabulary.statuses import ConnectionState

# By name: workflows.connection imports core, not the other way round.
CONNECTION_WORKFLOW = "ConnectionWorkflow"


def connection_workflow_id(connection_id: int) -> str:
    """One life per stored connection (its row lives on across reconnects and renewals)."""
    return f"amazon-connection-{connection_id}"


def connection_input(connection: AmazonConnection, config) -> ConnectionInput:
    """A life for the stored connection, from the settings in force now: due for renewal
    already if its row says so (the owner is not asked twice)."""
    due = connection.status == ConnectionState.RENEWAL_DUE
    return ConnectionInput(
        connection_id=connection.id,
        account_id=connection.account_id,
        account_name=connection.account.name,
        marketplace=connection.marketplace,
        life=connection_life(config),
        authorized_at=connection.authorized_at,
        renewal_asked_for=connection.authorized_at if due else None,
    )


async def start_connection_workflow(
    client: Client, input: ConnectionInput, task_queue: str, summary: str, **start
) -> None:
    """Start a new run of the connection's workflow: WorkflowAlreadyStartedError when one is
    running, unless `start` adds a start signal (then the running one gets the signal)."""
    await client.start_workflow(
        CONNECTION_WORKFLOW,
        input,
        id=connection_workflow_id(input.connection_id),
        task_queue=task_queue,
        search_attributes=search_attributes.of_connection(input.account_id, input.marketplace),
        static_summary=summary,
        **start,
    )
