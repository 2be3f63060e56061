"""The seller's side: the emailed link's landing page, Amazon's redirect back, the outcome."""

import hmac
import re

from flask import (
    Blueprint,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from core import marketplaces
from core.accounts import AmazonConnection
from core.clock import utcnow
from core.crypto import digest, encrypt
from core.extensions import db, limiter
from core.requests import Authorization, ConnectionLink, ConnectionRequest, OAuthState
from services import reconcile, requests
from vocabulary.statuses import Outcome, RequestState
from web.consent import flow
from web.limits import per_link
from workflows.connection_request import ConnectionRequestWorkflow

bp = Blueprint("consent", __name__)

# While the workflow has not answered, the "finishing" page re-checks this often (seconds).
REFRESH_SECONDS = 3
# Amazon's merchant ids (selling_partner_id) are 10 to 20 upper-case letters and digits.
SELLING_PARTNER_ID = re.compile(r"[A-Z0-9]{10,20}")


def _link(token: str) -> ConnectionLink | None:
    return db.session.scalar(db.select(ConnectionLink).filter_by(token_hash=digest(token)))


def _closed_page(link: ConnectionLink | None, token: str):
    """Why this link no longer leads to Amazon, or None while it still does."""
    if link is None:
        return render_template("consent/link_closed.html", reason="unknown"), 404
    connection_request = link.request
    if link.superseded_at is None:
        reconcile.check(connection_request)  # ops may have ended its workflow in Temporal
    if not connection_request.is_open:
        if link.superseded_at is None and _next_in_group(connection_request) is not None:
            return None  # its region is done; the link leads on to the group's next
        reason = connection_request.status
    elif link.superseded_at is not None:
        reason = "replaced"
    else:
        return None
    return render_template(
        "consent/link_closed.html",
        reason=reason,
        connection_request=connection_request,
        marketplace=marketplaces.get(connection_request.marketplace),
        token=token,
    ), 410


def _next_in_group(connection_request: ConnectionRequest) -> ConnectionRequest | None:
    """The first open request of its group (itself, if open and first)."""
    return next((m for m in connection_request.group() if m.is_open), None)


def _target(link: ConnectionLink, public_id: str = "") -> ConnectionRequest | None:
    """The request a press on `link` is for: the group's open one it names, or its own while
    open, or the group's next open one."""
    group = link.request.group()
    if public_id:
        return next((m for m in group if m.public_id == public_id and m.is_open), None)
    return link.request if link.request.is_open else _next_in_group(link.request)


def checklist(connection_request: ConnectionRequest) -> list[tuple]:
    """A group's regions for the seller's pages: (request, marketplace), in the order asked;
    empty for a request alone."""
    group = connection_request.group()
    if len(group) < 2:
        return []
    return [(m, marketplaces.get(m.marketplace)) for m in group]


@bp.get("/connect/<token>")
def landing(token: str):
    """The 'Continue to connect' link: says who asks for what; changes nothing (scanner-safe).
    For requests sent together, a checklist of their regions, the next one to connect first."""
    link = _link(token)
    closed = _closed_page(link, token)
    if closed is not None:
        return closed
    target = _target(link)
    return render_template(
        "consent/landing.html",
        connection_request=target,
        marketplace=marketplaces.get(target.marketplace),
        connected_seller=_connected_seller(target),
        checklist=checklist(target),
        token=token,
    )


def _connected_seller(connection_request) -> str:
    """The seller id connected in the request's marketplace already: a reconnect must be it."""
    connected = AmazonConnection.of(connection_request.account_id, connection_request.marketplace)
    return connected.selling_partner_id if connected else ""


def _seller_link_limit() -> str:
    return current_app.config["LIMIT_SELLER_LINK"]


@bp.post("/connect/<token>/opened")
@limiter.limit(_seller_link_limit, key_func=per_link)
def opened(token: str):
    """The landing page was shown in a real browser (its script calls this; scanners don't)."""
    link = _link(token)
    if link is not None and _closed_page(link, token) is None and _first_opening(link):
        requests.seller_progress(
            link.request, ConnectionRequestWorkflow.seller_opened, link.request.client_name
        )
    return "", 204


def _first_opening(link: ConnectionLink) -> bool:
    """Mark the link opened; True only the first time (atomic: two tabs at once signal once).
    Every signal adds to the workflow's history, which Temporal limits in size."""
    claimed = db.session.execute(
        db.update(ConnectionLink)
        .where(ConnectionLink.id == link.id, ConnectionLink.opened_at.is_(None))
        .values(opened_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return claimed == 1


@bp.post("/connect/<token>")
@limiter.limit(_seller_link_limit, key_func=per_link)
def go_to_amazon(token: str):
    """The seller pressed the button: off to Amazon's consent page; reminders pause."""
    link = _link(token)
    closed = _closed_page(link, token)
    if closed is not None:
        return closed
    target = _target(link, request.form.get("request", ""))
    if target is None:  # a region of the group closed meanwhile: the page says what is left
        return redirect(url_for(".landing", token=token), 303)
    again = flow.resume(target, link)
    if again is not None:
        return again  # the same trip to Amazon, pressed again: the workflow knows already
    requests.seller_progress(target, ConnectionRequestWorkflow.consent_started, target.client_name)
    return flow.begin(target, link)


def _ask_limit() -> str:
    return current_app.config["LIMIT_ASK_NEW_LINK"]


def _per_request() -> str:
    """Every link of one request shares a budget, so many old links do not multiply it."""
    link = _link(request.view_args["token"])
    return f"request:{link.request_id}" if link is not None else per_link()


@bp.post("/connect/<token>/latest")
@limiter.limit(_ask_limit, key_func=per_link)
@limiter.limit(_ask_limit, key_func=_per_request)
def send_latest_link(token: str):
    """On a replaced or withdrawn link: email the live link to the address it goes to now. The
    page says the same whether or not anything was sent, and never shows a link."""
    link = _link(token)
    if link is None:
        abort(404)
    requests.send_latest_link(link)
    return render_template("consent/asked.html", connection_request=link.request, latest=True)


@bp.post("/connect/<token>/ask")
@limiter.limit(_ask_limit)
def ask_for_new_link(token: str):
    """On an expired link: tell the bookkeeper the seller wants a new one (once a day)."""
    link = _link(token)
    if link is None or link.request.status not in (
        RequestState.EXPIRED,
        RequestState.FAILED,
    ):
        abort(404)
    result = requests.ask_for_new_link(link.request)
    return render_template(
        "consent/asked.html",
        connection_request=link.request,
        notified=result.notified,
    )


def _problem(title: str, message: str, status: int = 400):
    return render_template("consent/problem.html", title=title, message=message), status


@bp.get("/amazon/callback")
def callback():
    """Amazon's redirect after the seller confirmed: check state, hand over, show the outcome."""
    state = request.args.get("state", "")
    code = request.args.get("spapi_oauth_code", "")
    seller_id = request.args.get("selling_partner_id", "")
    if not state or not code or not seller_id or len(code) > 512 or len(seller_id) > 64:
        return _problem(
            "Amazon did not send the authorization",
            "The link back from Amazon was incomplete. Please start again from your email or the"
            " account page.",
        )
    if not SELLING_PARTNER_ID.fullmatch(seller_id):
        # Stored, shown and emailed: anything but Amazon's shape is refused before it is kept.
        return _problem(
            "Amazon's answer did not look right",
            "The seller id in the link back from Amazon is not one Amazon issues, so nothing was"
            " connected. Please start again from your email or the account page.",
        )
    oauth_state = db.session.scalar(db.select(OAuthState).filter_by(state_hash=digest(state)))
    if oauth_state is not None and oauth_state.used_at is not None:
        # A double-submitted or replayed redirect: this browser sees the first one's outcome.
        earlier = db.session.scalar(
            db.select(Authorization).filter_by(public_id=session.get("authorization", ""))
        )
        if earlier is not None and earlier.request_id == oauth_state.request_id:
            return redirect(url_for(".authorization_status", public_id=earlier.public_id))
        return _problem(
            "This sign-in was already used",
            "Each trip to Amazon can be used once. Open the link from your email again to start"
            " over.",
        )
    expected = session.get(flow.SESSION_KEY, "")
    if oauth_state is None or not hmac.compare_digest(expected, digest(state)):
        return _problem(
            "This sign-in did not start in this browser",
            "For your security, finish connecting in the same browser where you pressed"
            " 'Continue to Amazon'. Open the link from your email again to start over.",
        )
    now = utcnow()
    if oauth_state.created_at < now - flow.STATE_LIFETIME:
        return _problem(
            "This sign-in took too long",
            "Open the link from your email again and sign in to Amazon once more.",
        )
    connection_request = oauth_state.request
    if oauth_state.connection_id is not None:
        renewing = _renewal_begun_at_amazon(oauth_state, seller_id)
        if not isinstance(renewing, ConnectionRequest):
            return renewing  # a problem page: nothing stored
        connection_request = renewing
    if not connection_request.is_open:
        return _problem(
            "This request is closed",
            "It was completed, withdrawn or has expired. Ask your bookkeeper for a new link.",
            410,
        )
    if oauth_state.link is not None and oauth_state.link.superseded_at is not None:
        # Sent again (maybe to someone else) while this consent was under way: nothing is kept.
        who = connection_request.requested_by
        return _problem(
            "This request was sent again",
            f"{who.name} ({who.firm_name}) sent this request again after you started, so the"
            " link you used no longer works and nothing was connected. If the new email came"
            " to you, use the link in it.",
            410,
        )
    # Atomic, so two racing submissions of one redirect cannot both pass.
    claimed = db.session.execute(
        db.update(OAuthState)
        .where(OAuthState.id == oauth_state.id, OAuthState.used_at.is_(None))
        .values(used_at=now)
    ).rowcount
    if claimed != 1:
        db.session.rollback()
        return _problem("This sign-in was already used", "Open the link from your email again.")
    authorization = Authorization(
        request=connection_request,
        link_id=oauth_state.link_id,
        selling_partner_id=seller_id,
        code_encrypted=encrypt(current_app.config["TOKEN_ENCRYPTION_KEY"], code),
    )
    db.session.add(authorization)
    db.session.commit()
    current_app.logger.info(
        "authorization %s received for request %s (seller %s)",
        authorization.id,
        connection_request.id,
        seller_id,
    )
    flow.forget_state()
    session["authorization"] = authorization.public_id
    return _outcome(authorization, current_app.config["CALLBACK_WAIT_SECONDS"])


def _renewal_begun_at_amazon(oauth_state: OAuthState, seller_id: str):
    """The request a renewal begun at Amazon (the Log-in URI) completes, made now that Amazon
    sent back the connection's seller: the marketplace's open request, or a new renewal request
    that emails nobody. Otherwise a problem page, and nothing is stored."""
    connection = db.session.get(AmazonConnection, oauth_state.connection_id or 0)
    if connection is None:
        return _problem(
            "This connection was disconnected",
            "Nothing to renew: ask your bookkeeper for a new invitation.",
            410,
        )
    if connection.selling_partner_id != seller_id:
        return _problem(
            "That is not the seller account connected before",
            f"You signed in at Amazon as seller {seller_id}, but {connection.account.name} is"
            f" connected to seller {connection.selling_partner_id}. Nothing was changed: start"
            " again from Manage Your Apps, signed in with that seller account.",
            409,
        )
    try:
        return requests.renew_at_amazon(connection.id)
    except requests.Unavailable:
        return _problem(
            "Please try again in a minute",
            "We could not start the renewal just now, and nothing was changed. Go back to"
            " Amazon and press Re-authorize again in a minute.",
            503,
        )


@bp.get("/amazon/authorizations/<public_id>")
def authorization_status(public_id: str):
    """The outcome of one return from Amazon; re-checks by itself until there is one."""
    authorization = _this_browsers_authorization(public_id)
    return _outcome(authorization, timeout=2.0)


def _this_browsers_authorization(public_id: str) -> Authorization:
    """Only the browser that came back from Amazon may see or retry its outcome."""
    if not hmac.compare_digest(session.get("authorization", ""), public_id):
        abort(404)
    authorization = db.session.scalar(db.select(Authorization).filter_by(public_id=public_id))
    if authorization is None:
        abort(404)
    return authorization


def _outcome(authorization: Authorization, timeout: float):
    if authorization.outcome == Outcome.PENDING:
        outcome = flow.deliver(authorization, timeout)
        if outcome is None:
            return render_template(
                "consent/finishing.html",
                connection_request=authorization.request,
                marketplace=marketplaces.get(authorization.request.marketplace),
                refresh_url=url_for(".authorization_status", public_id=authorization.public_id),
                refresh_seconds=REFRESH_SECONDS,
            ), 202
        db.session.refresh(authorization)
        outcome_name, message = outcome.outcome, outcome.message
    else:
        outcome_name, message = authorization.outcome, authorization.outcome_message
    connection_request = authorization.request
    status = 200 if outcome_name == Outcome.CONNECTED else 409
    return render_template(
        "consent/outcome.html",
        outcome=outcome_name,
        message=message,
        connection_request=connection_request,
        marketplace=marketplaces.get(connection_request.marketplace),
        authorization=authorization,
        sells_in=[marketplaces.get(c) for c in authorization.sells_in_countries],
        connected_seller=_connected_seller(connection_request),
        link_again=connection_request.is_open,
        checklist=checklist(connection_request),
        next_region=_next_in_group(connection_request) if checklist(connection_request) else None,
    ), status


@bp.post("/amazon/authorizations/<public_id>/next")
def next_region(public_id: str):
    """From a region's outcome page: on to Amazon for the group's next open region, from the
    same emailed link (which must still be live)."""
    authorization = _this_browsers_authorization(public_id)
    target = _next_in_group(authorization.request)
    if target is None or authorization.link is None or authorization.link_replaced:
        return redirect(url_for(".authorization_status", public_id=public_id), 303)
    requests.seller_progress(target, ConnectionRequestWorkflow.consent_started, target.client_name)
    return flow.begin(target, authorization.link)


@bp.post("/amazon/authorizations/<public_id>/retry")
def retry(public_id: str):
    """After a wrong account or an expired code: back to Amazon for the same request."""
    authorization = _this_browsers_authorization(public_id)
    connection_request = authorization.request
    if not connection_request.is_open or authorization.link_replaced:
        return render_template(
            "consent/link_closed.html",
            reason=connection_request.status if not connection_request.is_open else "replaced",
            connection_request=connection_request,
            marketplace=marketplaces.get(connection_request.marketplace),
            token=None,
        ), 410
    # The wrong account is still signed in at Amazon: through Amazon's sign-out, or the seller
    # lands in the same session and confirms with the same account again.
    wrong = authorization.outcome in (Outcome.WRONG_ACCOUNT, Outcome.OTHER_SELLER)
    return flow.begin(connection_request, authorization.link, sign_out_first=wrong)
