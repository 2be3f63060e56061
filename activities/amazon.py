"""Amazon activities: exchange the seller's code for tokens, check the marketplace."""

from datetime import timedelta

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.deps import Activities
from activities.rows import load
from core import marketplaces
from core.amazon import AmazonRefused, AppRefused, Participation
from core.clock import utcnow
from core.crypto import decrypt, encrypt
from core.requests import Authorization
from vocabulary.messages import AuthorizationRef, ExchangeResult, MarketplaceCheck


def _refused(err: AmazonRefused | AppRefused, authorization: Authorization) -> ApplicationError:
    """The failure the workflow reads: the seller's grant refused ("AmazonRefused"), or the app
    itself ("AppRefused", its StuckReason in the details). Only Amazon's error code travels,
    never its description: that may quote what was sent."""
    if isinstance(err, AmazonRefused):
        return ApplicationError(
            f"Amazon refused: {err.error}", type="AmazonRefused", non_retryable=True
        )
    # Ops' alarm: the seller is not to blame and nothing retries until an operator acts.
    activity.logger.error(
        "Amazon refused the app itself (%s: %s) for request %s: see docs/operations.md,"
        " 'When Amazon refuses the app'",
        err.reason,
        err.detail,
        authorization.request_id,
    )
    return ApplicationError(
        f"Amazon refused the app: {err.detail}",
        str(err.reason),
        type="AppRefused",
        non_retryable=True,
    )


class AmazonActivities(Activities):
    """Server-to-server calls to Login with Amazon and the Sellers API."""

    @activity.defn
    def exchange_authorization_code(self, input: AuthorizationRef) -> ExchangeResult:
        """Trade the single-use code for tokens; keep them encrypted and forget the code."""
        keys = self.deps.settings.token_encryption_key
        with self.deps.session() as session:
            authorization = load(session, Authorization, input.authorization_id)
            if authorization.link_replaced:
                # The bookkeeper sent the request again (or to someone else) meanwhile: the
                # consent began from a dead link, so its code is never used.
                authorization.wipe_secrets()
                session.commit()
                raise ApplicationError(
                    "the link this consent began from was replaced",
                    type="LinkReplaced",
                    non_retryable=True,
                )
            if authorization.refresh_token_encrypted is None:
                if authorization.code_encrypted is None:
                    raise ApplicationError(
                        "the code was already used", type="AmazonRefused", non_retryable=True
                    )
                code = decrypt(keys, authorization.code_encrypted)
                try:
                    tokens = self.deps.amazon.exchange_code(code)
                except (AmazonRefused, AppRefused) as err:
                    # Single-use and dead within minutes: it is never presented again.
                    authorization.code_encrypted = None
                    session.commit()
                    raise _refused(err, authorization) from None
                authorization.code_encrypted = None
                authorization.access_token_encrypted = encrypt(keys, tokens.access_token)
                authorization.access_token_expires_at = utcnow() + timedelta(
                    seconds=tokens.expires_in - 60
                )
                authorization.refresh_token_encrypted = encrypt(keys, tokens.refresh_token)
                session.commit()
                activity.logger.info("authorization %s exchanged for tokens", authorization.id)
            return ExchangeResult(authorization.selling_partner_id)

    @activity.defn
    def check_marketplace(self, input: AuthorizationRef) -> MarketplaceCheck:
        """Does the seller who consented sell in the requested marketplace?"""
        keys = self.deps.settings.token_encryption_key
        with self.deps.session() as session:
            authorization = load(session, Authorization, input.authorization_id)
            if authorization.refresh_token_encrypted is None:
                raise ApplicationError("no tokens to check with", non_retryable=True)
            marketplace = marketplaces.get(authorization.request.marketplace)
            expires_at = authorization.access_token_expires_at
            if authorization.access_token_encrypted and expires_at and expires_at > utcnow():
                access_token = decrypt(keys, authorization.access_token_encrypted)
            else:
                try:
                    tokens = self.deps.amazon.refresh_access_token(
                        decrypt(keys, authorization.refresh_token_encrypted)
                    )
                except (AmazonRefused, AppRefused) as err:
                    raise _refused(err, authorization) from None
                access_token = tokens.access_token
                authorization.access_token_encrypted = encrypt(keys, access_token)
                authorization.access_token_expires_at = utcnow() + timedelta(
                    seconds=tokens.expires_in - 60
                )
                session.commit()
            try:
                participations = self.deps.amazon.marketplace_participations(
                    marketplace, access_token
                )
            except (AmazonRefused, AppRefused) as err:
                raise _refused(err, authorization) from None
            for participation in participations:
                if (
                    participation.marketplace_id == marketplace.marketplace_id
                    and participation.participating
                ):
                    return MarketplaceCheck(True, participation.store_name)
            _remember_account_used(authorization, participations)
            session.commit()
            return MarketplaceCheck(False, "")


def _remember_account_used(
    authorization: Authorization, participations: list[Participation]
) -> None:
    """Keep what the seller's page and the bookkeeper's email say about the wrong account: its
    store name and where it sells. Amazon's text, shown to people: capped here, escaped there."""
    selling = [p for p in participations if p.participating]
    names = [p.store_name.strip() for p in selling if p.store_name.strip()]
    name = " ".join(names[0].split()) if names else ""  # no line breaks in a name
    authorization.store_name = name[: Authorization.STORE_NAME_MAX]
    countries: list[str] = []
    for p in selling:
        known = marketplaces.BY_ID.get(p.marketplace_id)
        if known is not None and known.country not in countries:
            countries.append(known.country)
    authorization.sells_in = ",".join(countries)
