"""What became of a bookkeeper's change to an open request or invitation (resend, new address,
withdraw), in words the bookkeeper can act on: the services return it, the views show it."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError

from services import gateway, reconcile


@dataclass
class Change:
    done: bool
    message: str
    level: str  # success | error | info, as the page's notice is styled
    answer: Any = None  # the workflow's status after the change, when it answered


def apply(
    row, method: Callable, arg: Any, done: str, undo: Callable[[], None] | None = None
) -> Change:
    """Run the update `method` on row's workflow (it answers once the row is written); `undo`
    runs when the workflow refused it (a resend gives its cooldown back)."""
    try:
        answer = gateway.update(row, method, arg)
    except WorkflowUpdateFailedError as err:
        if undo:
            undo()
        return Change(False, f"Not done: {err.cause.message if err.cause else err}", "error")
    except RPCError:
        # Its workflow is gone (ops terminated it in Temporal): the row catches up now.
        reconcile.check(row)
        return Change(False, f"Not done: this {row.NOUN} is already closed.", "error")
    except TimeoutError:
        return Change(False, "That is taking longer than usual; check again in a minute.", "info")
    return Change(True, done, "success", answer)
