"""The bookkeeper's connect flow: marketplace, path, request with preview, direct consent."""

from datetime import timedelta

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms.fields.choices import SelectChoice

from core import marketplaces
from core import request_emails as emails
from core.accounts import AmazonConnection, ClientAccount
from core.clock import utcnow
from core.extensions import db
from core.requests import ConnectionRequest, RequestDraft
from services import requests
from services.limits import OverLimit
from vocabulary.statuses import LIVE_CONNECTION, OPEN_REQUEST_STATES
from web import limits
from web.accounts.access import account_for, membership_for
from web.connect.forms import ConnectRequestForm, MarketplaceForm
from web.consent import flow
from workflows.connection_request import ConnectionRequestWorkflow

bp = Blueprint("connect", __name__, url_prefix="/accounts/<int:account_id>/connect")


def create_request(
    account, form_data: dict, kind: str, also: list[str] | None = None
) -> ConnectionRequest | None:
    """Start the request (services.requests.start), or say on the next page why nothing was
    sent. Raises AlreadyOpen and limits.OverLimit for the caller's own page."""
    try:
        return requests.start(account.id, current_user.id, kind, form_data, also or [])
    except requests.AlreadyCovered as covered:
        flash(covered.message, "info")
        return None
    except requests.Unavailable:
        flash(
            "The request could not be started just now; nothing was sent. Please try again in a"
            " minute.",
            "error",
        )
        return None


def _already_open(account, existing: ConnectionRequest | None, marketplace: str):
    """A request for this marketplace is open: offer to resend it instead of a second one."""
    existing = existing or requests.open_request_for(account.id, marketplace)
    if existing is None:  # Temporal knew of one the database did not: it is closing right now
        flash("A request for this marketplace is just finishing. Try again in a moment.", "info")
        return redirect(url_for("accounts.show", account_id=account.id))
    return render_template("connect/already_open.html", account=account, existing=existing), 409


