"""Amazon activities: exchange the seller's code for tokens, check the marketplace, and check a
stored connection's health."""

from datetime import timedelta

from sqlalchemy import update
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.deps import Activities
from activities.rows import load
from core import marketplaces
from core.accounts import AmazonConnection
from core.amazon import AmazonRefused, AppRefused, Participation
from core.clock import utcnow
from core.crypto import decrypt, encrypt
from core.marketplaces import Region
from core.requests import Authorization
from core.timeline import add_event
from vocabulary.messages import (
    AuthorizationRef,
    CheckInput,
    ExchangeResult,
    Health,
    MarketplaceCheck,
)
from vocabulary.statuses import LIVE_CONNECTION, ConnectionState


def _refused(err: AmazonRefused | AppRefused, request_id: int) -> ApplicationError:
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
        request_id,
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
                    raise _refused(err, authorization.request_id) from None
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
        """Does the seller who consented sell in the requested marketplace, and is it the seller
        connected there already, if one is? (An invited owner renews or reconnects that
        connection; only an admin connecting directly may replace it, having confirmed.)"""
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
                    raise _refused(err, authorization.request_id) from None
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
                raise _refused(err, authorization.request_id) from None
            expected = _seller_connected_before(authorization)
            for participation in participations:
                if (
                    not expected
                    and participation.marketplace_id == marketplace.marketplace_id
                    and participation.participating
                ):
                    # What the connection will cover: store_connection copies it.
                    authorization.sells_in = ",".join(sells_in(participations, marketplace.region))
                    session.commit()
                    return MarketplaceCheck(True, participation.store_name)
            _remember_account_used(authorization, participations)
            session.commit()
            return MarketplaceCheck(False, "", expected)

    @activity.defn
    def check_connection(self, input: CheckInput) -> Health:
        """A stored connection's health check: a refresh grant, then the Sellers API call the
        connection is for. Amazon refusing the refresh token (invalid_grant) means the
        authorization lapsed, once its lifetime is over, or else that the seller removed the app
        (revoked). Amazon busy or down raises, for Temporal to retry; Amazon refusing the app
        itself fails for good (AppRefused)."""
        keys = self.deps.settings.token_encryption_key
        with self.deps.session() as session:
            connection = session.get(AmazonConnection, input.connection_id)
            if connection is None:  # disconnected: the row and its token are gone
                return Health(ConnectionState.DISCONNECTED)
            request_id, token = connection.request_id, connection.refresh_token_encrypted
            if connection.status not in LIVE_CONNECTION:
                return _health(connection)
            marketplace = marketplaces.get(connection.marketplace)
            covers = connection.covers
            try:
                tokens = self.deps.amazon.refresh_access_token(decrypt(keys, token))
                participations = self.deps.amazon.marketplace_participations(
                    marketplace, tokens.access_token
                )
                covers = ",".join(sells_in(participations, marketplace.region)) or covers
                verdict = ConnectionState.HEALTHY
            except AmazonRefused:
                lifetime = timedelta(seconds=input.authorization_lifetime_seconds)
                since = connection.authorized_at or connection.connected_at
                over = utcnow() >= since + lifetime
                verdict = ConnectionState.LAPSED if over else ConnectionState.REVOKED
            except AppRefused as err:
                raise _refused(err, request_id) from None
            now, authorized_at = utcnow(), connection.authorized_at
            # A pass keeps the status (healthy, or renewal due); a refusal ends it.
            values = {"checked_at": now, "covers": covers}
            if verdict != ConnectionState.HEALTHY:
                values["status"] = verdict
            # Only the token checked: a reconnect that stored a new one meanwhile stands.
            checked = session.execute(
                update(AmazonConnection)
                .where(
                    AmazonConnection.id == connection.id,
                    AmazonConnection.refresh_token_encrypted == token,
                    AmazonConnection.status.in_(LIVE_CONNECTION),
                )
                .values(**values)
            ).rowcount
            if checked and verdict != ConnectionState.HEALTHY:
                add_event(request_id, verdict, "Amazon", ENDED_EVENTS[verdict](connection))
            session.commit()
            if not checked:  # changed meanwhile: whatever it is now is the verdict
                session.expire_all()
                now_stored = session.get(AmazonConnection, input.connection_id)
                if now_stored is None:
                    return Health(ConnectionState.DISCONNECTED)
                return _health(now_stored)
            return Health(verdict, request_id, now, authorized_at)


def _health(connection: AmazonConnection) -> Health:
    status = ConnectionState.HEALTHY if connection.status in LIVE_CONNECTION else connection.status
    return Health(status, connection.request_id, connection.checked_at, connection.authorized_at)


def sells_in(participations: list[Participation], region: Region | None = None) -> list[str]:
    """The countries of the marketplaces the seller sells in (of `region` only, if given: what
    one authorization covers, amazon-sp-api.md section 5), in Amazon's order, each once;
    marketplaces we do not know are left out."""
    countries = [
        known.country
        for p in participations
        if p.participating
        and (known := marketplaces.BY_ID.get(p.marketplace_id)) is not None
        and (region is None or known.region == region)
    ]
    return list(dict.fromkeys(countries))


# The timeline's line when a health check finds the connection ended at Amazon.
ENDED_EVENTS = {
    ConnectionState.REVOKED: lambda c: (
        f"Access revoked: Amazon no longer accepts the connection"
        f" of seller {c.selling_partner_id} (found by the health check)"
    ),
    ConnectionState.LAPSED: lambda c: (
        f"Authorization lapsed: the authorization of seller"
        f" {c.selling_partner_id} is over a year old; the owner must authorize again"
    ),
}


def _seller_connected_before(authorization: Authorization) -> str:
    """The seller id of the marketplace's connection when an invited owner came back with
    another seller ("" when there is none, it is the same seller, or the request is direct)."""
    request = authorization.request
    if request.kind != request.INVITE:
        return ""
    connection = AmazonConnection.of(request.account_id, request.marketplace)
    if connection is None or connection.selling_partner_id == authorization.selling_partner_id:
        return ""
    return connection.selling_partner_id


def _remember_account_used(
    authorization: Authorization, participations: list[Participation]
) -> None:
    """Keep what the seller's page and the bookkeeper's email say about the wrong account: its
    store name and where it sells. Amazon's text, shown to people: capped here, escaped there."""
    selling = [p for p in participations if p.participating]
    names = [p.store_name.strip() for p in selling if p.store_name.strip()]
    name = " ".join(names[0].split()) if names else ""  # no line breaks in a name
    authorization.store_name = name[: Authorization.STORE_NAME_MAX]
    authorization.sells_in = ",".join(sells_in(participations))
