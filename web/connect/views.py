"""The bookkeeper's connect flow: marketplace, path, request with preview, direct consent."""

from datetime import timedelta

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy

from web import marketplaces
from web.accounts.views import get_own_account
from web.auth.models import utcnow
from web.connect import emails
from web.connect.forms import ConnectRequestForm, MarketplaceForm
from web.connect.models import ConnectionRequest
from web.consent import flow
from web.extensions import db, temporal
from workflows import search_attributes
from workflows.connection_request import (
    CancelRequest,
    ConnectionRequestInput,
    ConnectionRequestWorkflow,
)

bp = Blueprint("connect", __name__, url_prefix="/accounts/<int:account_id>/connect")

START_TIMEOUT = 10.0  # seconds to wait for Temporal to accept a new request


def _start(connection_request: ConnectionRequest, expires_after: timedelta) -> None:
    """Start the request's workflow; the caller commits only if this succeeds."""
    config = current_app.config
    input = ConnectionRequestInput(
        request_id=connection_request.id,
        send_invite=connection_request.kind == ConnectionRequest.INVITE,
        expires_after_seconds=int(expires_after.total_seconds()),
    )
    marketplace = marketplaces.get(connection_request.marketplace)
    account_id = connection_request.account_id
    email_domain = connection_request.client_email.rsplit("@", 1)[-1].lower()

    async def start(client):
        await client.start_workflow(
            ConnectionRequestWorkflow.run,
            input,
            id=connection_request.workflow_id,
            task_queue=config["TEMPORAL_TASK_QUEUE"],
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(search_attributes.ACCOUNT_ID, str(account_id)),
                    SearchAttributePair(search_attributes.MARKETPLACE, marketplace.country),
                    SearchAttributePair(search_attributes.SELLER_EMAIL_DOMAIN, email_domain),
                ]
            ),
            static_summary=(
                f"Connect {connection_request.account.name} to Amazon {marketplace.country}"
            ),
            static_details=(
                f"Account {connection_request.account_id} · {marketplace.label} · "
                f"{connection_request.kind} request by user {connection_request.requested_by_id}"
            ),
        )

    temporal.run(start, START_TIMEOUT)


def _create(account, form_data: dict, kind: str, expires_after: timedelta):
    """Write the request and start its workflow, or write nothing and return None."""
    connection_request = ConnectionRequest(
        account=account, requested_by=current_user._get_current_object(), kind=kind, **form_data
    )
    db.session.add(connection_request)
    db.session.flush()
    try:
        _start(connection_request, expires_after)
    except Exception:
        db.session.rollback()
        current_app.logger.exception("could not start the workflow for a connection request")
        flash(
            "The request could not be started just now; nothing was sent. Please try again in a"
            " minute.",
            "error",
        )
        return None
    db.session.commit()
    return connection_request


@bp.route("/", methods=["GET", "POST"])
@login_required
def choose_marketplace(account_id: int):
    """Step 1: pick the marketplace and press 'Continue with Amazon'."""
    account = get_own_account(account_id)
    form = MarketplaceForm(data={"marketplace": request.args.get("marketplace", "US")})
    if form.validate_on_submit():
        return redirect(
            url_for(".choose_path", account_id=account.id, marketplace=form.marketplace.data)
        )
    return render_template("connect/marketplace.html", account=account, form=form)


@bp.get("/path")
@login_required
def choose_path(account_id: int):
    """Step 2: connect now (you own the seller account) or request access from the owner."""
    account = get_own_account(account_id)
    country = request.args.get("marketplace", "")
    if country not in marketplaces.BY_COUNTRY:
        flash("Choose one of Amazon's marketplaces from the list.", "error")
        return redirect(url_for(".choose_marketplace", account_id=account.id))
    return render_template(
        "connect/path.html",
        account=account,
        marketplace=marketplaces.get(country),
        form=MarketplaceForm(data={"marketplace": country}),
    )


@bp.post("/direct")
@login_required
def direct(account_id: int):
    """'I own this seller account': the same consent flow in this browser, no emails."""
    account = get_own_account(account_id)
    form = MarketplaceForm()
    if not form.validate_on_submit():
        flash("Choose one of Amazon's marketplaces from the list.", "error")
        return redirect(url_for(".choose_marketplace", account_id=account.id))
    data = {
        "marketplace": form.marketplace.data,
        "client_name": current_user.name,
        "client_email": current_user.email,
    }
    expires = current_app.config["DIRECT_CONNECT_EXPIRES_AFTER"]
    connection_request = _create(account, data, ConnectionRequest.DIRECT, expires)
    if connection_request is None:
        return redirect(
            url_for(".choose_path", account_id=account.id, marketplace=data["marketplace"])
        )
    return flow.begin(connection_request)


@bp.route("/request", methods=["GET", "POST"])
@login_required
def request_access(account_id: int):
    """Ask the seller account's owner to connect: fill in, preview the email, send."""
    account = get_own_account(account_id)
    form = ConnectRequestForm(data={"marketplace": request.args.get("marketplace", "US")})
    if not form.validate_on_submit():
        return render_template("connect/request.html", account=account, form=form)
    data = {
        "marketplace": form.marketplace.data,
        "client_name": form.client_name.data,
        "client_email": form.client_email.data,
        "note": form.note.data or "",
    }
    if request.form.get("action") != "send":
        # A transient request, never added to the session: it only renders the preview.
        draft = ConnectionRequest(
            account=account, requested_by=current_user._get_current_object(), **data
        )
        expires_at = utcnow() + current_app.config["CONNECT_EXPIRES_AFTER"]
        preview = emails.seller_invitation(draft, emails.PREVIEW_LINK, expires_at)
        return render_template(
            "connect/preview.html",
            account=account,
            form=form,
            preview=preview,
            marketplace=marketplaces.get(data["marketplace"]),
        )
    connection_request = _create(
        account, data, ConnectionRequest.INVITE, current_app.config["CONNECT_EXPIRES_AFTER"]
    )
    if connection_request is None:
        return render_template("connect/request.html", account=account, form=form)
    flash(
        f"Request sent to {connection_request.client_name} ({connection_request.client_email})."
        " You will get an email the moment the account is connected.",
        "success",
    )
    return redirect(url_for("accounts.show", account_id=account.id))


@bp.post("/requests/<public_id>/cancel")
@login_required
def cancel(account_id: int, public_id: str):
    """Withdraw an open request: the seller's link stops working."""
    account = get_own_account(account_id)
    connection_request = db.session.scalar(
        db.select(ConnectionRequest).filter_by(public_id=public_id, account_id=account.id)
    )
    if connection_request is None:
        abort(404)
    if not connection_request.is_open:
        flash("That request is already closed.", "info")
        return redirect(url_for("accounts.show", account_id=account.id))

    async def signal(client):
        handle = client.get_workflow_handle(connection_request.workflow_id)
        await handle.signal(
            ConnectionRequestWorkflow.cancel, CancelRequest(f"Withdrawn by {current_user.name}")
        )

    temporal.run(signal, START_TIMEOUT)
    flash("Request withdrawn. The link in the email no longer works.", "success")
    return redirect(url_for("accounts.show", account_id=account.id))
