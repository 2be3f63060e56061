"""Ops' Request Cancellation, however it reaches workflow code: as asyncio's CancelledError
between steps, or, while an activity runs, as that activity's failure (an ActivityError whose
cause is Temporal's CancelledError). Steps that handle their activity's failures must not take
the latter for a failure of the step."""

import asyncio

from temporalio.exceptions import ActivityError, CancelledError


def is_cancellation(err: BaseException) -> bool:
    return isinstance(err, asyncio.CancelledError) or (
        isinstance(err, ActivityError) and isinstance(err.cause, CancelledError)
    )


def reraise_cancellation(err: ActivityError) -> None:
    """Inside `except ActivityError`: let ops' cancellation go on up as a cancellation."""
    if is_cancellation(err):
        raise asyncio.CancelledError() from err