def _takeover(account_id: int, country: str) -> tuple[ConnectionRequest | None, list[str]]:
    """The marketplace's open request, and what connecting directly would take over from
    someone: its connection, or another's open request (admins only, once confirmed)."""
    existing = requests.open_request_for(account_id, country)
    replaces = []
    connection = AmazonConnection.of(account_id, country)
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
    for c in account.connections:
        for country in c.covered if c.status in LIVE_CONNECTION else []:
            covered.setdefault(country, f"covered by the {c.marketplace} connection")
    for open_request in db.session.scalars(
        db.select(ConnectionRequest).filter(
            ConnectionRequest.account_id == account.id,
            ConnectionRequest.status.in_(OPEN_REQUEST_STATES),
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
    covering = AmazonConnection.covering(account.id, country)
    if covering is not None:
        flash(requests.covered_message(covering, country), "info")
        return redirect(url_for("accounts.show", account_id=account.id))
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
        requests.seller_progress(
            existing,
            ConnectionRequestWorkflow.consent_started,
            f"{current_user.name} (connecting directly)",
        )
        return flow.begin(existing, None)
    data = {
        "marketplace": country,
        "client_name": current_user.name,
        "client_email": current_user.email,
    }
    try:
        connection_request = create_request(account, data, ConnectionRequest.DIRECT)
    except requests.AlreadyOpen:
        return _already_open(account, None, country)
    if connection_request is None:
        return redirect(url_for(".choose_path", account_id=account.id, marketplace=country))
    return flow.begin(connection_request, None)


# The id of the request being previewed (a RequestDraft), between the form's POST and Send.
DRAFT_KEY = "connect_draft"


def _draft_for(account_id: int) -> RequestDraft | None:
    """This browser's draft for this account, sent (draft.request) or not."""
    public_id = session.get(DRAFT_KEY)
    if not public_id:
        return None
    return db.session.scalar(
        db.select(RequestDraft).filter_by(
            public_id=public_id, user_id=current_user.id, account_id=account_id
        )
    )


def _previewed(account_id: int) -> tuple[ClientAccount, RequestDraft | None]:
    """The account (for its admins only) and this browser's draft for it, if any."""
    account = account_for(account_id, admin=True)
    return account, _draft_for(account.id)


def store_draft(account_id: int, data: dict) -> RequestDraft:
    """Keep the request to preview (RequestDraft.FIELDS) for this browser; drafts of the same
    user older than RequestDraft.KEPT_FOR_DAYS go."""
    stale = utcnow() - timedelta(days=RequestDraft.KEPT_FOR_DAYS)
    db.session.execute(
        db.delete(RequestDraft).where(
            RequestDraft.user_id == current_user.id, RequestDraft.created_at < stale
        )
    )
    draft = RequestDraft(user_id=current_user.id, account_id=account_id, **data)
    db.session.add(draft)
    db.session.commit()
    session[DRAFT_KEY] = draft.public_id
    return draft


def _seller_email(account, draft: RequestDraft) -> emails.Email:
    """The seller's email exactly as Send will compose it, with the placeholder link."""
    # A transient request, never added to the database session: it only renders the email.
    request_row = ConnectionRequest(
        account=account,
        requested_by=current_user._get_current_object(),
        **draft.fields,
    )
    expires_at = utcnow() + current_app.config["CONNECT_EXPIRES_AFTER"]
    return emails.seller_invitation(
        request_row,
        emails.PREVIEW_LINK,
        expires_at,
        regions=[draft.marketplace, *draft.also_marketplaces],
    )


def _preview_page(account, draft: RequestDraft) -> str:
    email = _seller_email(account, draft)
    # The headers as the mail goes out: read from the message Send builds, not restated here.
    message = email.message("preview")
    return render_template(
        "connect/preview.html",
        account=account,
        draft=draft,
        sent=draft.request,
        email=email,
        sender=str(message.from_address),
        reply_to=message.reply_to,
        to_self=draft.client_email.casefold() == current_user.email.casefold(),
        marketplace=marketplaces.get(draft.marketplace),
        form=FlaskForm(),
    )


def _sent_flash(connection_request: ConnectionRequest) -> None:
    flash(
        f"Request sent to {connection_request.client_name} ({connection_request.client_email})."
        " You will get an email the moment the account is connected.",
        "success",
    )


@bp.route("/request", methods=["GET", "POST"])
@login_required
def request_access(account_id: int):
    """Ask the seller account's owner to connect: fill in, then preview the email."""
    account = account_for(account_id, admin=True)
    draft = _draft_for(account.id)
    if request.method == "GET" and request.args.get("edit") and draft:
        also = [*draft.also_marketplaces, "", ""]
        form = ConnectRequestForm(data={**draft.fields, "also_1": also[0], "also_2": also[1]})
    else:
        form = ConnectRequestForm(data={"marketplace": request.args.get("marketplace", "US")})
    if not form.validate_on_submit():
        return render_template("connect/request.html", account=account, form=form)
    data = {
        "marketplace": form.marketplace.data,
        "client_name": form.client_name.data,
        "client_email": form.client_email.data,
        "note": form.note.data or "",
    }
    existing = requests.open_request_for(account.id, data["marketplace"])
    if existing is not None:
        return _already_open(account, existing, data["marketplace"])
    # Said before the preview, not after Send: a covered marketplace, another region's open one.
    refused = False
    for field in (form.marketplace, form.also_1, form.also_2):
        covering = AmazonConnection.covering(account.id, field.data) if field.data else None
        if covering is not None:
            field.errors.append(requests.covered_message(covering, field.data))
            refused = True
        elif (
            field is not form.marketplace
            and field.data
            and requests.open_request_for(account.id, field.data) is not None
        ):
            field.errors.append(
                f"A request for {marketplaces.get(field.data).label} is open already: see"
                " the account's page."
            )
            refused = True
    if refused:
        return render_template("connect/request.html", account=account, form=form), 409
    store_draft(account.id, {**data, "also": form.also})
    return redirect(url_for(".preview", account_id=account.id), 303)


@bp.get("/request/preview")
@login_required
def preview(account_id: int):
    """The email the seller will get, as it will be sent, with Edit and Send."""
    account, draft = _previewed(account_id)
    if draft is None:
        flash("Fill in the request to see its email.", "info")
        return redirect(url_for(".request_access", account_id=account.id))
    # Not kept by the browser: Back after sending asks again, and is told it was sent.
    return _preview_page(account, draft), {"Cache-Control": "no-store"}


@bp.get("/request/preview/email")
@login_required
def preview_email(account_id: int):
    """The seller's HTML email alone, for the preview's sandboxed frame."""
    account, draft = _previewed(account_id)
    if draft is None:
        abort(404)
    response = make_response(_seller_email(account, draft).html)
    # Our own pages may frame it; inside, nothing runs, loads or navigates (emails carry inline
    # styles and, at most, data: images).
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox;"
        " frame-ancestors 'self'"
    )
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/request/send")
@login_required
def send_request(account_id: int):
    """'Send Request to Connect' on the preview: sends the draft once, then shows the request."""
    account = account_for(account_id, admin=True)
    form = FlaskForm()
    draft = _draft_for(account.id)
    posted = request.form.get("draft", "")
    if not form.validate_on_submit() or draft is None or draft.public_id != posted:
        flash("That preview is out of date: check the request and preview it again.", "error")
        return redirect(url_for(".request_access", account_id=account.id, edit=1), 303)
    sent = draft.request
    if sent is not None:
        flash(
            f"This request was already sent to {sent.client_name} ({sent.client_email}):"
            " nothing was sent again.",
            "info",
        )
        return redirect(
            url_for("requests.show", account_id=account.id, public_id=sent.public_id), 303
        )
    data = draft.fields
    existing = requests.open_request_for(account.id, data["marketplace"])
    if existing is not None:
        return _already_open(account, existing, data["marketplace"])
    try:
        connection_request = create_request(
            account, data, ConnectionRequest.INVITE, draft.also_marketplaces
        )
    except requests.AlreadyOpen:
        return _already_open(account, None, data["marketplace"])
    except OverLimit as over:
        flash(Markup("Not sent: ") + limits.said(over), "error")
        page = _preview_page(account, draft)
        return page, 429, {"Retry-After": str(over.retry_after), "Cache-Control": "no-store"}
    if connection_request is None:
        return redirect(url_for(".preview", account_id=account.id), 303)
    draft.request_id = connection_request.id
    db.session.commit()
    _sent_flash(connection_request)
    return redirect(
        url_for("requests.show", account_id=account.id, public_id=connection_request.public_id),
        303,
    )
