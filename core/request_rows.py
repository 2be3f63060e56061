"""Changes to a request's rows that must be atomic: whichever step closes it first wins."""

from core.clock import utcnow
from core.extensions import db
from core.requests import Authorization, ConnectionLink, ConnectionRequest
from core.timeline import add_event
from vocabulary.statuses import OPEN_REQUEST_STATES, Outcome, RequestState


def supersede_links(model: type, keep: str = "", **filters) -> None:
    """Every live emailed link of a request or invitation stops working now (`model` is
    ConnectionLink or InvitationLink, `filters` name its owner), but the one whose token hash is
    `keep`: a retried send keeps the link it made on its first try."""
    db.session.execute(
        db.update(model)
        .where(model.superseded_at.is_(None), model.token_hash != keep)
        .filter_by(**filters)
        .values(superseded_at=utcnow())
    )


def move_open_request(request_id: int, status: str, **values) -> bool:
    """Set the status of a request that is still open; False when another step closed it.
    Only a failure may follow a connection: the saga's compensation undoes it."""
    sources = OPEN_REQUEST_STATES
    if status == RequestState.FAILED:
        sources = (*sources, RequestState.CONNECTED)
    moved = db.session.execute(
        db.update(ConnectionRequest)
        .where(ConnectionRequest.id == request_id, ConnectionRequest.status.in_(sources))
        .values(status=status, **values)
        .execution_options(synchronize_session="fetch")
    ).rowcount
    return moved == 1


def close_open_request(request: ConnectionRequest, status: str, detail: str, actor: str) -> bool:
    """Close a request that is still open: final status, a timeline line, its links dead and
    any authorization still in hand wiped. False (and nothing written) if it was closed."""
    if not move_open_request(request.id, status, status_detail=detail):
        db.session.refresh(request)
        return False
    add_event(request.id, status, actor, detail)
    supersede_links(ConnectionLink, request_id=request.id)
    for authorization in db.session.scalars(
        db.select(Authorization).filter_by(request_id=request.id, outcome=Outcome.PENDING)
    ):
        authorization.wipe_secrets()
        authorization.outcome = Outcome.CLOSED
        authorization.outcome_message = "The request was closed before this could be used."
    db.session.refresh(request)
    return True


def open_request_for(account_id: int, marketplace: str) -> ConnectionRequest | None:
    """The account's open request for that marketplace (at most one: its workflow id says so)."""
    return db.session.scalar(
        db.select(ConnectionRequest).filter(
            ConnectionRequest.account_id == account_id,
            ConnectionRequest.marketplace == marketplace,
            ConnectionRequest.status.in_(OPEN_REQUEST_STATES),
        )
    )
