"""Custom search attributes: how ops find requests in the Temporal Web UI.

They must be registered with the server (`make run`, the test harness and docker-compose do it).
"""

from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

ACCOUNT_ID = SearchAttributeKey.for_keyword("AccountId")
MARKETPLACE = SearchAttributeKey.for_keyword("Marketplace")
ONBOARDING_STATUS = SearchAttributeKey.for_keyword("OnboardingStatus")
SELLER_EMAIL_DOMAIN = SearchAttributeKey.for_keyword("SellerEmailDomain")
# Set while a step keeps failing (statuses.StuckReason: the mail server, or Amazon refusing the
# app itself), so ops can list the requests stuck on it; cleared when the step succeeds.
STUCK_REASON = SearchAttributeKey.for_keyword("StuckReason")
# A connection's health (statuses.ConnectionState), on its ConnectionWorkflow.
CONNECTION_STATUS = SearchAttributeKey.for_keyword("ConnectionStatus")


def of_request(
    account_id: int, marketplace: str, seller_email_domain: str, status: str
) -> TypedSearchAttributes:
    """A connection request's attributes at its start (the web app's, or a renewal's)."""
    return TypedSearchAttributes(
        [
            SearchAttributePair(ACCOUNT_ID, str(account_id)),
            SearchAttributePair(MARKETPLACE, marketplace),
            SearchAttributePair(SELLER_EMAIL_DOMAIN, seller_email_domain),
            SearchAttributePair(ONBOARDING_STATUS, status),
        ]
    )


def of_connection(account_id: int, marketplace: str) -> TypedSearchAttributes:
    """A stored connection's workflow's attributes at its start (ConnectionStatus comes later)."""
    return TypedSearchAttributes(
        [
            SearchAttributePair(ACCOUNT_ID, str(account_id)),
            SearchAttributePair(MARKETPLACE, marketplace),
        ]
    )


def email_domain(address: str) -> str:
    """The SellerEmailDomain of an address: ops find a seller's requests by it, never by the
    address itself."""
    return address.rsplit("@", 1)[-1].lower()


ALL = (
    ACCOUNT_ID,
    MARKETPLACE,
    ONBOARDING_STATUS,
    SELLER_EMAIL_DOMAIN,
    STUCK_REASON,
    CONNECTION_STATUS,
)
