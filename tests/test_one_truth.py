"""Issue 10: the database, the workflow, its search attributes and the pages tell one story.

Resend and change of email after the seller moved on, a consent begun on a replaced link, the
page after Withdraw, and what ops do in the Temporal UI (Request Cancellation, Terminate, Reset).
Every check that depends on Temporal's visibility or on a workflow polls with a short deadline.
"""

import html
import re
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType
from temporalio.api.workflowservice.v1 import ResetWorkflowExecutionRequest
from temporalio.client import WorkflowExecutionStatus

from core.extensions import db
from core.requests import Authorization, RequestEvent
from tests.support import (
    Bookkeeper,
    Seller,
    connections,
    invitation_of,
    invitation_status,
    invite,
    invite_user,
    link_in,
    path_of,
    request_of,
    unique_email,
    wait_for_status,
)
from tests.test_ops import listed
from workflows.markdown import escape

LIVE_JS = Path(__file__).parents[1] / "web" / "static" / "live.js"
SETTLE = 10.0  # seconds: how long the app, the worker or visibility may take to catch up
NEW_DOMAIN = "new-domain.example"


# ---- helpers ---------------------------------------------------------------------------------


def eventually(check, explain, timeout: float = SETTLE):
    """Poll `check` until it returns something truthy; fail with `explain()` at the deadline."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError(explain())
        time.sleep(0.1)
    return result


def ask_seller(client, mailbox, account_name: str = "One Truth Ltd", **overrides):
    """A bookkeeper sends a request; returns (bookkeeper, account id, form sent, emailed link)."""
    bookkeeper = Bookkeeper(client).sign_up()
    account_id = bookkeeper.add_account(account_name)
    sent = bookkeeper.send_request(account_id, **overrides)
    link = link_in(mailbox.wait_for(sent["client_email"], "asks you to connect")[0])
    eventually(  # the delivery is on the timeline: the workflow now waits for the seller
        lambda: "delivered" in [kind for kind, _, _ in events_of(client.application, account_id)],
        lambda: f"timeline {events_of(client.application, account_id)}",
    )
    return bookkeeper, account_id, sent, link


def page_url(app, account_id: int) -> str:
    return f"/accounts/{account_id}/requests/{request_of(app, account_id).public_id}"


def events_of(app, account_id: int) -> list[tuple[str, str, str]]:
    """The request's timeline as (kind, actor, detail), oldest first."""
    request_id = request_of(app, account_id).id
    with app.app_context():
        return [
            (e.kind, e.actor, e.detail)
            for e in db.session.scalars(
                select(RequestEvent).filter_by(request_id=request_id).order_by(RequestEvent.id)
            )
        ]


def authorizations_of(app, account_id: int) -> int:
    request_id = request_of(app, account_id).id
    with app.app_context():
        return db.session.scalar(
            select(func.count()).select_from(Authorization).filter_by(request_id=request_id)
        )


def status_label(page: str) -> str:
    """The request's status badge as the page shows it."""
    match = re.search(r'data-status="[^"]*"[^>]*>([^<]*)<', page)
    assert match, f"no status badge on the page: {page[:2000]}"
    return match.group(1).strip()


def flashes(page: str) -> list[str]:
    """The flash messages shown on a page."""
    found = re.findall(r'<p class="flash[^"]*"[^>]*>(.*?)</p>', page, re.S)
    return [html.unescape(m.strip()) for m in found]


def found(loop, client, query: str) -> bool:
    """Whether Temporal's visibility finds anything for `query` right now."""

    async def any_found():
        async for _ in client.list_workflows(query):
            return True
        return False

    return loop.run(any_found())


def visible_text(page: str) -> str:
    """The page's visible text (flash messages included), on one line."""
    text = re.sub(r"<(style|script)[^>]*>.*?</\1>|<[^>]+>", " ", page, flags=re.S)
    return re.sub(r"\s+", " ", text)


def handle_of(temporal_env, target, latest: bool = False):
    """The Temporal handle of a request's or an invitation's run (or of its latest run)."""
    run_id = None if latest else target.workflow_run_id
    return temporal_env.client.get_workflow_handle(target.workflow_id, run_id=run_id)


