"""/api/v1/connections: the stored Amazon connections of your accounts, and how they stand."""

from core.accounts import AmazonConnection
from web.api import auth
from web.api.pagination import page, page_schema
from web.api.schemas import MAX_ID, ConnectionFilterSchema, ConnectionSchema

blp = auth.blueprint(
    "connections",
    "connections",
    "Stored Amazon connections: their status and covered marketplaces.",
)


@blp.get("/")
@blp.arguments(ConnectionFilterSchema, location="query")
@blp.response(200, page_schema(ConnectionSchema))
def list_connections(args: dict):
    """Connections of your accounts, newest first; filter by status and account."""
    return page(auth.own(AmazonConnection, args), AmazonConnection.id, args)


@blp.get(f"/<int(max={MAX_ID}):connection_id>")
@blp.response(200, ConnectionSchema)
def get_connection(connection_id: int):
    """One connection: its status and the marketplaces its authorization covers."""
    return auth.one(AmazonConnection, "connection", id=connection_id)
