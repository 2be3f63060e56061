"""The bookkeeper's connect flow: marketplace, path, request with preview, direct consent."""

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from wtforms.fields.choices import SelectChoice

from web import limits, marketplaces
from web.accounts.access import account_for, membership_for
from web.accounts.models import AmazonConnection
from web.auth.models import utcnow
from web.connect import emails, lifecycle
from web.connect.forms import ConnectRequestForm, MarketplaceForm
from web.connect.models import ConnectionRequest
from web.consent import flow
from web.extensions import db
from workflows.connection_request import SellerProgress

bp = Blueprint("connect", __name__, url_prefix="/accounts/<int:account_id>/connect")


def create_request(account, form_data: dict, kind: str) -> ConnectionRequest | None:
    """Write the request and start its workflow, or write nothing and say why.

    Raises lifecycle.AlreadyOpen when Temporal already runs a request for this marketplace, and
    limits.OverLimit when an invitation would pass the sender's or the account's limits.
    """
    if kind == ConnectionRequest.INVITE:
        limits.spend_seller_email(account)
    connection_request = ConnectionRequest(
        account=account,
        requested_by=current_user._get_current_object(),
        kind=kind,
        status=(
            ConnectionRequest.SENT
            if kind == ConnectionRequest.INVITE
            else ConnectionRequest.CONSENT_STARTED
        ),
        **form_data,
    )
    db.session.add(connection_request)
    db.session.flush()
    try:
        lifecycle.start(connection_request)
    except lifecycle.AlreadyOpen:
        db.session.rollback()
        raise
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


def _already_open(account, existing: ConnectionRequest | None, marketplace: str):
    """A request for this marketplace is open: offer to resend it instead of a second one."""
    existing = existing or lifecycle.open_request_for(account.id, marketplace)
    if existing is None:  # Temporal knew of one the database did not: it is closing right now
        flash("A request for this marketplace is just finishing. Try again in a moment.", "info")
        return redirect(url_for("accounts.show", account_id=account.id))
    return render_template("connect/already_open.html", account=account, existing=existing), 409


def _takeover(account_id: int, country: str) -> tuple[ConnectionRequest | None, list[str]]:
    """The marketplace's open request, and what connecting directly would take over from
    someone: its connection, or another's open request (admins only, once confirmed)."""
    existing = lifecycle.open_request_for(account_id, country)
    replaces = []
    connection = db.session.scalar(
        db.select(AmazonConnection).filter_by(account_id=account_id, marketplace=country)
    )
    if connection is not None:
        replaces.append(
            f"This replaces the connection to seller {connection.selling_partner_id} made on"
            f" {connection.connected_at:%d %B %Y}."
        )
    own = (
        existing is not None
        and existing.kind == ConnectionRequest.DIRECT
        and existing.requested_by_id == current_user.id
    )
    if existing is not None and not own:
        who = existing.requested_by.name
        when = f"{existing.created_at:%d %B %Y}"
        replaces.append(
            f"This finishes the direct connection {who} started on {when}."
            if existing.kind == ConnectionRequest.DIRECT
            else f"This finishes {who}'s open request to {existing.client_name}"
            f" ({existing.client_email}), sent on {when}."
        )
    return existing, replaces


@bp.route("/", methods=["GET", "POST"])
@login_required
def choose_marketplace(account_id: int):
    """Step 1: pick the marketplace and press 'Continue with Amazon'."""
    account = account_for(account_id)
    form = MarketplaceForm(data={"marketplace": request.args.get("marketplace", "US")})
    # Say in the list which marketplaces are already connected or waiting for their seller.
    covered = {c.marketplace: "connected" for c in account.connections}
    for open_request in db.session.scalars(
        db.select(ConnectionRequest).filter(
            ConnectionRequest.account_id == account.id,
            ConnectionRequest.status.in_(ConnectionRequest.OPEN_STATUSES),
        )
    ):
        covered.setdefault(open_request.marketplace, "request pending")
    form.marketplace.choices = [
        SelectChoice(
            m.country,
            f"{m.label} — {covered[m.country]}" if m.country in covered else m.label,
            optgroup=region.name,
        )
        for region, members in marketplaces.grouped()
        for m in members
    ]
    if form.validate_on_submit():
        return redirect(
            url_for(".choose_path", account_id=account.id, marketplace=form.marketplace.data)
        )
    return render_template("connect/marketplace.html", account=account, form=form)


