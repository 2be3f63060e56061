"""Client accounts: the list, a new one, and one account's page."""

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from web import marketplaces
from web.accounts.forms import AccountForm
from web.accounts.models import ClientAccount
from web.connect.models import ConnectionRequest
from web.extensions import db

bp = Blueprint("accounts", __name__)


def get_own_account(account_id: int) -> ClientAccount:
    """The account, if the signed-in user keeps its books; 404 otherwise (no hint it exists)."""
    account = db.session.get(ClientAccount, account_id)
    if account is None or account.owner_id != current_user.id:
        abort(404)
    return account


@bp.get("/")
@login_required
def index():
    """Every account the bookkeeper keeps."""
    accounts = db.session.scalars(
        db.select(ClientAccount).filter_by(owner_id=current_user.id).order_by(ClientAccount.name)
    ).all()
    return render_template("accounts/index.html", accounts=accounts)


@bp.route("/accounts/new", methods=["GET", "POST"])
@login_required
def new():
    """Add a client account."""
    form = AccountForm()
    if form.validate_on_submit():
        account = ClientAccount(name=form.name.data, owner_id=current_user.id)
        db.session.add(account)
        db.session.commit()
        flash(f"{account.name} added. Connect its Amazon account next.", "success")
        return redirect(url_for("accounts.show", account_id=account.id))
    return render_template("accounts/new.html", form=form)


@bp.get("/accounts/<int:account_id>")
@login_required
def show(account_id: int):
    """An account: its Amazon connections and its connection requests."""
    account = get_own_account(account_id)
    requests = db.session.scalars(
        db.select(ConnectionRequest)
        .filter_by(account_id=account.id)
        .order_by(ConnectionRequest.created_at.desc())
    ).all()
    return render_template(
        "accounts/show.html", account=account, requests=requests, marketplaces=marketplaces
    )
