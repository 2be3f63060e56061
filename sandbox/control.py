"""Test control API under /_sandbox/: inject faults, reset state, read call counts.

Not part of Amazon's protocol; registered only when SANDBOX_FAULTS_ENABLED is true.
"""

from typing import Any

from flask import Blueprint, jsonify, request
from werkzeug.wrappers import Response

from .faults import ENDPOINTS
from .sellers import SELLERS
from .store import Fault, get_store

bp = Blueprint("control", __name__, url_prefix="/_sandbox")


def _bad_request(message: str) -> Response:
    response = jsonify(error=message)
    response.status_code = 400
    return response


def _parse_fault(spec: Any) -> Fault:
    """A Fault from `{"status": int, "delay": seconds, "count": int, "error": str}`."""
    if not isinstance(spec, dict) or set(spec) - {"status", "delay", "count", "error"}:
        raise ValueError("a fault is an object with status, delay, count and error")
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
    if status is None and not delay:
        raise ValueError("a fault needs a status, a delay, or both")
    return Fault(count=count, status=status, delay=float(delay), error=error)


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
    """Forget all faults, codes, tokens and call counts."""
    get_store().reset()
    return jsonify(ok=True)


@bp.get("/stats")
def stats() -> Response:
    """Token calls by grant type, participations calls, and armed faults."""
    return jsonify(get_store().stats())


@bp.post("/revoke")
def revoke() -> Response:
    """Revoke a seller's tokens, as when they remove the app: {"selling_partner_id": "..."}."""
    body = request.get_json(silent=True) or {}
    wanted = body.get("selling_partner_id") if isinstance(body, dict) else None
    seller = next((s for s in SELLERS.values() if s.selling_partner_id == wanted), None)
    if seller is None:
        return _bad_request("unknown selling_partner_id")
    return jsonify(revoked=get_store().revoke(seller.email))
