"""Connection requests for the bookkeeper: the open list, one request's timeline, its actions."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from markupsafe import Markup

from core import marketplaces
from core.accounts import Membership
from core.extensions import db
from core.requests import ConnectionRequest
from services import reconcile, requests
from services.changes import Change
from services.limits import OverLimit
from vocabulary.statuses import OPEN_REQUEST_STATES
from web import limits
from web.accounts.access import account_for, membership_for
from web.connect import views as connect_views
from web.connect.forms import ChangeEmailForm
from web.requests import timeline

bp = Blueprint("requests", __name__)
bp.add_app_template_global(timeline.describe, "timeline_line")


def get_own_request(account_id: int, public_id: str, admin: bool = False) -> ConnectionRequest:
    """The request, if it belongs to an account of the signed-in user; 404 otherwise."""
    return _request_in(account_for(account_id, admin=admin).id, public_id)


def _request_in(account_id: int, public_id: str) -> ConnectionRequest:
    connection_request = db.session.scalar(
        db.select(ConnectionRequest).filter_by(public_id=public_id, account_id=account_id)
    )
    if connection_request is None:
        abort(404)
    return connection_request


@bp.get("/requests")
@login_required
def index():
    """Every open request across the bookkeeper's accounts, oldest first (or newest)."""
    newest = request.args.get("sort") == "newest"
    order = ConnectionRequest.created_at.desc() if newest else ConnectionRequest.created_at
    open_requests = db.session.scalars(
        db.select(ConnectionRequest)
        .join(Membership, Membership.account_id == ConnectionRequest.account_id)
        .filter(
            Membership.user_id == current_user.id,
            ConnectionRequest.status.in_(OPEN_REQUEST_STATES),
        )
        .order_by(order)
    ).all()
    return render_template("requests/index.html", requests=open_requests, newest=newest)


@bp.get("/accounts/<int:account_id>/requests/<public_id>")
@login_required
def show(account_id: int, public_id: str):
    """One request: where it stands, its timeline, and what can be done."""
    membership = membership_for(account_id)
    connection_request = _request_in(membership.account_id, public_id)
    reconcile.check(connection_request)  # ops may have ended its workflow in Temporal
    form = ChangeEmailForm(data={"client_email": connection_request.client_email})
    return _page(connection_request, membership.is_admin, form)


def _page(connection_request: ConnectionRequest, is_admin: bool, email_form: ChangeEmailForm):
    return render_template(
        "requests/show.html",
        connection_request=connection_request,
        account=connection_request.account,
        is_admin=is_admin,
        marketplace=marketplaces.get(connection_request.marketplace),
        email_form=email_form,
    )


def _said(connection_request: ConnectionRequest, change: Change):
    """The request's page again, with what became of the bookkeeper's change."""
    flash(change.message, change.level)
    return redirect(
        url_for(
            ".show",
            account_id=connection_request.account_id,
            public_id=connection_request.public_id,
        )
    )


def _over_limit(connection_request, over: OverLimit, form: ChangeEmailForm | None = None):
    """The request's page, with what was not sent and when it can be: status 429."""
    flash(Markup("Not sent: ") + limits.said(over), "error")
    form = form or ChangeEmailForm(data={"client_email": connection_request.client_email})
    page = _page(connection_request, True, form)
    return page, 429, {"Retry-After": str(over.retry_after)}


@bp.post("/accounts/<int:account_id>/requests/<public_id>/resend")
@login_required
def resend(account_id: int, public_id: str):
    """Email a fresh link now; the old one stops working at once."""
    connection_request = get_own_request(account_id, public_id, admin=True)
    try:
        change = requests.resend(connection_request.id, current_user.id)
    except OverLimit as over:
        return _over_limit(connection_request, over)
    return _said(connection_request, change)


@bp.post("/accounts/<int:account_id>/requests/<public_id>/email")
@login_required
def change_email(account_id: int, public_id: str):
    """Send the request to another address; the old address's link dies."""
    connection_request = get_own_request(account_id, public_id, admin=True)
    form = ChangeEmailForm()
    if not form.validate_on_submit():
        return _page(connection_request, True, form), 400
    try:
        change = requests.change_email(
            connection_request.id, current_user.id, form.client_email.data
        )
    except OverLimit as over:
        return _over_limit(connection_request, over, form)
    return _said(connection_request, change)


@bp.route("/accounts/<int:account_id>/requests/<public_id>/cancel", methods=["GET", "POST"])
@login_required
def cancel(account_id: int, public_id: str):
    """Withdraw an open request: the seller's link says it was withdrawn. GET asks first (what
    the seller will see, and a way back), without JavaScript."""
    connection_request = get_own_request(account_id, public_id, admin=True)
    if not connection_request.is_open:
        flash("That request is already closed.", "info")
        return redirect(url_for(".show", account_id=account_id, public_id=public_id))
    if request.method == "GET":
        return render_template(
            "requests/confirm_withdraw.html",
            connection_request=connection_request,
            account=connection_request.account,
            marketplace=marketplaces.get(connection_request.marketplace),
        )
    return _said(connection_request, requests.withdraw(connection_request.id, current_user.id))


@bp.get("/accounts/<int:account_id>/requests/<public_id>/renew")
@login_required
def renew(account_id: int, public_id: str):
    """From the 'expired' email: the same request again, ready to send with one click."""
    old = get_own_request(account_id, public_id, admin=True)
    account = old.account
    data = {
        "marketplace": old.marketplace,
        "client_name": old.client_name,
        "client_email": old.client_email,
        "note": old.note,
    }
    existing = requests.open_request_for(account.id, old.marketplace)
    if existing is not None:
        return render_template("connect/already_open.html", account=account, existing=existing)
    connect_views.store_draft(account.id, data)
    return redirect(url_for("connect.preview", account_id=account.id), 303)