@bp.get("/path")
@login_required
def choose_path(account_id: int):
    """Step 2: connect now (you own the seller account) or request access from the owner."""
    membership = membership_for(account_id)
    account = membership.account
    country = request.args.get("marketplace", "")
    if country not in marketplaces.BY_COUNTRY:
        flash("Choose one of Amazon's marketplaces from the list.", "error")
        return redirect(url_for(".choose_marketplace", account_id=account.id))
    return render_template(
        "connect/path.html",
        account=account,
        is_admin=membership.is_admin,
        marketplace=marketplaces.get(country),
        form=MarketplaceForm(data={"marketplace": country}),
        replaces=_takeover(account.id, country)[1],
    )


@bp.post("/direct")
@login_required
@limits.counts_as_send
def direct(account_id: int):
    """'I own this seller account': the same consent flow in this browser, no emails."""
    membership = membership_for(account_id)
    account = membership.account
    form = MarketplaceForm()
    if not form.validate_on_submit():
        flash("Choose one of Amazon's marketplaces from the list.", "error")
        return redirect(url_for(".choose_marketplace", account_id=account.id))
    country = form.marketplace.data
    existing, replaces = _takeover(account.id, country)
    if replaces and not membership.is_admin:
        # A member's seller account must not displace what an admin set up or asked for.
        admins = ", ".join(m.user.name for m in account.admins())
        abort(
            403,
            f"{' '.join(replaces)} Only the account's admins can replace a connection or finish"
            f" someone else's request: ask {admins}.",
        )
    if replaces and request.form.get("confirm") != "yes":
        return render_template(
            "connect/confirm_direct.html",
            account=account,
            marketplace=marketplaces.get(country),
            form=form,
            replaces=replaces,
        )
    if existing is not None:
        # One open request per marketplace: the owner finishes the open one themselves.
        progress = SellerProgress(f"{current_user.name} (connecting directly)")
        lifecycle.signal(existing, "consent_started", progress, best_effort=True)
        return flow.begin(existing, None)
    data = {
        "marketplace": country,
        "client_name": current_user.name,
        "client_email": current_user.email,
    }
    try:
        connection_request = create_request(account, data, ConnectionRequest.DIRECT)
    except lifecycle.AlreadyOpen:
        return _already_open(account, None, country)
    if connection_request is None:
        return redirect(url_for(".choose_path", account_id=account.id, marketplace=country))
    return flow.begin(connection_request, None)


@bp.route("/request", methods=["GET", "POST"])
@login_required
def request_access(account_id: int):
    """Ask the seller account's owner to connect: fill in, preview the email, send."""
    account = account_for(account_id, admin=True)
    form = ConnectRequestForm(data={"marketplace": request.args.get("marketplace", "US")})
    if not form.validate_on_submit():
        return render_template("connect/request.html", account=account, form=form)
    data = {
        "marketplace": form.marketplace.data,
        "client_name": form.client_name.data,
        "client_email": form.client_email.data,
        "note": form.note.data or "",
    }
    existing = lifecycle.open_request_for(account.id, data["marketplace"])
    if existing is not None:
        return _already_open(account, existing, data["marketplace"])
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
    try:
        connection_request = create_request(account, data, ConnectionRequest.INVITE)
    except lifecycle.AlreadyOpen:
        return _already_open(account, None, data["marketplace"])
    except limits.OverLimit as over:
        flash(f"Not sent: {over.text}", "error")
        page = render_template("connect/request.html", account=account, form=form)
        return page, 429, {"Retry-After": str(over.retry_after)}
    if connection_request is None:
        return render_template("connect/request.html", account=account, form=form)
    flash(
        f"Request sent to {connection_request.client_name} ({connection_request.client_email})."
        " You will get an email the moment the account is connected.",
        "success",
    )
    return redirect(
        url_for("requests.show", account_id=account.id, public_id=connection_request.public_id)
    )
