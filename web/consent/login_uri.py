"""Amazon's OAuth Log-in URI: renewals and authorizations a seller starts at Amazon (Seller
Central's Manage Your Apps, the Appstore). Amazon opens it with `amazon_callback_uri`,
`amazon_state` and `selling_partner_id`; a seller connected here gets a page naming the business
and the firm, whose button continues at Amazon with a fresh state bound to this browser, and the
callback renews that connection. Anyone else is told to ask their bookkeeper for an invitation,
and nothing is stored (amazon-sp-api.md, section 8)."""

from flask import Blueprint, abort, current_app, render_template, request

from core import amazon, marketplaces
from core.accounts import AmazonConnection
from core.extensions import db, limiter
from web.consent import flow
from web.consent.views import SELLING_PARTNER_ID

bp = Blueprint("amazon_login", __name__)

# The parameters Amazon sends to the Log-in URI, carried through the page's form.
PARAMS = ("amazon_callback_uri", "amazon_state", "selling_partner_id")
MAX_LENGTH = 2048


def _limit() -> str:
    return current_app.config["LIMIT_SELLER_LINK"]


def _params(values) -> dict[str, str] | None:
    """Amazon's three parameters, or None when one is missing or malformed (not Amazon)."""
    params = {name: values.get(name, "") for name in PARAMS}
    if not all(params.values()) or any(len(v) > MAX_LENGTH for v in params.values()):
        return None
    if not SELLING_PARTNER_ID.fullmatch(params["selling_partner_id"]):
        return None
    if not amazon.is_consent_page(current_app.config, params["amazon_callback_uri"]):
        return None
    return params


def _not_from_amazon():
    return render_template("consent/login_uri_invalid.html"), 400


def _connections(selling_partner_id: str) -> list[AmazonConnection]:
    return list(
        db.session.scalars(
            db.select(AmazonConnection)
            .filter_by(selling_partner_id=selling_partner_id)
            .order_by(AmazonConnection.id)
        )
    )


@bp.get("/amazon/login")
@limiter.limit(_limit)
def login():
    """Where Amazon sends a seller who renews or authorizes the app at Amazon: says what it is
    for; changes nothing."""
    params = _params(request.args)
    if params is None:
        return _not_from_amazon()
    found = _connections(params["selling_partner_id"])
    if not found:
        return render_template("consent/login_uri_unknown.html")
    return render_template(
        "consent/login_uri.html", connections=found, params=params, marketplaces=marketplaces
    )


@bp.post("/amazon/login")
@limiter.limit(_limit)
def continue_at_amazon():
    """The seller pressed Continue: back to Amazon's consent with a state bound to this browser
    and naming the connection. Nothing else is stored until Amazon sends the seller back."""
    params = _params(request.form)
    if params is None:
        return _not_from_amazon()
    connection = db.session.get(AmazonConnection, request.form.get("connection", type=int) or 0)
    if connection is None or connection.selling_partner_id != params["selling_partner_id"]:
        abort(404)
    return flow.begin_at_amazon(connection, params["amazon_callback_uri"], params["amazon_state"])
