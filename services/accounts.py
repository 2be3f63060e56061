"""Client accounts and account emails (finish signing up, already registered, reset the
password: a durable workflow each, so the page answers at once and says the same for everyone)."""

import uuid

from flask import current_app

from core.accounts import AmazonConnection, ClientAccount, Membership
from core.connection_life import connection_input, start_connection_workflow
from core.extensions import db, temporal
from services import gateway, limits
from vocabulary.messages import AccountEmailInput, DisconnectRequest
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


def discard_new_account(account_id: int) -> None:
    """Take back an account add_account made a moment ago whose first request did not start
    (services.bulk_invites: a row is sent whole or not at all). Nothing else refers to it yet."""
    db.session.rollback()
    db.session.execute(db.delete(Membership).where(Membership.account_id == account_id))
    db.session.execute(db.delete(ClientAccount).where(ClientAccount.id == account_id))
    db.session.commit()


def disconnect(connection_id: int, actor: str) -> None:
    """Forget a stored connection and its token at once; then its workflow ends and tells the
    owner how to remove the app at Amazon too (started for that if it is over, after a revoke or
    an ops Terminate). Temporal being away leaves only that email unsent: logged."""
    connection = db.session.get(AmazonConnection, connection_id)
    if connection is None:
        return
    config = current_app.config
    life = connection_input(connection, config)
    said = DisconnectRequest(actor, connection.request_id)
    db.session.delete(connection)
    db.session.commit()

    async def tell(client) -> None:
        await start_connection_workflow(
            client,
            life,
            config["TEMPORAL_TASK_QUEUE"],
            f"Disconnected: Amazon {life.marketplace} connection {life.connection_id}",
            start_signal="disconnect",
            start_signal_args=[said],
        )

    try:
        temporal.run(tell, gateway.TIMEOUT)
    except Exception:
        current_app.logger.warning(
            "connection %s disconnected; its workflow was not told",
            life.connection_id,
            exc_info=True,
        )