def current_details(loop, handle) -> str:
    return loop.run(handle.query("__temporal_workflow_metadata")).current_details or ""


def mails_about(mailbox, address: str, words: str) -> list:
    """The messages to `address` whose subject contains `words` (any case)."""
    return [m for m in mailbox.to(address) if words.lower() in str(m["Subject"]).lower()]


def subjects(mailbox, address: str) -> list[str]:
    return [str(m["Subject"]) for m in mailbox.to(address)]


# ---- 1. Resend after the seller opened the link ----------------------------------------------


def test_resend_after_the_seller_opened_starts_over_at_sent(
    app, client, seller, mailbox, temporal_env, loop
):
    """A resend after the seller opened the link says Sent everywhere: row, query, ops, page."""
    _, account_id, _, link = ask_seller(client, mailbox, "Resent Opened Ltd")
    assert seller.client.post(path_of(link) + "/opened").status_code == 204
    request = wait_for_status(app, account_id, "opened")
    handle = handle_of(temporal_env, request)
    listed(loop, temporal_env.client, f'AccountId = "{account_id}" AND OnboardingStatus = "opened"')

    url = page_url(app, account_id)
    assert client.post(f"{url}/resend").status_code == 302
    sent_filter = f'WorkflowId = "{request.workflow_id}" AND OnboardingStatus = "sent"'

    def where_it_stands():
        return {
            "row": request_of(app, account_id).status,
            "status query": loop.run(handle.query("status"))["status"],
            "current details": current_details(loop, handle).split(" ", 1)[0],
            "OnboardingStatus is sent": found(loop, temporal_env.client, sent_filter),
            "page": status_label(client.get(url).text),
        }

    expected = {
        "row": "sent",
        "status query": "sent",
        "current details": "**Sent**",
        "OnboardingStatus is sent": True,
        "page": "Sent",
    }
    eventually(
        lambda: where_it_stands() == expected,
        lambda: f"after the resend: {where_it_stands()}",
    )


def test_opening_the_new_link_after_a_resend_is_recorded(app, client, seller, mailbox):
    """The seller opening the fresh link after a resend shows as Opened again, on the timeline."""
    _, account_id, sent, link = ask_seller(client, mailbox, "Reopened Ltd")
    seller.client.post(path_of(link) + "/opened")
    wait_for_status(app, account_id, "opened")
    assert client.post(f"{page_url(app, account_id)}/resend").status_code == 302
    fresh = link_in(mailbox.wait_for(sent["client_email"], "asks you to connect", count=2)[1])
    wait_for_status(app, account_id, "sent", timeout=5)

    assert seller.client.post(path_of(fresh) + "/opened").status_code == 204
    eventually(
        lambda: request_of(app, account_id).status == "opened",
        lambda: f"opening the fresh link left the status {request_of(app, account_id).status!r}",
    )
    kinds = [kind for kind, _, _ in events_of(app, account_id)]
    assert kinds.count("opened") == 2, kinds


# ---- 2. Change of email ----------------------------------------------------------------------


def test_change_of_email_moves_the_seller_email_domain(app, client, mailbox, temporal_env, loop):
    """After a change to another domain, ops find the request by the new SellerEmailDomain."""
    _, account_id, _, _ = ask_seller(client, mailbox, "New Domain Ltd")
    request = request_of(app, account_id)
    new = f"owner-{uuid.uuid4().hex[:8]}@{NEW_DOMAIN}"
    assert (
        client.post(f"{page_url(app, account_id)}/email", data={"client_email": new}).status_code
        == 302
    )
    mailbox.wait_for(new, "asks you to connect")

    query = f'AccountId = "{account_id}" AND SellerEmailDomain = "{NEW_DOMAIN}"'
    assert listed(loop, temporal_env.client, query, timeout=SETTLE) == [request.workflow_id]
    handle = handle_of(temporal_env, request)
    eventually(
        lambda: f"at {escape(NEW_DOMAIN)}" in current_details(loop, handle),
        lambda: f"current details do not name the new domain: {current_details(loop, handle)!r}",
    )


