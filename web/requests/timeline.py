"""A request's timeline in the bookkeeper's words.

A trip to Amazon that connected nothing is stored as Amazon's answer (kind "amazon_error", actor
"Amazon", the seller-facing message); most of those are the seller's slip, not Amazon's fault,
and the bookkeeper's page says so and who it was.
"""

from core import marketplaces
from core.requests import ConnectionRequest, RequestEvent

# The outcome is the start of the stored detail ("Wrong account: ..."), see record_outcome.
SELLER_SLIPS = {
    "Wrong account": "Signed in at Amazon with a seller account that does not sell in {market};"
    " nothing was connected",
    "Code expired": "Took too long at Amazon (its one-time code expired or was already used);"
    " nothing was connected",
    "Link replaced": "Came back from Amazon through a link that had been replaced; nothing was"
    " connected",
    "Closed": "Came back from Amazon after the request was closed; nothing was connected",
}


def describe(event: RequestEvent, request: ConnectionRequest) -> tuple[str, str]:
    """(who, what) for one timeline line."""
    if event.kind == "amazon_error":
        outcome = event.detail.split(":", 1)[0]
        if outcome in SELLER_SLIPS:
            seller = (
                request.requested_by.name
                if request.kind == ConnectionRequest.DIRECT
                else request.client_name
            )
            market = marketplaces.get(request.marketplace).label
            return seller, SELLER_SLIPS[outcome].format(market=market)
    return event.actor, event.detail
