"""Selling Partner API: the Sellers API's marketplaceParticipations."""

from flask import Blueprint, jsonify, request
from werkzeug.wrappers import Response

from .errors import spapi_error
from .faults import apply_fault
from .sellers import SELLERS
from .store import get_store

bp = Blueprint("spapi", __name__)


@bp.get("/sellers/v1/marketplaceParticipations")
def marketplace_participations() -> Response:
    """List the marketplaces the access token's seller sells in."""
    store = get_store()
    store.count_participations_call()
    faulted = apply_fault("participations")
    if faulted is not None:
        return faulted
    token = store.find_access_token(request.headers.get("x-amz-access-token", ""))
    if token is None:
        return spapi_error(403, "Unauthorized", "Access to requested resource is denied.")
    seller = SELLERS[token.seller_email]
    payload = [
        {
            "marketplace": marketplace.to_payload(),
            "storeName": seller.store_name,
            "participation": {"isParticipating": True, "hasSuspendedListings": False},
        }
        for marketplace in seller.marketplaces
    ]
    return jsonify(payload=payload)
