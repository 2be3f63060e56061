"""Connection requests: start one, resend it, send it to another address, withdraw it, and the
seller's asks from an old link. Plain functions of ids and values; the rules (limits, one open
request per marketplace) live here once, for the views, the API and tests."""

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date

from flask import current_app
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from core import marketplaces
from core.accounts import AmazonConnection, ClientAccount
from core.extensions import db, temporal
from core.request_input import request_input
from core.request_rows import open_request_for
from core.requests import ConnectionLink, ConnectionRequest, new_public_id
from core.users import User
from services import gateway, limits
from services.changes import Change, apply
from services.gateway import AlreadyOpen, Unavailable
from vocabulary import search_attributes
from vocabulary.messages import (
    CancelRequest,
    ChangeEmailRequest,
    ConnectionRequestInput,
    ResendRequest,
    SellerProgress,
)
from vocabulary.statuses import RequestState
from workflows.connection_request import ConnectionRequestWorkflow
from workflows.markdown import escape
from workflows.new_link import NewLinkAskedInput, NewLinkAskedWorkflow

__all__ = ["AlreadyOpen", "Unavailable", "open_request_for"]


def workflow_input(
    connection_request: ConnectionRequest, started_at_amazon: bool = False
) -> ConnectionRequestInput:
    """The settings in force now, copied into the workflow so later changes never affect it."""
    config = current_app.config
    if started_at_amazon:  # no email: the owner is on their way to Amazon's consent already
        started = request_input(
            connection_request, config, config["DIRECT_CONNECT_EXPIRES_AFTER"], []
        )
        return replace(started, send_invite=False, started_at_amazon=True)
    if connection_request.kind == ConnectionRequest.INVITE:
        return request_input(
            connection_request,
            config,
            config["CONNECT_EXPIRES_AFTER"],
            config["CONNECT_REMINDERS"],
        )
    return request_input(connection_request, config, config["DIRECT_CONNECT_EXPIRES_AFTER"], [])


def _start_workflow(connection_request: ConnectionRequest, started_at_amazon: bool = False) -> None:
    """Start the request's workflow and remember its run; AlreadyOpen if one is running."""
    marketplace = marketplaces.get(connection_request.marketplace)
    domain = search_attributes.email_domain(connection_request.client_email)
    attributes = search_attributes.of_request(
        connection_request.account_id, marketplace.country, domain, connection_request.status
    )
    who = connection_request.requested_by
    # The Temporal UI renders these as Markdown: the names are user text.
    account = escape(connection_request.account.name)
    gateway.start(
        connection_request,
        ConnectionRequestWorkflow.run,
        workflow_input(connection_request, started_at_amazon),
        attributes,
        summary=f"Connect {account} to Amazon {marketplace.country}",
        details=(
            f"**{account}** (account {connection_request.account_id}) · {marketplace.label}\n\n"
            f"{connection_request.kind.capitalize()} request by {escape(who.name)}"
            f" ({escape(who.firm_name)}) for {escape(connection_request.client_name)}"
            f" at {escape(domain)}"
        ),
    )


class AlreadyCovered(Exception):
    """The marketplace is covered by the account's connection of another marketplace of its
    region: Amazon's one authorization serves both, so there is nothing to ask for."""

    def __init__(self, connection: AmazonConnection, country: str) -> None:
        self.connection = connection
        self.message = covered_message(connection, country)
        super().__init__(self.message)


def covered_message(connection: AmazonConnection, country: str) -> str:
    covered = marketplaces.get(country)
    return (
        f"{covered.label} is already covered: the {connection.marketplace} connection (seller"
        f" {connection.selling_partner_id}) includes it, as Amazon authorizes a seller for"
        f" every marketplace of {covered.region.name} at once. Nothing to send."
    )


