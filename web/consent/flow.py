"""Starting Amazon consent and handing Amazon's answer to the waiting workflow."""

import hmac
import secrets
from datetime import timedelta

from flask import current_app, redirect, session
from temporalio.client import WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError, RPCStatusCode
from werkzeug.wrappers import Response

from core import amazon, marketplaces
from core.accounts import AmazonConnection
from core.clock import utcnow
from core.crypto import digest
from core.extensions import db, temporal
from core.logs import note_workflow
from core.requests import Authorization, ConnectionLink, ConnectionRequest, OAuthState
from vocabulary.messages import AuthorizationOutcome, AuthorizationSubmitted
from vocabulary.statuses import Outcome
from workflows.connection_request import ConnectionRequestWorkflow

SESSION_KEY = "amazon_consent"
# The raw state of this browser's trip to Amazon, so pressing again reuses it. Only this browser
# (which sees it in the consent URL anyway) holds it: the database keeps its hash.
RAW_STATE_KEY = "amazon_consent_state"
STATE_LIFETIME = timedelta(minutes=30)
# A state is reused while at least this much of its life is left, so a seller who presses again
# still has time to sign in at Amazon before the callback refuses it as too old.
REUSE_MARGIN = timedelta(minutes=15)


def begin(
    request: ConnectionRequest, link: ConnectionLink | None, sign_out_first: bool = False
) -> Response:
    """Send this browser to Amazon's consent page with a state bound to its session (and to the
    emailed link it began from, which must still be live when Amazon sends it back): the one it
    already holds for this request and link, or a fresh one. With `sign_out_first`, through
    Amazon's sign-out, so the seller signs in afresh instead of reusing Amazon's session (the
    account that was wrong)."""
    again = resume(request, link, sign_out_first)
    if again is not None:
        return again
    state = secrets.token_urlsafe(32)
    db.session.add(
        OAuthState(
            state_hash=digest(state), request_id=request.id, link_id=link.id if link else None
        )
    )
    db.session.commit()
    session[SESSION_KEY] = digest(state)
    session[RAW_STATE_KEY] = state
    return _to_amazon(request, state, sign_out_first)


def begin_at_amazon(connection: AmazonConnection, amazon_callback_uri: str, amazon_state: str):
    """The Log-in URI flow (a seller renewing at Amazon): back to Amazon's consent page with
    Amazon's `amazon_state` and a fresh state of ours bound to this browser and naming the
    connection to renew (the callback makes the renewal request)."""
    state = secrets.token_urlsafe(32)
    db.session.add(
        OAuthState(
            state_hash=digest(state), request_id=connection.request_id, connection_id=connection.id
        )
    )
    db.session.commit()
    session[SESSION_KEY] = digest(state)
    session[RAW_STATE_KEY] = state
    url = amazon.login_continue_url(current_app.config, amazon_callback_uri, amazon_state, state)
    return redirect(url, code=303)


def resume(
    request: ConnectionRequest, link: ConnectionLink | None, sign_out_first: bool = False
) -> Response | None:
    """Back to Amazon with this browser's unused state for the same request and link, while it
    is young enough; None when there is none (a new trip begins)."""
    state = session.get(RAW_STATE_KEY, "")
    if not state or not hmac.compare_digest(session.get(SESSION_KEY, ""), digest(state)):
        return None
    oauth_state = db.session.scalar(db.select(OAuthState).filter_by(state_hash=digest(state)))
    if (
        oauth_state is None
        or oauth_state.used_at is not None
        or oauth_state.request_id != request.id
        or oauth_state.link_id != (link.id if link else None)
        or oauth_state.created_at < utcnow() - (STATE_LIFETIME - REUSE_MARGIN)
    ):
        return None
    return _to_amazon(request, state, sign_out_first)


def _to_amazon(request: ConnectionRequest, state: str, sign_out_first: bool = False) -> Response:
    config = current_app.config
    marketplace = marketplaces.get(request.marketplace)
    url = amazon.consent_url(config, marketplace, state)
    if sign_out_first:
        url = amazon.sign_out_url(config, marketplace, return_to=url)
    return redirect(url, code=303)


def forget_state() -> None:
    """The state came back from Amazon: this browser's next press starts a new trip."""
    session.pop(SESSION_KEY, None)
    session.pop(RAW_STATE_KEY, None)


def deliver(authorization: Authorization, timeout: float) -> AuthorizationOutcome | None:
    """Hand the authorization to the request's workflow and wait up to `timeout` for its answer.

    Returns None when the workflow has not answered in time (the worker is slow or down); calling
    again is safe, since the update id makes Temporal treat it as the same delivery.
    """
    request = authorization.request
    workflow_id, run_id = request.workflow_id, request.workflow_run_id
    note_workflow(workflow_id)
    update = AuthorizationSubmitted(authorization.id)
    update_id = f"authorization-{authorization.public_id}"
    # End the transaction: the wait below can take seconds and must not hold a pooled connection.
    db.session.commit()

    async def submit(client):
        handle = client.get_workflow_handle_for(
            ConnectionRequestWorkflow.run, workflow_id, run_id=run_id
        )
        return await handle.execute_update(
            ConnectionRequestWorkflow.submit_authorization, update, id=update_id
        )

    try:
        return temporal.run(submit, timeout)
    except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
        return None
    except WorkflowUpdateFailedError as err:
        # The workflow's validator refused: the request is closed or busy with another attempt.
        return _refused(authorization, str(err.cause or err))
    except RPCError as err:
        if err.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
            return _refused(authorization, "This connection request is no longer open.")
        current_app.logger.warning("could not reach Temporal: %s", err.status)
        return None


def _refused(authorization: Authorization, message: str) -> AuthorizationOutcome:
    current_app.logger.info("authorization %s refused: %s", authorization.id, message)
    authorization.wipe_secrets()
    authorization.outcome = Outcome.CLOSED
    authorization.outcome_message = message
    db.session.commit()
    return AuthorizationOutcome(authorization.outcome, authorization.outcome_message)