def test_change_to_the_same_address_is_a_plain_resend(app, client, mailbox):
    """Changing the email to the address it already has resends; it claims no change."""
    _, account_id, sent, _ = ask_seller(client, mailbox, "Same Address Ltd")
    url = page_url(app, account_id)
    before = len(events_of(app, account_id))

    response = client.post(f"{url}/email", data={"client_email": sent["client_email"]})
    assert response.status_code == 302
    said = flashes(client.get(response.headers["Location"]).text)
    assert [f for f in said if "fresh link" in f], said
    assert not [f for f in said if "links sent to the old address no longer work" in f], said
    mailbox.wait_for(sent["client_email"], "asks you to connect", count=2)

    added = events_of(app, account_id)[before:]
    kinds = [kind for kind, _, _ in added]
    assert "resent" in kinds and "email_changed" not in kinds, added
    assert not [d for _, _, d in events_of(app, account_id) if "to the new address" in d], added


def test_change_of_email_timeline_names_the_new_address(app, client, mailbox):
    """The timeline says the invitation went to the new address by its name."""
    _, account_id, sent, _ = ask_seller(client, mailbox, "Timeline Address Ltd")
    old, new = sent["client_email"], unique_email("new-owner")
    client.post(f"{page_url(app, account_id)}/email", data={"client_email": new})
    mailbox.wait_for(new, "asks you to connect")

    events = events_of(app, account_id)
    details = [d for _, _, d in events]
    assert f"Email changed from {old} to {new}" in details, details
    assert [
        d
        for kind, _, d in events
        if kind == "email_changed" and d.startswith(f"Sent the invitation to {new}")
    ], details
    assert not [d for d in details if "to the new address" in d], details


# ---- 3. A consent under way from a replaced link ---------------------------------------------


def consent_returns_after(app, client, seller, mailbox, account_name, replace):
    """Seller A presses Continue to Amazon on link 1; the bookkeeper calls `replace(url)`; A
    then confirms at Amazon and comes back. Returns (account id, form sent, A's answer)."""
    _, account_id, sent, link = ask_seller(client, mailbox, account_name)
    consent_url = seller.go_to_amazon(link)
    wait_for_status(app, account_id, "consent_started")
    replace(page_url(app, account_id))
    back = seller.return_from_amazon(seller.consent(consent_url, "seller-us@example.com"))
    return account_id, sent, back


@pytest.mark.parametrize("how", ["resend", "change_email"])
def test_consent_from_a_replaced_link_stores_nothing(app, client, seller, mailbox, amazon, how):
    """A consent begun before a resend or a change of email is refused on return: nothing is
    stored, and the newest link connects."""
    new = unique_email("new-owner")

    def replace(url):
        if how == "resend":
            answer = client.post(f"{url}/resend")
        else:
            answer = client.post(f"{url}/email", data={"client_email": new})
        assert answer.status_code == 302

    account_id, sent, back = consent_returns_after(
        app, client, seller, mailbox, f"Replaced By {how} Ltd", replace
    )
    assert back.status_code == 410, f"HTTP {back.status_code}: {visible_text(back.text)[:600]}"
    assert "This request was sent again" in back.text
    assert authorizations_of(app, account_id) == 0
    assert connections(app, account_id) == []
    assert request_of(app, account_id).status == "sent"

    to, count = (sent["client_email"], 2) if how == "resend" else (new, 1)
    fresh = link_in(mailbox.wait_for(to, "asks you to connect", count=count)[-1])
    other = Seller(app.test_client(), amazon)
    assert "<h1>Connected</h1>" in other.connect(fresh).text


def test_consent_after_withdraw_stores_nothing(app, client, seller, mailbox):
    """A consent begun before Withdraw is refused on return; nothing is stored."""

    def withdraw(url):
        assert client.post(f"{url}/cancel").status_code == 302
        account_id = int(url.split("/")[2])  # /accounts/<id>/requests/<public id>
        wait_for_status(app, account_id, "cancelled")

    account_id, _, back = consent_returns_after(
        app, client, seller, mailbox, "Withdrawn Consent Ltd", withdraw
    )
    assert back.status_code == 410 and "This request is closed" in back.text, back.text
    assert authorizations_of(app, account_id) == 0
    assert connections(app, account_id) == []