def start(
    account_id: int, user_id: int, kind: str, fields: dict, also: Sequence[str] = ()
) -> ConnectionRequest:
    """Write the request and start its workflow, or write nothing: AlreadyCovered when another
    connection of the account covers the marketplace, AlreadyOpen when Temporal runs a request
    for this marketplace already, limits.OverLimit when an invitation would pass the sender's
    or the account's limits, Unavailable when Temporal cannot be reached.

    `also`: marketplaces of other regions asked for at once (invitations): one request each,
    sent together as a group (one email, one checklist for the owner, one of the limits); the
    first is returned."""
    for country in (fields["marketplace"], *also):
        covering = AmazonConnection.covering(account_id, country)
        if covering is not None:
            raise AlreadyCovered(covering, country)
    account = db.session.get(ClientAccount, account_id)
    if kind == ConnectionRequest.INVITE:
        limits.spend_seller_email(account, user_id)
    status = RequestState.SENT if kind == ConnectionRequest.INVITE else RequestState.CONSENT_STARTED
    lead_id = new_public_id()
    group = [
        ConnectionRequest(
            account=account,
            requested_by=db.session.get(User, user_id),
            kind=kind,
            status=status,
            public_id=lead_id if country == fields["marketplace"] else new_public_id(),
            group_id=lead_id if also else None,
            **{**fields, "marketplace": country},
        )
        for country in (fields["marketplace"], *also)
    ]
    gateway.save_and_start_all(group, _start_workflow)
    return group[0]


def renew_at_amazon(connection_id: int) -> ConnectionRequest:
    """A seller renews at Amazon (the Log-in URI): the request the callback completes. The
    marketplace's open request if there is one, else a renewal request to the connection's
    owner that emails nobody (the owner is at Amazon already) and expires after
    DIRECT_CONNECT_EXPIRES_AFTER. Raises Unavailable when Temporal cannot be reached."""
    connection = db.session.get(AmazonConnection, connection_id)
    existing = open_request_for(connection.account_id, connection.marketplace)
    if existing is not None:
        return existing
    renewal = ConnectionRequest.renewal_of(connection, RequestState.CONSENT_STARTED)
    try:
        gateway.save_and_start(renewal, lambda row: _start_workflow(row, started_at_amazon=True))
    except AlreadyOpen:  # another browser began one a moment ago: that one serves
        found = open_request_for(connection.account_id, connection.marketplace)
        if found is None:
            raise Unavailable from None
        return found
    return renewal


def _spend_resend(connection_request: ConnectionRequest, user_id: int):
    """A resend or change of address: RESEND_COOLDOWN, the sender's and the account's
    LIMIT_SEND and the account's CONNECT_DAILY_CAP. Raises limits.OverLimit."""
    account = connection_request.account
    return limits.spend_resend(
        connection_request, lambda: limits.spend_seller_email(account, user_id)
    )


def _open_group(connection_request: ConnectionRequest) -> list[ConnectionRequest]:
    """The request and the others of its group still open, the first first (its email speaks
    for all): a resend or a new address applies to them all."""
    return [m for m in connection_request.group() if m.is_open or m is connection_request]


def _apply_to_group(connection_request: ConnectionRequest, method, arg, done: str, undo) -> Change:
    """`apply` on every open request of the group (one email); the answer of the one asked."""
    answers = {}
    for member in _open_group(connection_request):
        answers[member.id] = apply(
            member, method, arg, done, undo if member is connection_request else None
        )
    return answers[connection_request.id]


def resend(request_id: int, user_id: int) -> Change:
    """Email a fresh link now; earlier links stop working (for requests sent together, one
    email for the regions still open). Raises limits.OverLimit."""
    connection_request = db.session.get(ConnectionRequest, request_id)
    user = db.session.get(User, user_id)
    undo = _spend_resend(connection_request, user_id)
    return _apply_to_group(
        connection_request,
        ConnectionRequestWorkflow.resend,
        ResendRequest(user.name),
        f"A fresh link is on its way to {connection_request.client_email}. Earlier links no"
        " longer work.",
        undo,
    )


def change_email(request_id: int, user_id: int, new_email: str) -> Change:
    """Send the request to another address (the same one again is a plain resend); the old
    address's link dies. Raises limits.OverLimit."""
    connection_request = db.session.get(ConnectionRequest, request_id)
    user = db.session.get(User, user_id)
    undo = _spend_resend(connection_request, user_id)
    if new_email.lower() == connection_request.client_email.lower():
        return _apply_to_group(
            connection_request,
            ConnectionRequestWorkflow.resend,
            ResendRequest(user.name),
            f"That is already the address; a fresh link is on its way to {new_email}. Earlier"
            " links no longer work.",
            undo,
        )
    return _apply_to_group(
        connection_request,
        ConnectionRequestWorkflow.change_email,
        ChangeEmailRequest(new_email, user.name),
        f"The request now goes to {new_email}; links sent to the old address no longer work.",
        undo,
    )


