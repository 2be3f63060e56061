"""Test control API under /_sandbox/: inject faults, play what sellers and Amazon's developer
console do (revoke an authorization, rotate the client secret, withhold a role), reset state,
read call counts.

Not part of Amazon's protocol; registered only when SANDBOX_FAULTS_ENABLED is true.
"""

from typing import Any

from flask import Blueprint, current_app, jsonify, request
from werkzeug.wrappers import Response

from .faults import ENDPOINTS
from .sellers import SELLERS
from .store import Fault, get_store

bp = Blueprint("control", __name__, url_prefix="/_sandbox")


def _bad_request(message: str) -> Response:
    response = jsonify(error=message)
    response.status_code = 400
    return response


_JSON_TYPE_NAMES = {str: "string", bool: "boolean"}


def _json_fields(
    required: dict[str, type], optional: dict[str, type] | None = None
) -> dict[str, Any]:
    """The request's JSON object: the required fields present, no other fields than these, each
    of its JSON type (string or boolean). ValueError says what is wrong."""
    allowed = required | (optional or {})
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or set(body) - set(allowed) or set(required) - set(body):
        fields = [*required, *(f"{name} (optional)" for name in optional or {})]
        raise ValueError(f"expected a JSON object with {', '.join(fields)}")
    for name, value in body.items():
        if type(value) is not allowed[name]:
            raise ValueError(f"{name} must be a JSON {_JSON_TYPE_NAMES[allowed[name]]}")
    return body


def _parse_fault(spec: Any) -> Fault:
    """A Fault from `{"status": int, "delay": seconds, "count": int, "error": str,
    "bare": bool}` (bare: the status with an empty body, as a gateway in front of Amazon)."""
    if not isinstance(spec, dict) or set(spec) - {"status", "delay", "count", "error", "bare"}:
        raise ValueError("a fault is an object with status, delay, count, error and bare")
    status, delay, count = spec.get("status"), spec.get("delay", 0), spec.get("count", 1)
    error = spec.get("error")
    if status is not None and (type(status) is not int or not 400 <= status <= 599):
        raise ValueError("status must be an HTTP error status (400-599)")
    if isinstance(delay, bool) or not isinstance(delay, int | float) or delay < 0:
        raise ValueError("delay must be a number of seconds >= 0")
    if type(count) is not int or count < 1:
        raise ValueError("count must be an integer >= 1")
    if error is not None and not isinstance(error, str):
        raise ValueError("error must be a string")
    bare = spec.get("bare", False)
    if type(bare) is not bool:
        raise ValueError("bare must be true or false")
    if status is None and not delay:
        raise ValueError("a fault needs a status, a delay, or both")
    if bare and (status is None or error is not None):
        raise ValueError("a bare fault has a status and no error")
    return Fault(count=count, status=status, delay=float(delay), error=error, bare=bare)


@bp.post("/faults")
def set_faults() -> Response:
    """Arm faults, e.g. {"token": {"status": 503, "count": 2}}; replaces that endpoint's fault."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not body:
        return _bad_request(f"expected a JSON object keyed by endpoint: {', '.join(ENDPOINTS)}")
    faults = {}
    for endpoint, spec in body.items():
        if endpoint not in ENDPOINTS:
            return _bad_request(f"unknown endpoint {endpoint!r}; use one of {', '.join(ENDPOINTS)}")
        try:
            faults[endpoint] = _parse_fault(spec)
        except ValueError as error:
            return _bad_request(f"{endpoint}: {error}")
    store = get_store()
    for endpoint, fault in faults.items():
        store.set_fault(endpoint, fault)
    return jsonify(store.stats()["faults"])


@bp.get("/faults")
def list_faults() -> Response:
    """The faults still armed, with their remaining counts."""
    return jsonify(get_store().stats()["faults"])


@bp.post("/reset")
def reset() -> Response:
    """Forget all faults, codes, tokens and call counts; restore the configured client secret and
    the role."""
    get_store().reset()
    return jsonify(ok=True)


@bp.get("/stats")
def stats() -> Response:
    """Token calls by grant type, participations calls, armed faults, and the client secret's
    rotation state and the role's (never a secret's value)."""
    return jsonify(get_store().stats())


@bp.post("/revoke")
def revoke() -> Response:
    """Revoke a seller's tokens, as when they remove the app: {"selling_partner_id": "..."};
    answers {"revoked": <number of refresh and access tokens dropped>}."""
    try:
        wanted = _json_fields({"selling_partner_id": str})["selling_partner_id"]
    except ValueError as error:
        return _bad_request(str(error))
    seller = next((s for s in SELLERS.values() if s.selling_partner_id == wanted), None)
    if seller is None:
        return _bad_request("unknown selling_partner_id")
    return jsonify(revoked=get_store().revoke(seller.email))


@bp.post("/client-secret")
def rotate_client_secret() -> Response:
    """Rotate the LWA client secret, as the developer console does:
    {"client_secret": "<new>", "previous_valid": false}. From then on the new secret
    authenticates; the one it replaces keeps working only while previous_valid is true. Amazon
    keeps the old secret valid for seven days after a rotation ("Rotate your application's LWA
    credentials": "Your old credentials expire seven days after you generate new credentials"),
    so true plays those seven days and false the time after. Answers the rotation state (never a
    secret): {"rotated": true, "previous_valid": <bool>}. POST /_sandbox/reset restores the
    configured secret."""
    try:
        body = _json_fields({"client_secret": str}, {"previous_valid": bool})
    except ValueError as error:
        return _bad_request(str(error))
    if not body["client_secret"]:
        return _bad_request("client_secret must not be empty")
    store = get_store()
    store.rotate_client_secret(
        body["client_secret"],
        current_app.config["SANDBOX_CLIENT_SECRET"],
        body.get("previous_valid", False),
    )
    return jsonify(store.stats()["client_secret"])


@bp.post("/authorization-lifetime")
def authorization_lifetime() -> Response:
    """How long authorizations last, in seconds, from now on ({"seconds": n > 0}, or
    {"seconds": null} for SANDBOX_AUTHORIZATION_LIFETIME again; reset does that too): a refresh
    grant of an authorization older than that is refused with invalid_grant, as Amazon refuses
    one that has lapsed (after 365 days)."""
    body = request.get_json(silent=True)
    seconds = body.get("seconds", 0) if isinstance(body, dict) and set(body) == {"seconds"} else 0
    if seconds is not None and (
        isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= 0
    ):
        return _bad_request('expected {"seconds": a number > 0, or null}')
    store = get_store()
    store.lapse_after(seconds)
    return jsonify(authorization_lifetime=store.stats()["authorization_lifetime"])


@bp.post("/roles")
def withhold_role() -> Response:
    """Withhold the role the Sellers API needs, or give it back: {"withheld": true|false}. While
    withheld, the Sellers API answers 403 "Unauthorized", as Amazon does for an app whose
    registration lacks the operation's role. Answers {"withheld": <bool>}; POST /_sandbox/reset
    gives the role back."""
    try:
        withheld = _json_fields({"withheld": bool})["withheld"]
    except ValueError as error:
        return _bad_request(str(error))
    store = get_store()
    store.withhold_role(withheld)
    return jsonify(store.stats()["roles"])