# ---- 4. The page after Withdraw, the Users page, the live status -----------------------------


def test_page_after_withdraw_shows_withdrawn(app, client, mailbox):
    """The page Withdraw leads to says Withdrawn and offers no Resend or Withdraw."""
    _, account_id, _, _ = ask_seller(client, mailbox, "Withdraw Page Ltd")
    response = client.post(f"{page_url(app, account_id)}/cancel")
    assert response.status_code == 302
    row = request_of(app, account_id).status  # as the POST returned, before the page loads
    page = client.get(response.headers["Location"]).text
    buttons = [b for b in ("Resend now", "Withdraw request") if b in page]
    assert (status_label(page), buttons) == ("Withdrawn", []), (
        f"the page after Withdraw says {status_label(page)!r} and offers {buttons}"
    )
    assert row == "cancelled", f"the row was {row!r} when Withdraw returned"


def test_users_page_right_after_inviting_shows_when_it_expires(app, client, mailbox):
    """The Users page right after inviting shows the invitation's expiry, in 14 days."""
    admin = Bookkeeper(client).sign_up()
    account_id = admin.add_account("Expires Column Ltd")
    email = unique_email("invitee")
    response = invite(admin, account_id, email)
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).text
    row = re.search(rf'<tr data-invitation="{re.escape(email)}">(.*?)</tr>', page, re.S)
    assert row, f"no pending invitation of {email} on the page"
    cells = [visible_text(c).strip() for c in re.findall(r"<td>(.*?)</td>", row.group(1), re.S)]
    assert "in 14 days" in cells, f"the invitation row reads {cells}"


def test_withdrawn_invitation_leaves_the_users_page_at_once(app, client, mailbox):
    """Withdrawing an invitation closes its row before the page shows; it is no longer pending."""
    _, account_id, email, _ = invite_user(client, mailbox, "Withdraw Invite Ltd")
    invitation = invitation_of(app, email)
    response = client.post(f"/accounts/{account_id}/invitations/{invitation.public_id}/cancel")
    assert response.status_code == 302
    row = invitation_status(app, email)  # as the POST returned, before the page loads
    pending = client.get(response.headers["Location"]).text.split("Pending invitations", 1)[1]
    assert email not in pending, "the withdrawn invitation is still listed as pending"
    assert row == "cancelled", f"the row was {row!r} when Withdraw returned"


def test_live_status_compares_with_the_state_the_page_was_rendered_with(
    app, client, seller, mailbox
):
    """Pages carry the version they were rendered with; the status JSON moves on after a change."""
    _, account_id, _, link = ask_seller(client, mailbox, "Live Version Ltd")
    status_url = f"/accounts/{account_id}/status"

    def rendered_version(url):
        match = re.search(r'data-live-version="([^"]*)"', client.get(url).text)
        assert match, f"{url} renders no data-live-version"
        return match.group(1)

    def current_version():
        answer = client.get(status_url).get_json()
        assert isinstance(answer.get("version"), str), f"no version in {answer}"
        return answer["version"]

    for url in (page_url(app, account_id), f"/accounts/{account_id}"):
        eventually(  # the workflow may still be recording the delivery: let it settle
            lambda url=url: rendered_version(url) == current_version(),
            lambda url=url: (
                f"{url} rendered {rendered_version(url)!r}, status {current_version()!r}"
            ),
            timeout=5,
        )
    rendered = rendered_version(page_url(app, account_id))
    seller.client.post(path_of(link) + "/opened")
    wait_for_status(app, account_id, "opened")
    assert current_version() != rendered, "a change after rendering leaves the version alone"
    script = LIVE_JS.read_text()
    assert re.search(r"liveVersion|data-live-version", script), "live.js ignores the version"


# ---- 5. Ops press Request Cancellation -------------------------------------------------------


