"""Login with Amazon's token endpoint (api.amazon.com/auth/o2/token)."""

import hmac
import time
from typing import Any
from urllib.parse import unquote_plus

from flask import Blueprint, current_app, jsonify, request
from werkzeug.wrappers import Response

from .errors import lwa_error, no_store
from .faults import apply_fault
from .headers import with_request_id
from .store import Authorization, CodeRejected, get_store

bp = Blueprint("lwa", __name__)
bp.after_request(with_request_id)

GRANT_TYPES = ("authorization_code", "refresh_token")


class TokenError(Exception):
    """An OAuth error answer: `error` code, description and HTTP status."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status


def _required(name: str) -> str:
    value = request.form.get(name, "")
    if not value:
        raise TokenError("invalid_request", f"The request is missing a required parameter : {name}")
    return value


def _authenticated_client_id() -> str:
    """The client id, once its secret checks out (HTTP Basic or client_secret_post)."""
    auth = request.authorization
    if auth is not None and auth.type == "basic":
        # RFC 6749 2.3.1: Basic credentials are form-encoded before base64.
        client_id = unquote_plus(auth.username or "")
        client_secret = unquote_plus(auth.password or "")
    else:
        client_id = _required("client_id")
        client_secret = _required("client_secret")
    config = current_app.config
    id_ok = hmac.compare_digest(client_id, config["SANDBOX_CLIENT_ID"])
    valid_secrets = get_store().client_secrets(config["SANDBOX_CLIENT_SECRET"])
    # Every valid secret is compared, so the time taken does not tell which one nearly matched.
    matches = [hmac.compare_digest(client_secret, valid) for valid in valid_secrets]
    if not (id_ok and any(matches)):
        raise TokenError("invalid_client", "Client authentication failed", 401)
    return client_id


def _tokens(
    client_id: str, authorization: Authorization, refresh_token: str | None = None
) -> dict[str, Any]:
    store = get_store()
    ttl = current_app.config["SANDBOX_ACCESS_TOKEN_TTL"]
    return {
        "access_token": store.issue_access_token(authorization, ttl),
        # Amazon answers a refresh grant with the same refresh token; only consent makes a new one.
        "refresh_token": refresh_token or store.issue_refresh_token(client_id, authorization),
        "token_type": "bearer",
        "expires_in": int(ttl),
    }


def _exchange_code(client_id: str) -> dict[str, Any]:
    """Redeem a code. redirect_uri is optional, as in Amazon's own example request and the
    clients that follow it (python-amazon-sp-api sends none); when sent, it must be the consent's
    (the explicit one, or the app's first registered one). An empty value counts as not sent."""
    code = _required("code")
    redirect_uri = request.form.get("redirect_uri")
    try:
        found = get_store().redeem_code(code)
    except CodeRejected as rejected:
        raise TokenError("invalid_grant", str(rejected)) from None
    if found.client_id != client_id:
        raise TokenError("invalid_grant", "The authorization code was issued to another client.")
    if redirect_uri and found.redirect_uri != redirect_uri:
        raise TokenError(
            "invalid_grant", "The redirect_uri does not match the one used for authorization."
        )
    return _tokens(client_id, found.authorization)


def _refresh(client_id: str) -> dict[str, Any]:
    refresh_token = _required("refresh_token")
    store = get_store()
    grant = store.find_grant(refresh_token)
    if grant is None or grant.client_id != client_id:
        raise TokenError("invalid_grant", "The refresh token is invalid or has been revoked.")
    lifetime = store.authorization_lifetime or current_app.config["SANDBOX_AUTHORIZATION_LIFETIME"]
    if time.monotonic() - grant.granted_at >= lifetime:
        # Amazon's authorizations last a year; then the seller must authorize again.
        raise TokenError("invalid_grant", "The authorization has expired.")
    return _tokens(client_id, grant.authorization, refresh_token)


@bp.post("/auth/o2/token")
def token() -> Response:
    """Exchange an spapi_oauth_code or a refresh token for an access token."""
    is_form = request.mimetype == "application/x-www-form-urlencoded"
    grant_type = request.form.get("grant_type", "") if is_form else ""
    get_store().count_token_call(
        grant_type if grant_type in GRANT_TYPES else "other", request.user_agent.string
    )
    faulted = apply_fault("token")
    if faulted is not None:
        return no_store(faulted)
    try:
        if not is_form:
            raise TokenError(
                "invalid_request", "Content-Type must be application/x-www-form-urlencoded"
            )
        _required("grant_type")
        client_id = _authenticated_client_id()
        if grant_type == "authorization_code":
            body = _exchange_code(client_id)
        elif grant_type == "refresh_token":
            body = _refresh(client_id)
        else:
            raise TokenError("unsupported_grant_type", f"Unsupported grant_type : {grant_type}")
    except TokenError as error:
        response = lwa_error(error.error, error.description, error.status)
        if error.error == "invalid_client" and request.authorization is not None:
            response.headers["WWW-Authenticate"] = 'Basic realm="Login with Amazon"'
        return response
    return no_store(jsonify(body))
