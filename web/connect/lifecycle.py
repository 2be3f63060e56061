"""The web app's side of a request's workflow: start it, signal it, update it, ask it."""

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from flask import current_app
from temporalio.client import WorkflowHandle
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError

from core import marketplaces
from core.clock import utcnow
from core.extensions import db
from core.logs import note_workflow
from core.requests import ConnectionLink, ConnectionRequest
from vocabulary import search_attributes
from vocabulary.messages import ConnectionRequestInput, RequestStatus, ResendRequest
from vocabulary.statuses import OPEN_REQUEST_STATES, RequestState
from web import limits
from web.extensions import temporal
from workflows.connection_request import ConnectionRequestWorkflow
from workflows.markdown import escape
from workflows.new_link import NewLinkAskedInput, NewLinkAskedWorkflow

TIMEOUT = 10.0  # seconds to wait for Temporal on a bookkeeper's click
SIGNAL_TIMEOUT = 3.0  # the seller's page must not wait long for a best-effort signal


class AlreadyOpen(Exception):
    """Temporal refused a second open request for the same account and marketplace."""


def _handle(client, target) -> WorkflowHandle:
    """The run behind a request or invitation (anything with workflow_id and workflow_run_id)."""
    return client.get_workflow_handle(target.workflow_id, run_id=target.workflow_run_id)


def workflow_input(connection_request: ConnectionRequest) -> ConnectionRequestInput:
    """The settings in force now, copied into the workflow so later changes never affect it."""
    config = current_app.config
    invite = connection_request.kind == ConnectionRequest.INVITE
    expires = config["CONNECT_EXPIRES_AFTER" if invite else "DIRECT_CONNECT_EXPIRES_AFTER"]
    return ConnectionRequestInput(
        seller_email_domain=search_attributes.email_domain(connection_request.client_email),
        request_id=connection_request.id,
        send_invite=invite,
        account_name=connection_request.account.name,
        marketplace=connection_request.marketplace,
        requested_by=connection_request.requested_by.name,
        expires_after_seconds=int(expires.total_seconds()),
        reminder_offsets_seconds=(
            [int(d.total_seconds()) for d in config["CONNECT_REMINDERS"]] if invite else []
        ),
        reminder_pause_seconds=int(config["CONNECT_REMINDER_PAUSE"].total_seconds()),
    )


def start(connection_request: ConnectionRequest) -> None:
    """Start the request's workflow and remember its run; AlreadyOpen if one is running."""
    input = workflow_input(connection_request)
    marketplace = marketplaces.get(connection_request.marketplace)
    domain = search_attributes.email_domain(connection_request.client_email)
    attributes = TypedSearchAttributes(
        [
            SearchAttributePair(search_attributes.ACCOUNT_ID, str(connection_request.account_id)),
            SearchAttributePair(search_attributes.MARKETPLACE, marketplace.country),
            SearchAttributePair(search_attributes.SELLER_EMAIL_DOMAIN, domain),
            SearchAttributePair(search_attributes.ONBOARDING_STATUS, connection_request.status),
        ]
    )
    who = connection_request.requested_by
    note_workflow(connection_request.workflow_id)
    # The Temporal UI renders these as Markdown: the names are user text.
    account = escape(connection_request.account.name)

    start_run(
        connection_request,
        ConnectionRequestWorkflow.run,
        input,
        attributes,
        summary=f"Connect {account} to Amazon {marketplace.country}",
        details=(
            f"**{account}** (account {connection_request.account_id}) · {marketplace.label}\n\n"
            f"{connection_request.kind.capitalize()} request by {escape(who.name)}"
            f" ({escape(who.firm_name)}) for {escape(connection_request.client_name)}"
            f" at {escape(domain)}"
        ),
    )


def start_run(target, run, input, attributes, summary: str, details: str) -> None:
    """Start the run of a request or invitation under its business-key workflow id, and remember
    it on `target`; AlreadyOpen if that id has a run in progress."""
    task_queue = current_app.config["TEMPORAL_TASK_QUEUE"]
    # Shown at once; the workflow's first email writes the exact moment a breath later.
    target.expires_at = utcnow() + timedelta(seconds=input.expires_after_seconds)

    async def start_workflow(client) -> str:
        handle = await client.start_workflow(
            run,
            input,
            id=target.workflow_id,
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            search_attributes=attributes,
            static_summary=summary,
            static_details=details,
        )
        return handle.result_run_id

    try:
        target.workflow_run_id = temporal.run(start_workflow, TIMEOUT)
    except WorkflowAlreadyStartedError as err:
        raise AlreadyOpen(target.workflow_id) from err


def signal(target, name: str, arg: Any, best_effort=False) -> None:
    """Send a signal to the workflow run of a request or invitation."""
    note_workflow(target.workflow_id)

    async def send(client) -> None:
        await _handle(client, target).signal(name, arg)

    try:
        temporal.run(send, SIGNAL_TIMEOUT if best_effort else TIMEOUT)
    except Exception:
        if not best_effort:
            raise
        # The seller's page must work even if Temporal hiccups; the timeline misses one line.
        current_app.logger.warning(
            "signal %s to %s not delivered", name, target.workflow_id, exc_info=True
        )


def update(target, name: str, arg: Any, result_type: type) -> Any:
    """Run an update on the workflow run of a request or invitation and return its result."""
    note_workflow(target.workflow_id)

    async def run(client):
        return await _handle(client, target).execute_update(name, arg, result_type=result_type)

    return temporal.run(run, TIMEOUT)


@dataclass
class AskResult:
    notified: bool


def ask_for_new_link(connection_request: ConnectionRequest) -> AskResult:
    """Tell the bookkeeper the seller wants a new link, at most once a day per request."""
    config = current_app.config

    async def start_workflow(client) -> None:
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
        temporal.run(start_workflow, TIMEOUT)
    except WorkflowAlreadyStartedError:
        return AskResult(notified=False)
    return AskResult(notified=True)


def open_request_for(account_id: int, marketplace: str) -> ConnectionRequest | None:
    return db.session.scalar(
        db.select(ConnectionRequest).filter(
            ConnectionRequest.account_id == account_id,
            ConnectionRequest.marketplace == marketplace,
            ConnectionRequest.status.in_(OPEN_REQUEST_STATES),
        )
    )


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
        update(target, "resend", asked, RequestStatus)
    except Exception:
        # Closed or busy with Amazon's answer meanwhile, or Temporal did not answer in time.
        current_app.logger.warning("latest link for request %s not sent", target.id, exc_info=True)
        undo()
        return False
    return True
