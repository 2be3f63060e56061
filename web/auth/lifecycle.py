"""Starting the account-email workflow from the web app."""

import uuid

from flask import current_app

from vocabulary.messages import AccountEmailInput
from web.extensions import temporal
from workflows.account_email import AccountEmailWorkflow

TIMEOUT = 10.0


def send_account_email(purpose: str, user_id: int | None) -> None:
    """Start the durable email; the page answers at once and says the same for everyone."""
    task_queue = current_app.config["TEMPORAL_TASK_QUEUE"]

    async def start(client) -> None:
        await client.start_workflow(
            AccountEmailWorkflow.run,
            AccountEmailInput(purpose, user_id),
            id=f"account-email-{purpose}-{uuid.uuid4().hex}",
            task_queue=task_queue,
            static_summary=f"Account email: {purpose.replace('_', ' ')}",
        )

    temporal.run(start, TIMEOUT)