def test_ops_request_cancellation_withdraws_the_request(
    app, client, seller, mailbox, temporal_env, loop
):
    """Request Cancellation in the Temporal UI withdraws the request in the app as well."""
    bookkeeper, account_id, _, link = ask_seller(client, mailbox, "Ops Cancelled Ltd")
    request = request_of(app, account_id)
    handle = handle_of(temporal_env, request)
    loop.run(handle.cancel())

    eventually(
        lambda: request_of(app, account_id).status == "cancelled",
        lambda: f"the request stayed {request_of(app, account_id).status!r}",
    )
    assert [e for e in events_of(app, account_id) if e[1] == "operations"], events_of(
        app, account_id
    )
    eventually(
        lambda: loop.run(handle.describe()).status == WorkflowExecutionStatus.CANCELED,
        lambda: f"the workflow is {loop.run(handle.describe()).status!r}",
    )
    listed(
        loop,
        temporal_env.client,
        f'AccountId = "{account_id}" AND OnboardingStatus = "cancelled"',
        timeout=SETTLE,
    )
    dead = seller.open_link(link)
    assert dead.status_code == 410 and "withdrawn" in dead.text
    eventually(
        lambda: mails_about(mailbox, bookkeeper.email, "withdrawn by operations"),
        lambda: f"the bookkeeper got {subjects(mailbox, bookkeeper.email)}",
    )
    assert "Ops Cancelled Ltd" not in client.get("/requests").text.split("<main>")[1]
    withdraw = client.post(f"{page_url(app, account_id)}/cancel")
    assert withdraw.status_code == 302, f"Withdraw answered HTTP {withdraw.status_code}"
    assert "already closed" in client.get(withdraw.headers["Location"]).text


def test_ops_request_cancellation_withdraws_the_invitation(
    app, client, mailbox, temporal_env, loop
):
    """Request Cancellation of a user invitation withdraws it in the app as well."""
    _, _, email, _ = invite_user(client, mailbox, "Ops Cancelled Invite Ltd")
    loop.run(handle_of(temporal_env, invitation_of(app, email)).cancel())
    eventually(
        lambda: invitation_status(app, email) == "cancelled",
        lambda: f"the invitation stayed {invitation_status(app, email)!r}",
    )


# ---- 6. Ops press Terminate, or Reset --------------------------------------------------------


def closed_by_operations(app, client, seller, mailbox, bookkeeper, account_id, link):
    """What every terminated request shows once the app noticed."""
    assert request_of(app, account_id).status == "closed"
    events = events_of(app, account_id)
    assert [e for e in events if e[:2] == ("closed", "operations")], events
    dead = seller.open_link(link)
    assert dead.status_code == 410 and "closed" in dead.text.lower(), dead.status_code
    eventually(
        lambda: mails_about(mailbox, bookkeeper.email, "closed by operations"),
        lambda: f"the bookkeeper got {subjects(mailbox, bookkeeper.email)}",
    )
    for _ in range(2):  # opening the page again tells nobody again
        client.get(page_url(app, account_id))
        seller.open_link(link)
    time.sleep(1.0)
    assert len(mails_about(mailbox, bookkeeper.email, "closed by operations")) == 1
    for action in ("cancel", "resend"):
        answer = client.post(f"{page_url(app, account_id)}/{action}")
        assert answer.status_code == 302, f"{action} answered HTTP {answer.status_code}"


def test_terminated_request_closes_when_its_page_is_opened(
    app, client, seller, mailbox, temporal_env, loop
):
    """After Terminate, the request page notices: Closed by operations, once, and stays usable."""
    bookkeeper, account_id, _, link = ask_seller(client, mailbox, "Terminated Page Ltd")
    loop.run(handle_of(temporal_env, request_of(app, account_id)).terminate("ops pressed it"))

    page = client.get(page_url(app, account_id))
    assert page.status_code == 200
    assert status_label(page.text) == "Closed by operations", (
        f"the page says {status_label(page.text)!r}; the row is"
        f" {request_of(app, account_id).status!r}"
    )
    closed_by_operations(app, client, seller, mailbox, bookkeeper, account_id, link)


