"""Selling Partner API: the Sellers API's marketplaceParticipations."""

import re

from flask import Blueprint, jsonify, request
from werkzeug.wrappers import Response

from .errors import spapi_error
from .faults import apply_fault
from .headers import with_request_id
from .sellers import SELLERS
from .store import AccessToken, get_store

bp = Blueprint("spapi", __name__)

# getMarketplaceParticipations' usage plan in Amazon's model: .016 requests per second, burst 15.
RATE_LIMIT = "0.016"

# Amazon's regional SP-API hosts, production and sandbox; the group is the region.
_AMAZON_HOST = re.compile(r"(?:sandbox\.)?sellingpartnerapi-(na|eu|fe)\.amazon\.com", re.I)


@bp.after_request
def usage_plan_headers(response: Response) -> Response:
    """Every answer, errors included, carries the request id and the rate limit applied."""
    response.headers["x-amzn-RateLimit-Limit"] = RATE_LIMIT
    return with_request_id(response)


def _host_region() -> str | None:
    """The region of the Amazon host this call names, or None for any other host.

    A call to the stand-in's own address (127.0.0.1:port, as the app is configured in
    development and tests, or amazon:8100 on the Compose network) stands for whichever regional
    host the app meant, so it is not region-checked. A call naming a real Amazon host (through a
    proxy or a hosts entry, as a client library that only knows Amazon's hosts is pointed here)
    is: Amazon refuses a token of another region there.
    """
    match = _AMAZON_HOST.fullmatch(request.host.rsplit(":", 1)[0])
    return match.group(1).upper() if match else None


def _allowed(token: AccessToken) -> bool:
    """A live token may still be refused: one of another region than the host's, or any while
    the app lacks the role the operation needs (withheld through the test controls)."""
    region = _host_region()
    return not get_store().role_withheld and region in (None, token.authorization.region)


@bp.get("/sellers/v1/marketplaceParticipations")
def marketplace_participations() -> Response:
    """List the marketplaces the access token's seller sells in."""
    store = get_store()
    store.count_participations_call(request.user_agent.string)
    faulted = apply_fault("participations")
    if faulted is not None:
        return faulted
    token = store.find_access_token(request.headers.get("x-amz-access-token", ""))
    if token is None or not _allowed(token):
        # Amazon answers every one of these refusals alike.
        return spapi_error(403, "Unauthorized", "Access to requested resource is denied.")
    seller = SELLERS[token.authorization.seller_email]
    payload = [
        {
            "marketplace": marketplace.to_payload(),
            "storeName": seller.store_name,
            "participation": {"isParticipating": True, "hasSuspendedListings": False},
        }
        for marketplace in seller.marketplaces
    ]
    return jsonify(payload=payload)
