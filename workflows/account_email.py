"""Emails about a login itself: finish signing up, already signed up, reset the password."""

from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.accounts import AccountEmailActivities
    from vocabulary.messages import AccountEmailInput
    from workflows.emailing import send_email


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
        sent = await send_email(
            AccountEmailActivities.send_account_email,
            input,
            f"Email: {input.purpose.replace('_', ' ')}",
            deadline=timedelta(hours=1),
        )
        return AccountEmailResult(bool(sent.recipients))