def test_terminated_request_closes_when_the_seller_opens_the_link(
    app, client, seller, mailbox, temporal_env, loop
):
    """After Terminate, the seller's link notices: it answers closed, and the request is closed."""
    bookkeeper, account_id, _, link = ask_seller(client, mailbox, "Terminated Link Ltd")
    loop.run(handle_of(temporal_env, request_of(app, account_id)).terminate("ops pressed it"))

    dead = seller.open_link(link)
    assert dead.status_code == 410 and "closed" in dead.text.lower(), (
        f"the link answered HTTP {dead.status_code}; the row is"
        f" {request_of(app, account_id).status!r}"
    )
    closed_by_operations(app, client, seller, mailbox, bookkeeper, account_id, link)
    assert status_label(client.get(page_url(app, account_id)).text) == "Closed by operations"


def test_terminated_invitation_closes_and_tells_the_inviter_once(
    app, client, mailbox, temporal_env, loop
):
    """After Terminate, a user invitation is closed when its pages are opened; the inviter hears
    of it once."""
    admin, account_id, email, link = invite_user(client, mailbox, "Terminated Invite Ltd")
    loop.run(handle_of(temporal_env, invitation_of(app, email)).terminate("ops pressed it"))
    browser = app.test_client()

    def opened_and_closed():
        client.get(f"/accounts/{account_id}/users")
        browser.get(path_of(link))
        return invitation_status(app, email) == "closed"

    eventually(
        opened_and_closed, lambda: f"the invitation stayed {invitation_status(app, email)!r}"
    )
    eventually(
        lambda: mails_about(mailbox, admin.email, "closed by operations"),
        lambda: f"the inviter got {subjects(mailbox, admin.email)}",
    )
    opened_and_closed()
    time.sleep(1.0)
    assert len(mails_about(mailbox, admin.email, "closed by operations")) == 1


def test_reset_request_carries_on_under_the_new_run(app, client, mailbox, temporal_env, loop):
    """After ops Reset the workflow, the app follows the new run; the request stays open."""
    bookkeeper, account_id, sent, _ = ask_seller(client, mailbox, "Reset Run Ltd")
    request = request_of(app, account_id)
    handle = handle_of(temporal_env, request)
    history = loop.run(handle.fetch_history())
    last_task = max(
        e.event_id
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
    )
    client_ = temporal_env.client
    reset = loop.run(
        client_.workflow_service.reset_workflow_execution(
            ResetWorkflowExecutionRequest(
                namespace=client_.namespace,
                workflow_execution=WorkflowExecution(
                    workflow_id=request.workflow_id, run_id=request.workflow_run_id
                ),
                reason="ops pressed Reset",
                workflow_task_finish_event_id=last_task,
                request_id=str(uuid.uuid4()),
            )
        )
    )

    def opened_and_adopted():
        assert client.get(page_url(app, account_id)).status_code == 200
        return request_of(app, account_id).workflow_run_id == reset.run_id

    eventually(
        opened_and_adopted,
        lambda: (
            f"the row still names run {request_of(app, account_id).workflow_run_id}, not"
            f" the new run {reset.run_id}"
        ),
    )
    assert request_of(app, account_id).status == "sent"
    resent = client.post(f"{page_url(app, account_id)}/resend")
    assert "fresh link" in client.get(resent.headers["Location"]).text
    mailbox.wait_for(sent["client_email"], "asks you to connect", count=2)
    assert not mails_about(mailbox, bookkeeper.email, "closed by operations")


# ---- the status queries and the invitation's OnboardingStatus --------------------------------


def test_status_queries_name_their_row_and_invitations_show_their_status(
    app, client, mailbox, temporal_env, loop
):
    """The status queries carry the row's id; an invitation's OnboardingStatus is pending."""
    _, account_id, _, _ = ask_seller(client, mailbox, "Query Ids Ltd")
    request = request_of(app, account_id)
    answer = loop.run(handle_of(temporal_env, request).query("status"))
    assert answer.get("request_id") == request.id, f"the status query answers {sorted(answer)}"

    _, _, email, _ = invite_user(app.test_client(), mailbox, "Invitation Status Ltd")
    invitation = invitation_of(app, email)
    answer = loop.run(handle_of(temporal_env, invitation).query("status"))
    assert answer.get("invitation_id") == invitation.id, (
        f"the status query answers {sorted(answer)}"
    )
    query = f'WorkflowId = "{invitation.workflow_id}" AND OnboardingStatus = "pending"'
    listed(loop, temporal_env.client, query, timeout=SETTLE)
