"""/api/v1/accounts: the client accounts you belong to, and new ones."""

from flask import url_for

from core.accounts import Membership
from core.extensions import db
from services import accounts, limits
from web.api import auth
from web.api.idempotency import idempotent
from web.api.pagination import PageArgs, page, page_schema
from web.api.schemas import MAX_ID, AccountCreateSchema, AccountSchema

blp = auth.blueprint("accounts", "accounts", "Client accounts.")


def account_view(membership: Membership) -> dict:
    account = membership.account
    return {
        "id": account.id,
        "name": account.name,
        "role": membership.role,
        "created_at": account.created_at,
        "connections": account.connections,
    }


@blp.get("/")
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_schema(AccountSchema))
def list_accounts(args: dict):
    """Your accounts, newest first."""
    query = db.select(Membership).filter_by(user_id=auth.user_id())
    found = page(query, Membership.id, args)
    return {**found, "data": [account_view(m) for m in found["data"]]}


@blp.post("/")
@idempotent
@blp.arguments(AccountCreateSchema)
@blp.response(201, AccountSchema)
def create_account(data: dict):
    """Add a client account; you are its admin."""
    try:
        account = accounts.add_account(auth.user_id(), data["name"].strip())
    except limits.OverLimit as over:
        raise auth.over_limit(over) from None
    location = url_for(".get_account", account_id=account.id)
    return account_view(auth.membership(account.id)), 201, {"Location": location}


@blp.get(f"/<int(max={MAX_ID}):account_id>")
@blp.response(200, AccountSchema)
def get_account(account_id: int):
    """One of your accounts, with its connections."""
    return account_view(auth.membership(account_id))
