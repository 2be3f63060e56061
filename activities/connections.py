"""Database activities: store or remove a connection, record outcomes, close requests."""

from datetime import timedelta

from flask import current_app
from sqlalchemy import select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.deps import Activities
from core.accounts import AmazonConnection
from core.clock import utcnow
from core.request_input import request_input
from core.request_rows import (
    close_open_request,
    move_open_request,
    open_request_for,
    supersede_links,
)
from core.requests import Authorization, ConnectionLink, ConnectionRequest
from core.timeline import add_event
from vocabulary.messages import (
    AuthorizationRef,
    ChangeEmailInput,
    Closed,
    CloseRequestInput,
    Done,
    EmailChange,
    EventInput,
    OutcomeInput,
    RenewalAsked,
    RenewalInput,
    RequestRef,
    StoredConnection,
)
from vocabulary.statuses import ConnectionState, Outcome, RequestState

_RENEWAL_DUE = (
    "Renewal due: Amazon's authorization ends soon; the owner is asked to authorize again"
)


def _stored(connection: AmazonConnection) -> StoredConnection:
    return StoredConnection(connection.id, connection.account_id, connection.authorized_at)


class ConnectionActivities(Activities):
    """Writes the outcome of a connection request to the application database."""

    @activity.defn
    def confirm_request_saved(self, input: RequestRef) -> Done:
        """The web app commits the request just after starting its workflow: wait for it."""
        with self.deps.session() as session:
            request = session.get(ConnectionRequest, input.request_id)
            if request is None:
                raise ApplicationError("the request is not saved yet", type="NotYetSaved")
            if request.workflow_run_id is None:  # started by a workflow (a renewal)
                request.workflow_run_id = activity.info().workflow_run_id
                session.commit()
            return Done()

    @activity.defn
    def store_connection(self, input: AuthorizationRef) -> StoredConnection:
        """Move the refresh token into the account's connection and mark everything connected.

        Idempotent: a retry finds the connection this request already stored.
        """
        with self.deps.session() as session:
            authorization = session.get(Authorization, input.authorization_id)
            if authorization is None:
                raise ApplicationError("no such authorization", non_retryable=True)
            request = authorization.request
            existing = session.scalars(
                select(AmazonConnection).filter_by(request_id=request.id)
            ).first()
            if existing is not None:
                return _stored(existing)
            if authorization.refresh_token_encrypted is None:
                raise ApplicationError("no refresh token to store", non_retryable=True)
            # Atomic with the close of a withdrawal or of ops: exactly one of them wins.
            if not move_open_request(request.id, RequestState.CONNECTED):
                session.rollback()
                raise ApplicationError(
                    "the request was closed first", type="RequestClosed", non_retryable=True
                )
            connection = AmazonConnection.of(request.account_id, request.marketplace)
            if connection is None:
                connection = AmazonConnection(
                    account_id=request.account_id, marketplace=request.marketplace
                )
                session.add(connection)
            connection.selling_partner_id = authorization.selling_partner_id
            connection.refresh_token_encrypted = authorization.refresh_token_encrypted
            connection.request_id = request.id
            connection.connected_at = utcnow()
            # A reconnect (after a revoke, or of another seller): a fresh life, not yet checked.
            connection.status = ConnectionState.HEALTHY
            connection.checked_at = None
            connection.authorized_at = connection.connected_at
            connection.covers = authorization.sells_in or request.marketplace
            authorization.wipe_secrets()
            authorization.outcome = Outcome.CONNECTED
            authorization.outcome_message = "Connected."
            request.status_detail = f"Seller {authorization.selling_partner_id}"
            done = "Renewed the authorization of" if request.is_renewal else "Connected"
            add_event(
                request.id,
                "connected",
                request.client_name,
                f"{done} seller {authorization.selling_partner_id} in Amazon {request.marketplace}",
            )
            session.commit()
            return _stored(connection)

    @activity.defn
    def ask_renewal(self, input: RenewalInput) -> RenewalAsked:
        """Open the request that asks the connection's owner to renew it before it ends: a
        connection request for renewal, to the same person, emailed like the first (its
        workflow is started by the connection's). An open request for the marketplace serves
        instead. Either way the connection is now due for renewal. Idempotent: a retry finds the
        renewal it opened, not yet started, and starts it (its workflow id refuses a second)."""
        with self.deps.session() as session:
            connection = session.get(AmazonConnection, input.connection_id)
            if connection is None:
                return RenewalAsked()
            connection.status = ConnectionState.RENEWAL_DUE
            renewal = open_request_for(connection.account_id, connection.marketplace)
            if renewal is not None and not (renewal.is_renewal and renewal.workflow_run_id is None):
                add_event(renewal.id, "renewal_due", "system", _RENEWAL_DUE)
                session.commit()
                return RenewalAsked(renewal.id)
            if renewal is None:
                renewal = ConnectionRequest.renewal_of(connection, RequestState.SENT)
                session.add(renewal)
                session.flush()
                add_event(renewal.id, "renewal_due", "system", _RENEWAL_DUE)
            ends_at = input.ends_at.replace(tzinfo=None)
            renewal.expires_at = ends_at
            session.commit()
            left = max(ends_at - utcnow(), timedelta(seconds=1))
            reminders = [
                left - timedelta(seconds=o)
                for o in input.reminder_offsets_seconds
                if timedelta(seconds=o) < left
            ]
            start = request_input(renewal, current_app.config, left, reminders)
            return RenewalAsked(renewal.id, start, renewal.workflow_id)

    @activity.defn
    def record_outcome(self, input: OutcomeInput) -> Done:
        """Remember why an authorization did not connect, and wipe what it carried."""
        with self.deps.session() as session:
            authorization = session.get(Authorization, input.authorization_id)
            if authorization is not None:
                authorization.wipe_secrets()
                authorization.outcome = input.outcome
                authorization.outcome_message = input.message
                add_event(
                    authorization.request_id,
                    "amazon_error",
                    "Amazon",
                    f"{input.outcome.replace('_', ' ').capitalize()}: {input.message}",
                )
                session.commit()
            return Done()

    @activity.defn
    def remove_connection(self, input: RequestRef) -> Done:
        """Compensation: delete the connection (and its token) this request stored."""
        with self.deps.session() as session:
            connection = session.scalars(
                select(AmazonConnection).filter_by(request_id=input.request_id)
            ).first()
            if connection is not None:
                session.delete(connection)
                session.commit()
            return Done()

    @activity.defn
    def close_request(self, input: CloseRequestInput) -> Closed:
        """Set a final status, if still open, and make the emailed links useless; returns the
        status the row ended in (a connection stored a moment earlier wins)."""
        with self.deps.session() as session:
            request = session.get(ConnectionRequest, input.request_id)
            if request is None:
                return Closed(input.status)
            close_open_request(request, input.status, input.detail, input.actor)
            session.commit()
            return Closed(request.status)

    @activity.defn
    def record_event(self, input: EventInput) -> Done:
        """Add a line to the timeline and set the status it leaves the request in."""
        with self.deps.session() as session:
            request = session.get(ConnectionRequest, input.request_id)
            if request is not None:
                add_event(request.id, input.kind, input.actor, input.detail)
                if input.status:
                    move_open_request(request.id, input.status)
                session.commit()
            return Done()

    @activity.defn
    def change_client_email(self, input: ChangeEmailInput) -> EmailChange:
        """Point the request at a new address; links sent to the old one stop working. The
        same address (in any case) is no change."""
        with self.deps.session() as session:
            request = session.get(ConnectionRequest, input.request_id)
            if request is None:
                raise ApplicationError("no such request", non_retryable=True)
            changed = request.client_email.lower() != input.new_email.lower()
            if changed:
                old = request.client_email
                request.client_email = input.new_email
                supersede_links(ConnectionLink, request_id=request.id)
                add_event(
                    request.id,
                    "email_changed",
                    input.actor,
                    f"Email changed from {old} to {input.new_email}",
                )
                session.commit()
            return EmailChange(changed)
