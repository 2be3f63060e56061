"""Seller Central pages: sign-in, the consent page, and Amazon's redirect back to the app."""

import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from flask import (
    Blueprint,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from .sellers import SELLERS, Seller, find_seller
from .store import Authorization, get_store

bp = Blueprint("consent", __name__)

# The query parameters of a consent URL, carried through sign-in and the confirm form.
CONSENT_PARAMS = ("application_id", "state", "version", "redirect_uri", "amazon_state")


class ConsentError(Exception):
    """A mistake in the consent URL; Amazon shows it to the seller and never calls the app."""

    def __init__(self, code: str, title: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.title = title
        self.message = message


@dataclass(frozen=True)
class ConsentRequest:
    """A validated consent URL."""

    params: dict[str, str]  # as received, to carry through forms unchanged
    state: str
    redirect_uri: str  # the explicit one, or the app's first registered one


def parse_consent(values: Mapping[str, str]) -> ConsentRequest:
    """Validate consent parameters in Amazon's order; raise ConsentError for the first mistake."""
    config = current_app.config
    params = {k: values[k] for k in CONSENT_PARAMS if values.get(k)}
    application_id = params.get("application_id", "")
    if "amazon_state" in params:
        # The Log-in URI flow: Amazon gave this browser the amazon_state (Manage Your Apps), and
        # it names the app; the app's own state and redirect_uri come back with it.
        if params["amazon_state"] not in session.get("amazon_states", []):
            raise ConsentError(
                "MD9100",
                "Invalid amazon_state",
                "The amazon_state is unknown or was already used. Start again from Seller Central.",
            )
        application_id = config["SANDBOX_APP_ID"]
    if application_id == config["SANDBOX_CLIENT_ID"]:
        # The common mix-up of LWA client id and application id: developers report MD1000
        # (amzn/selling-partner-api-models #2744). Its own message, to point at the mistake.
        raise ConsentError(
            "MD1000",
            "Invalid application",
            "The application_id is an LWA client id, not the application id of a registered app.",
        )
    if application_id != config["SANDBOX_APP_ID"]:
        # Sellers and developers report MD1000 "Unable to find the application" for an unknown,
        # mistyped or missing application_id (amzn/selling-partner-api-models issues #1958,
        # #2204; selling-partner-api-docs #265); no report shows another code for it.
        raise ConsentError(
            "MD1000", "Unable to find the application", "We could not find the application."
        )
    if config["SANDBOX_APP_DRAFT"] and params.get("version") != "beta":
        raise ConsentError(
            "MD1000",
            "Draft application",
            "This application is in draft state; it can only be authorized with version=beta.",
        )
    redirect_uri = params.get("redirect_uri")
    if redirect_uri is not None and "#" in redirect_uri:
        raise ConsentError(
            "MD5110", "Invalid redirect URI", "The redirect URI must not contain a fragment (#)."
        )
    registered = config["SANDBOX_REDIRECT_URIS"]
    if redirect_uri is not None and redirect_uri not in registered:
        raise ConsentError(
            "MD5101",
            "Redirect URI not registered",
            "The redirect URI is not registered for this application.",
        )
    if "state" not in params:
        raise ConsentError(
            "invalid_request", "Missing state", "The request is missing the state parameter."
        )
    return ConsentRequest(params, params["state"], redirect_uri or registered[0])


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def csrf_ok() -> bool:
    sent = request.form.get("csrf_token", "")
    return "csrf" in session and hmac.compare_digest(sent, session["csrf"])


def signed_in_seller() -> Seller | None:
    email = session.get("seller_email")
    return SELLERS.get(email) if email else None


def _error_page(error: ConsentError) -> tuple[str, int]:
    return render_template("consent/error.html", error=error), 400


def sign_in_page(params: Mapping[str, str], error: str | None = None) -> str:
    return render_template(
        "consent/signin.html",
        params=params,
        error=error,
        email=request.form.get("email", ""),
        sellers=SELLERS.values(),
        csrf_token=csrf_token(),
    )


def _with_query(uri: str, query: dict[str, str]) -> str:
    parts = urlsplit(uri)
    extra = urlencode(query)
    return urlunsplit(parts._replace(query=f"{parts.query}&{extra}" if parts.query else extra))


def session_expired() -> tuple[str, int]:
    return _error_page(
        ConsentError(
            "invalid_request",
            "Session expired",
            "Your session expired or the form was not ours. Start again from the application.",
        )
    )


@bp.get("/")
def home() -> str:
    """Landing page: who is signed in, and the demo accounts."""
    return render_template("consent/home.html", seller=signed_in_seller(), sellers=SELLERS.values())


@bp.get("/apps/authorize/consent")
def consent() -> Any:
    """Show the consent page, or the sign-in page first, for a valid consent URL."""
    try:
        consent_request = parse_consent(request.args)
    except ConsentError as error:
        return _error_page(error)
    seller = signed_in_seller()
    if seller is None:
        return sign_in_page(consent_request.params)
    return render_template(
        "consent/consent.html",
        app_name=current_app.config["SANDBOX_APP_NAME"],
        seller=seller,
        params=consent_request.params,
        csrf_token=csrf_token(),
    )


@bp.post("/apps/authorize/consent")
def decide() -> Any:
    """Confirm (redirect to the app with a code) or cancel (no redirect) a consent."""
    try:
        consent_request = parse_consent(request.form)
    except ConsentError as error:
        return _error_page(error)
    if not csrf_ok():
        return session_expired()
    seller = signed_in_seller()
    if seller is None:
        return sign_in_page(consent_request.params)
    if request.form.get("action") != "confirm":
        return render_template(
            "consent/cancelled.html", app_name=current_app.config["SANDBOX_APP_NAME"]
        )
    config = current_app.config
    if "amazon_state" in consent_request.params:  # single-use
        session["amazon_states"] = [
            s
            for s in session.get("amazon_states", [])
            if s != consent_request.params["amazon_state"]
        ]
    code = get_store().issue_code(
        client_id=config["SANDBOX_CLIENT_ID"],
        redirect_uri=consent_request.redirect_uri,
        authorization=Authorization(seller.email, seller.region),
        ttl=config["SANDBOX_CODE_TTL"],
    )
    query = {
        "state": consent_request.state,
        "selling_partner_id": seller.selling_partner_id,
        "spapi_oauth_code": code,
    }
    return redirect(_with_query(consent_request.redirect_uri, query), code=302)


@bp.get("/ap/signin")
def sign_in_form() -> str:
    """Sign-in page reached directly rather than through a consent URL."""
    return sign_in_page({})


@bp.post("/ap/signin")
def sign_in() -> Any:
    """Check the seller's email and password, then resume the pending consent."""
    params = {k: request.form[k] for k in CONSENT_PARAMS if request.form.get(k)}
    if not csrf_ok():
        return session_expired()
    seller = find_seller(request.form.get("email", ""))
    password = request.form.get("password", "")
    if seller is None or not hmac.compare_digest(password, seller.password):
        return sign_in_page(params, error="Your email or password is incorrect.")
    session["seller_email"] = seller.email
    # A fresh form token after sign-in, so one captured before it is of no use.
    session["csrf"] = secrets.token_urlsafe(32)
    # Built with url_for from known parameters only, so sign-in cannot become an open redirect.
    return redirect(url_for("consent.consent", **params) if params else url_for("consent.home"))


# Where an app sends a browser to sign the seller out first, as Amazon's sign-in service takes
# it (OpenID 2.0's name); see web/marketplaces.py and docs/operations.md.
RETURN_TO = "openid.return_to"


def _own_consent_page(url: str) -> bool:
    """Amazon returns only to Amazon's pages: here, this stand-in's consent page. Anything
    else would make 'Amazon' an open redirect."""
    if any(c in url for c in "\\\r\n\t") or len(url) > 4096:
        return False
    parts = urlsplit(url)
    return (
        f"{parts.scheme}://{parts.netloc}/" == request.host_url
        and parts.path == url_for("consent.consent")
        and not parts.fragment
    )


@bp.route("/ap/signout", methods=["GET", "POST"])
def sign_out() -> Any:
    """Sign the seller out (to switch accounts), then on to `openid.return_to` (only this
    stand-in's consent page), or to the pending consent given by its parameters, or home."""
    values = request.form if request.method == "POST" else request.args
    return_to = values.get(RETURN_TO)
    if return_to is not None and not _own_consent_page(return_to):
        return _error_page(
            ConsentError(
                "invalid_request",
                "Cannot return there",
                "After signing out, Amazon only returns to its own pages.",
            )
        )
    session.pop("seller_email", None)
    session.pop("csrf", None)
    if return_to is not None:
        return redirect(return_to, code=302)
    params = {k: values[k] for k in CONSENT_PARAMS if values.get(k)}
    return redirect(url_for("consent.consent", **params) if params else url_for("consent.home"))
