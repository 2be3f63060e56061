"""Seller Central's Manage Your Apps: the seller's authorized apps, each with Re-authorize
(Amazon's Log-in URI flow: the app's Log-in URI first, then consent) and Remove."""

import secrets
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, current_app, redirect, render_template, session, url_for

from .consent import csrf_ok, csrf_token, session_expired, sign_in_page, signed_in_seller
from .store import get_store

bp = Blueprint("apps", __name__)

# amazon_state values this browser was given by Re-authorize, single-use (consent.decide).
AMAZON_STATES = "amazon_states"  # read by consent.parse_consent


@bp.get("/apps/manage")
def manage() -> Any:
    seller = signed_in_seller()
    if seller is None:
        return sign_in_page({})
    authorized = get_store().authorized_since(seller.email)
    return render_template(
        "consent/manage_apps.html",
        seller=seller,
        app_name=current_app.config["SANDBOX_APP_NAME"],
        authorized=authorized,
        csrf_token=csrf_token(),
    )


@bp.post("/apps/manage/reauthorize")
def reauthorize() -> Any:
    """Start the Log-in URI flow: the app's registered Log-in URI, with where to come back
    (this consent page), an amazon_state bound to this browser and the seller's id."""
    if not csrf_ok():
        return session_expired()
    seller = signed_in_seller()
    if seller is None:
        return sign_in_page({})
    config = current_app.config
    amazon_state = secrets.token_urlsafe(24)
    session[AMAZON_STATES] = [*session.get(AMAZON_STATES, [])[-4:], amazon_state]
    query = {
        "amazon_callback_uri": url_for("consent.consent", _external=True),
        "amazon_state": amazon_state,
        "selling_partner_id": seller.selling_partner_id,
    }
    if config["SANDBOX_APP_DRAFT"]:
        query["version"] = "beta"
    return redirect(f"{config['SANDBOX_LOGIN_URI']}?{urlencode(query)}", code=302)


@bp.post("/apps/manage/remove")
def remove() -> Any:
    """Remove the app: every token of this seller stops working (the app finds it revoked)."""
    if not csrf_ok():
        return session_expired()
    seller = signed_in_seller()
    if seller is None:
        return sign_in_page({})
    get_store().revoke(seller.email)
    return redirect(url_for("apps.manage"), code=303)
