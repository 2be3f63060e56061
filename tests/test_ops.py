"""What ops see in Temporal: search attributes, documented filters, the status query, details."""

import re
import time
from pathlib import Path

import pytest

from tests.support import Bookkeeper, link_in, path_of, request_of, wait_for_status
from vocabulary.messages import RequestStatus

DOC = Path(__file__).parents[1] / "docs" / "operations.md"


def listed(loop, client, query: str, timeout: float = 15) -> list:
    """Poll visibility (eventually consistent) until the query finds something."""
    deadline = time.monotonic() + timeout

    async def ids():
        return [e.id async for e in client.list_workflows(query)]

    while not (found := loop.run(ids())):
        assert time.monotonic() < deadline, f"nothing matched {query}"
        time.sleep(0.2)
    return found


def test_search_attributes_status_query_and_details(
    app, client, seller, mailbox, temporal_env, loop
):
    bookkeeper = Bookkeeper(client).sign_up()
    account_id = bookkeeper.add_account("Ops Visible Ltd")
    sent = bookkeeper.send_request(account_id, marketplace="UK")
    link = link_in(mailbox.wait_for(sent["client_email"], "asks you to connect")[0])
    request = request_of(app, account_id)
    assert request.workflow_id == f"connection-request-{account_id}-UK"

    query = (
        f'AccountId = "{account_id}" AND Marketplace = "UK" AND SellerEmailDomain = "example.com"'
        ' AND OnboardingStatus = "sent"'
    )
    assert listed(loop, temporal_env.client, query) == [request.workflow_id]

    handle = temporal_env.client.get_workflow_handle(request.workflow_id)
    status = loop.run(handle.query("status", result_type=RequestStatus))
    assert status.status == "sent" and status.reminders_total == 3 and status.open

    seller.client.post(path_of(link) + "/opened")
    wait_for_status(app, account_id, "opened")
    listed(loop, temporal_env.client, f'AccountId = "{account_id}" AND OnboardingStatus = "opened"')

    description = loop.run(handle.describe())
    summary = loop.run(description.static_summary())
    assert summary == "Connect Ops Visible Ltd to Amazon UK"
    details = loop.run(handle.query("__temporal_workflow_metadata"))
    assert "**Opened** · Ops Visible Ltd · Amazon UK" in details.current_details

    seller.connect(link, "seller-eu@example.com")
    wait_for_status(app, account_id, "connected")
    listed(
        loop, temporal_env.client, f'AccountId = "{account_id}" AND OnboardingStatus = "connected"'
    )


def documented_filters() -> list[str]:
    return re.findall(r"```query\n(.+?)\n```", DOC.read_text(), re.S)


def test_documented_filters_run(temporal_env, loop):
    filters = documented_filters()
    assert len(filters) >= 6

    async def run(query):
        return [e.id async for e in temporal_env.client.list_workflows(query)]

    for query in filters:
        loop.run(run(query))  # the server rejects a malformed filter


def test_awaiting_seller_filter_finds_open_requests(app, client, mailbox, temporal_env, loop):
    bookkeeper = Bookkeeper(client).sign_up()
    account_id = bookkeeper.add_account()
    bookkeeper.send_request(account_id, marketplace="CA")
    [stuck] = [f for f in documented_filters() if "7 days" in f or "StartTime <" in f]
    cutoff = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 60))
    query = re.sub(r'StartTime < "[^"]+"', f'StartTime < "{cutoff}"', stuck)
    found = listed(loop, temporal_env.client, f'{query} AND AccountId = "{account_id}"')
    assert found == [f"connection-request-{account_id}-CA"]


@pytest.mark.slow
def test_failing_mail_server_is_flagged_and_nothing_is_lost(
    app, client, mailbox, temporal_env, loop
):
    """SMTP refuses for a while: sending still answers at once; ops can find the request; the
    emails go out once it recovers, each exactly once."""
    bookkeeper = Bookkeeper(client).sign_up()
    account_id = bookkeeper.add_account("Mail Down Ltd")
    mailbox.unavailable = True
    try:
        started = time.monotonic()
        sent = bookkeeper.send_request(account_id)
        assert time.monotonic() - started < 3
        workflow_id = f"connection-request-{account_id}-US"
        query = f'StuckReason = "email_failing" AND AccountId = "{account_id}"'
        assert listed(loop, temporal_env.client, query, timeout=90) == [workflow_id]
    finally:
        mailbox.unavailable = False
    assert len(mailbox.wait_for(sent["client_email"], "asks you to connect", timeout=90)) == 1
    mailbox.wait_for(bookkeeper.email, "Request sent")

    async def still_flagged():
        return [e.id async for e in temporal_env.client.list_workflows(query)]

    deadline = time.monotonic() + 15
    while loop.run(still_flagged()):
        assert time.monotonic() < deadline, "StuckReason was not cleared"
        time.sleep(0.2)
    assert len(mailbox.to(sent["client_email"])) == 1