def withdraw(request_id: int, user_id: int) -> Change:
    """Withdraw an open request: the seller's link says it was withdrawn."""
    connection_request = db.session.get(ConnectionRequest, request_id)
    user = db.session.get(User, user_id)
    change = apply(
        connection_request,
        ConnectionRequestWorkflow.withdraw,
        CancelRequest(user.name),
        "Request withdrawn. The link in the email no longer works.",
    )
    if change.done and change.answer.status == RequestState.CONNECTED:
        return Change(False, "Not withdrawn: the seller connected a moment before.", "info")
    return change


def seller_progress(connection_request: ConnectionRequest, step, actor: str) -> None:
    """The seller's step (ConnectionRequestWorkflow.seller_opened or .consent_started), best
    effort: the seller's page never waits on Temporal trouble."""
    gateway.signal(connection_request, step, SellerProgress(actor), best_effort=True)


@dataclass
class AskResult:
    notified: bool


def ask_for_new_link(connection_request: ConnectionRequest) -> AskResult:
    """Tell the bookkeeper the seller wants a new link, at most once a day per request."""
    config = current_app.config

    async def start_workflow(client: Client) -> None:
        await client.start_workflow(
            NewLinkAskedWorkflow.run,
            NewLinkAskedInput(connection_request.id),
            id=f"new-link-asked-{connection_request.public_id}-{date.today():%Y%m%d}",
            task_queue=config["TEMPORAL_TASK_QUEUE"],
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            static_summary=(
                f"Seller asked for a new link ({escape(connection_request.account.name)})"
            ),
        )

    try:
        temporal.run(start_workflow, gateway.TIMEOUT)
    except WorkflowAlreadyStartedError:
        return AskResult(notified=False)
    return AskResult(notified=True)


def latest_request_for(link: ConnectionLink) -> ConnectionRequest | None:
    """The open request an old link now stands for: its own request when the link was replaced
    by a newer one; for a withdrawn request, a newer open request for the same account and
    marketplace; else None (a live link, or nothing open)."""
    own = link.request
    if own.is_open:
        return own if link.superseded_at is not None else None
    if own.status != RequestState.CANCELLED:
        return None
    newer = open_request_for(own.account_id, own.marketplace)
    return newer if newer is not None and newer.id > own.id else None


def send_latest_link(link: ConnectionLink) -> bool:
    """The seller asks, from an old link, for the latest one: the request's workflow emails a
    fresh link (only its hash is kept, so 'the latest' is a new one) to the request's current
    address; earlier links stop working, as with the bookkeeper's Resend, whose cooldown and
    the account's daily cap apply. Returns whether it was sent; the seller is never told."""
    target = latest_request_for(link)
    if target is None or target.kind != ConnectionRequest.INVITE:
        return False
    account = target.account
    cap = current_app.config["CONNECT_DAILY_CAP"]

    def spend_daily_cap() -> None:
        message = f"{account.name} has reached today's limit of {cap} requests and resends."
        limits.spend(f"{cap} per day", "CONNECT_DAILY_CAP", f"account:{account.id}", message)

    try:
        undo = limits.spend_resend(target, spend_daily_cap)
    except limits.OverLimit as over:
        current_app.logger.info("latest link for request %s not sent: %s", target.id, over)
        return False
    if undo is None:
        return False
    asked = ResendRequest(f"{target.client_name} (asked for the latest link)")
    try:
        for member in _open_group(target):  # the group's first open one emails for all
            gateway.update(member, ConnectionRequestWorkflow.resend, asked)
    except Exception:
        # Closed or busy with Amazon's answer meanwhile, or Temporal did not answer in time.
        current_app.logger.warning("latest link for request %s not sent", target.id, exc_info=True)
        undo()
        return False
    return True
