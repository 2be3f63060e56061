"""/api/v1/connections: the stored Amazon connections of your accounts, and how they stand."""

from flask_smorest import Blueprint

from core.accounts import AmazonConnection, Membership
from core.extensions import db
from web.api import auth
from web.api.pagination import PageArgs, page, page_schema
from web.api.problems import Problem
from web.api.schemas import MAX_ID, ConnectionFilterSchema, ConnectionSchema

blp = Blueprint(
    "api_connections",
    __name__,
    url_prefix="/api/v1/connections",
    description="Stored Amazon connections: their status and covered marketplaces.",
)
blp.before_request(auth.authenticate)


class ListArgs(PageArgs, ConnectionFilterSchema):
    pass


@blp.get("/")
@blp.arguments(ListArgs, location="query")
@blp.response(200, page_schema(ConnectionSchema))
def list_connections(args: dict):
    """Connections of your accounts, newest first; filter by status and account."""
    return page(auth.own(AmazonConnection, args), AmazonConnection.id, args)


@blp.get(f"/<int(max={MAX_ID}):connection_id>")
@blp.response(200, ConnectionSchema)
def get_connection(connection_id: int):
    """One connection: its status and the marketplaces its authorization covers."""
    connection = db.session.get(AmazonConnection, connection_id)
    if connection is None or Membership.of(auth.user_id(), connection.account_id) is None:
        raise Problem(404, f"No connection {connection_id} among yours.", "not-found")
    return connection
