"""Loading the row an activity works on."""

from typing import TypeVar

from temporalio.exceptions import ApplicationError

from core.extensions import db

T = TypeVar("T")


def load(model: type[T], row_id: int) -> T:
    """The row; a missing one is a bug in the caller, so not worth retrying."""
    row = db.session.get(model, row_id)
    if row is None:
        what = model.__tablename__.removesuffix("s").replace("_", " ")
        raise ApplicationError(f"no {what} {row_id}", non_retryable=True)
    return row
