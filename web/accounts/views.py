"""Client accounts: the dashboard, a new one, one account's page, disconnecting Amazon."""

import hashlib
import json

from flask import (
    Blueprint,
    current_app,
    flash,
    has_request_context,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required
from markupsafe import Markup

from core import marketplaces
from core.accounts import AmazonConnection, ClientAccount, Membership
from core.extensions import db
from core.invitations import UserInvitation
from core.requests import ConnectionRequest
from services import accounts
from services.limits import OverLimit
from vocabulary.statuses import OPEN_REQUEST_STATES
from web import limits
from web.accounts.access import membership_for, row_of
from web.accounts.forms import AccountForm

bp = Blueprint("accounts", __name__)


def my_memberships() -> list[Membership]:
    return db.session.scalars(
        db.select(Membership)
        .join(ClientAccount)
        .filter(Membership.user_id == current_user.id)
        .order_by(ClientAccount.name)
    ).all()


@bp.app_context_processor
def account_switcher() -> dict:
    """Every page's header lists the user's accounts, so switching is one click."""
    if has_request_context() and current_user.is_authenticated:
        return {"my_accounts": [m.account for m in my_memberships()]}
    return {"my_accounts": []}


@bp.get("/")
@login_required
def index():
    """Every account the user belongs to, with its Amazon status."""
    memberships = my_memberships()
    # Every open request, each account's in marketplace order: one marketplace may be connected
    # while another waits for its seller, and the list shows both.
    open_requests: dict[int, list[ConnectionRequest]] = {}
    for r in db.session.scalars(
        db.select(ConnectionRequest)
        .filter(
            ConnectionRequest.account_id.in_([m.account_id for m in memberships]),
            ConnectionRequest.status.in_(OPEN_REQUEST_STATES),
        )
        .order_by(ConnectionRequest.marketplace)
    ):
        open_requests.setdefault(r.account_id, []).append(r)
    return render_template(
        "accounts/index.html", memberships=memberships, open_requests=open_requests
    )


@bp.route("/accounts/new", methods=["GET", "POST"])
@login_required
def new():
    """Add a client account; its creator is its admin."""
    form = AccountForm()
    if form.validate_on_submit():
        try:
            account = accounts.add_account(current_user.id, form.name.data)
        except OverLimit as over:
            flash(Markup("Not added: ") + limits.said(over), "error")
            page = render_template("accounts/new.html", form=form)
            return page, 429, {"Retry-After": str(over.retry_after)}
        flash(f"{account.name} added. Connect its Amazon account next.", "success")
        return redirect(url_for("accounts.show", account_id=account.id))
    return render_template("accounts/new.html", form=form)


@bp.get("/accounts/<int:account_id>")
@login_required
def show(account_id: int):
    """An account: its Amazon connections and its connection requests."""
    membership = membership_for(account_id)
    account = membership.account
    requests = db.session.scalars(
        db.select(ConnectionRequest)
        .filter_by(account_id=account.id)
        .order_by(ConnectionRequest.created_at.desc())
    ).all()
    return render_template(
        "accounts/show.html",
        account=account,
        membership=membership,
        requests=requests,
        marketplaces=marketplaces,
        lifetime=current_app.config["AMAZON_AUTHORIZATION_LIFETIME"],
    )


def live_state(account) -> dict:
    """What pages that keep themselves current watch: requests, invitations, connections."""
    requests = db.session.scalars(
        db.select(ConnectionRequest).filter_by(account_id=account.id)
    ).all()
    invitations = db.session.scalars(
        db.select(UserInvitation).filter_by(account_id=account.id)
    ).all()
    return {
        "requests": {r.public_id: r.status for r in requests},
        "invitations": {i.public_id: i.status for i in invitations},
        "connections": sorted(f"{c.marketplace}:{c.status}" for c in account.connections),
    }


@bp.app_template_global()
def live_version(account) -> str:
    """A digest of live_state: the page renders it, the script compares each poll with it, so
    a change between rendering and the first poll is shown too."""
    return _digest(live_state(account))


def _digest(state: dict) -> str:
    return hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()[:16]


@bp.get("/accounts/<int:account_id>/status")
@login_required
def status(account_id: int):
    """The account's requests, invitations and connections, for pages that keep current."""
    state = live_state(membership_for(account_id).account)
    return {**state, "version": _digest(state)}


@bp.route(
    "/accounts/<int:account_id>/connections/<int:connection_id>/disconnect",
    methods=["GET", "POST"],
)
@login_required
def disconnect(account_id: int, connection_id: int):
    """Forget a stored Amazon connection (and its token); the seller can revoke at Amazon too.
    GET asks first (what stops, who is not told, and a way back), without JavaScript."""
    connection = row_of(AmazonConnection, connection_id, account_id, admin=True)
    account = connection.account
    if request.method == "GET":
        return render_template(
            "accounts/confirm_disconnect.html",
            account=account,
            connection=connection,
            marketplace=marketplaces.get(connection.marketplace),
        )
    marketplace = connection.marketplace
    accounts.disconnect(connection.id, current_user.name)
    flash(
        f"Amazon {marketplace} disconnected; its token is deleted. We have told the owner how to"
        " remove the app at Amazon too (Seller Central, Manage Your Apps).",
        "success",
    )
    return redirect(url_for("accounts.show", account_id=account.id))
