"""Emails about a login itself: finish signing up, already signed up, reset the password."""

from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.accounts import AccountEmailActivities
    from vocabulary.messages import AccountEmailInput
    from vocabulary.policies import EMAIL_RETRY, SHORT


@dataclass
class AccountEmailResult:
    sent: bool


@workflow.defn
class AccountEmailWorkflow:
    """Sends one account email durably, so sign-up and password reset answer at once.

    The web app starts one for every sign-up and every reset request, also for addresses that
    have no login (the activity then sends nothing): the page and its timing give nothing away.
    """

    @workflow.run
    async def run(self, input: AccountEmailInput) -> AccountEmailResult:
        sent = await workflow.execute_activity_method(
            AccountEmailActivities.send_account_email,
            input,
            start_to_close_timeout=SHORT,
            schedule_to_close_timeout=timedelta(hours=1),
            retry_policy=EMAIL_RETRY,
            summary=f"Email: {input.purpose.replace('_', ' ')}",
        )
        return AccountEmailResult(bool(sent.recipients))
