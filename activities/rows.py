"""Loading the row an activity works on."""

from typing import TypeVar

from sqlalchemy.orm import Session, scoped_session
from temporalio.exceptions import ApplicationError

T = TypeVar("T")


def load(session: Session | scoped_session[Session], model: type[T], row_id: int) -> T:
    """The row; a missing one is a bug in the caller, so not worth retrying."""
    row = session.get(model, row_id)
    if row is None:
        what = model.__tablename__.removesuffix("s").replace("_", " ")
        raise ApplicationError(f"no {what} {row_id}", non_retryable=True)
    return row
