"""/api/v1/connection-requests: ask an owner to connect, follow the request, and act on it, by
the same services (limits, caps, roles, workflows) as the bookkeeper's pages."""

from flask import url_for

from core import marketplaces
from core.extensions import db
from core.request_rows import open_request_for
from core.requests import ConnectionRequest
from services import limits, reconcile, requests
from services.changes import Change
from web.api import auth, problems
from web.api.idempotency import idempotent
from web.api.pagination import page, page_schema
from web.api.problems import Problem
from web.api.schemas import (
    ChangeEmailSchema,
    ConnectionRequestCreateSchema,
    ConnectionRequestDetailSchema,
    ConnectionRequestSchema,
    RequestFilterSchema,
)

blp = auth.blueprint(
    "requests", "connection-requests", "Requests to a seller account's owner to connect it."
)


def _detail(connection_request: ConnectionRequest) -> ConnectionRequest:
    db.session.refresh(connection_request)  # as the workflow left it
    return connection_request


def _already_open(existing: ConnectionRequest | None, country: str) -> Problem:
    where = f": {existing.public_id}" if existing is not None else ""
    return Problem(
        409,
        f"A request for {marketplaces.get(country).label} is open already{where}. Resend it,"
        " or withdraw it first.",
        "already-open",
    )


@blp.post("/")
@idempotent
@blp.arguments(ConnectionRequestCreateSchema)
@blp.response(201, ConnectionRequestDetailSchema)
def create_request(data: dict):
    """Email the seller account's owner a link to connect (one email for several regions)."""
    membership = auth.membership(data["account_id"], admin=True)
    also = data.pop("also")
    problem = marketplaces.other_regions_problem(data["marketplace"], also)
    if problem:
        raise Problem(422, problem, "invalid-input", errors={"also": [problem]})
    for country in (data["marketplace"], *also):
        existing = open_request_for(membership.account_id, country)
        if existing is not None:
            raise _already_open(existing, country)
    fields = {k: data[k] for k in ("marketplace", "client_name", "client_email", "note")}
    fields["client_name"] = fields["client_name"].strip()
    fields["note"] = fields["note"].replace("\r\n", "\n").strip()
    try:
        started = requests.start(
            membership.account_id, auth.user_id(), ConnectionRequest.INVITE, fields, also
        )
    except requests.AlreadyCovered as covered:
        raise Problem(409, covered.message, "already-covered") from None
    except requests.AlreadyOpen:
        raise _already_open(None, data["marketplace"]) from None
    except limits.OverLimit as over:
        raise auth.over_limit(over) from None
    except requests.Unavailable:
        raise problems.unavailable(
            "The request could not be started just now; nothing was sent. Try again in a minute."
        ) from None
    location = url_for(".get_request", public_id=started.public_id)
    return _detail(started), 201, {"Location": location}


@blp.get("/")
@blp.arguments(RequestFilterSchema, location="query")
@blp.response(200, page_schema(ConnectionRequestSchema))
def list_requests(args: dict):
    """Requests of your accounts, newest first; filter by status and account."""
    return page(auth.own(ConnectionRequest, args), ConnectionRequest.id, args)


@blp.get("/<public_id>")
@blp.response(200, ConnectionRequestDetailSchema)
def get_request(public_id: str):
    """One request, with its timeline."""
    connection_request = auth.one(ConnectionRequest, "connection request", public_id=public_id)
    reconcile.check(connection_request)  # ops may have ended its workflow
    return _detail(connection_request)


def _changed(connection_request: ConnectionRequest, change: Change):
    if change.done:
        return _detail(connection_request)
    if change.level == "info":  # Temporal did not answer in time: it may yet happen
        raise problems.unavailable(change.message)
    raise Problem(409, change.message.removeprefix("Not done: "), "not-done")


def _act(public_id: str, act):
    connection_request = auth.one(
        ConnectionRequest, "connection request", admin=True, public_id=public_id
    )
    try:
        return _changed(connection_request, act(connection_request.id))
    except limits.OverLimit as over:
        raise auth.over_limit(over) from None


@blp.post("/<public_id>/resend")
@idempotent
@blp.response(200, ConnectionRequestDetailSchema)
def resend(public_id: str):
    """Email a fresh link now; earlier links stop working."""
    return _act(public_id, lambda request_id: requests.resend(request_id, auth.user_id()))


@blp.post("/<public_id>/change-email")
@idempotent
@blp.arguments(ChangeEmailSchema)
@blp.response(200, ConnectionRequestDetailSchema)
def change_email(data: dict, public_id: str):
    """Send the request to another address; links sent to the old one stop working."""
    return _act(
        public_id,
        lambda request_id: requests.change_email(request_id, auth.user_id(), data["client_email"]),
    )


@blp.post("/<public_id>/withdraw")
@idempotent
@blp.response(200, ConnectionRequestDetailSchema)
def withdraw(public_id: str):
    """Withdraw an open request: the seller's link says it was withdrawn."""
    return _act(public_id, lambda request_id: requests.withdraw(request_id, auth.user_id()))
