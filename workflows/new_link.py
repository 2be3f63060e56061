"""A seller with an expired link asks for a new one: tell the bookkeeper, durably."""

from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.connections import ConnectionActivities
    from activities.emails import EmailActivities
    from vocabulary.messages import EventInput, NoticeInput
    from vocabulary.notices import RequestNotice
    from vocabulary.policies import SHORT
    from workflows.emailing import send_email


@dataclass
class NewLinkAskedInput:
    request_id: int


@dataclass
class NewLinkAskedResult:
    notified: bool


@workflow.defn
class NewLinkAskedWorkflow:
    """Emails the bookkeeper that the seller asked for a new link, and notes it on the timeline.

    Its id carries the request and the day, so a seller pressing the button again the same day
    is refused by Temporal: at most one such email per request per day.
    """

    @workflow.run
    async def run(self, input: NewLinkAskedInput) -> NewLinkAskedResult:
        await send_email(
            EmailActivities.send_notice,
            NoticeInput(input.request_id, RequestNotice.NEW_LINK_ASKED),
            "Tell the bookkeeper the seller asked for a new link",
            deadline=timedelta(days=1),
        )
        await workflow.execute_activity_method(
            ConnectionActivities.record_event,
            EventInput(input.request_id, "new_link_asked", "seller", "Asked for a new link"),
            start_to_close_timeout=SHORT,
            summary="Timeline: seller asked for a new link",
        )
        return NewLinkAskedResult(True)
