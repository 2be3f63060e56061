"""How a workflow sends an email: an activity that retries with EMAIL_RETRY until `deadline`
(None: for as long as it takes). Deterministic: it only schedules the activity."""

from datetime import timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from vocabulary.policies import EMAIL_RETRY, SHORT


async def send_email(method: Any, arg: Any, summary: str, deadline: timedelta | None = None) -> Any:
    """Run the email activity `method(arg)`; returns its result."""
    return await workflow.execute_activity_method(
        method,
        arg,
        start_to_close_timeout=SHORT,
        schedule_to_close_timeout=deadline,
        retry_policy=EMAIL_RETRY,
        summary=summary,
    )
