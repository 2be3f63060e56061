"""Client accounts and account emails (finish signing up, already registered, reset the
password: a durable workflow each, so the page answers at once and says the same for everyone)."""

import uuid

from flask import current_app

from core.accounts import ClientAccount, Membership
from core.extensions import db, temporal
from services import gateway, limits
from vocabulary.messages import AccountEmailInput
from workflows.account_email import AccountEmailWorkflow


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

    temporal.run(start, gateway.TIMEOUT)


def add_account(user_id: int, name: str) -> ClientAccount:
    """A new client account, its creator its admin; limits.OverLimit past LIMIT_ACCOUNTS."""
    limit = current_app.config["LIMIT_ACCOUNTS"]
    limits.spend(
        limit,
        "LIMIT_ACCOUNTS",
        f"user:{user_id}",
        f"You have added as many client accounts as you can for now ({limit}).",
    )
    account = ClientAccount(name=name)
    db.session.add(account)
    db.session.add(Membership(account=account, user_id=user_id, role=Membership.ADMIN))
    db.session.commit()
    return account
