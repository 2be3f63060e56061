"""After Connected, on the real stack: the connection's workflow checks it at Amazon, finds it
revoked when the seller removes the app, tells the bookkeeper once, and a reconnect brings it
back to life; a disconnect ends it and tells the owner how to remove the app at Amazon too."""

import re
import time
from datetime import timedelta

from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError

from core.accounts import AmazonConnection
from core.connection_life import connection_workflow_id
from core.extensions import db
from tests.support import Bookkeeper, connections, link_in, path_of, request_of, text_of
from tests.test_ops import documented_filters, listed
from vocabulary import search_attributes
from vocabulary.statuses import ConnectionState
from workflows.connection import ConnectionWorkflow

SELLER_ID = "A2DEMOUSSELL01"  # seller-us@example.com at the stand-in


def wait_until(check, what: str, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, f"waited {timeout} s for {what}"
        time.sleep(0.1)
    return found


def connection_of(app, account_id) -> AmazonConnection | None:
    with app.app_context():
        found = db.session.scalars(db.select(AmazonConnection).filter_by(account_id=account_id))
        return found.first()


def connected(client, seller, mailbox, name: str) -> tuple[Bookkeeper, int, dict]:
    bookkeeper = Bookkeeper(client).sign_up()
    account_id = bookkeeper.add_account(name)
    sent = bookkeeper.send_request(account_id, marketplace="US", client_name="Sam Seller")
    link = link_in(mailbox.wait_for(sent["client_email"], "asks you to connect")[0])
    assert "<h1>Connected</h1>" in seller.connect(link).text
    return bookkeeper, account_id, sent


def described(loop, temporal_env, connection_id: int):
    """The latest run of the connection's workflow, or None before there is one."""
    handle = temporal_env.client.get_workflow_handle(connection_workflow_id(connection_id))
    try:
        return loop.run(handle.describe())
    except RPCError:
        return None


def run_of(loop, temporal_env, connection_id: int, status: WorkflowExecutionStatus, what: str):
    """Wait for the latest run of the connection's workflow to be in `status`."""
    return wait_until(
        lambda: (d := described(loop, temporal_env, connection_id)) and d.status == status and d,
        what,
    )


def test_checked_then_revoked_told_once_and_brought_back_by_a_reconnect(
    app, client, seller, mailbox, amazon_faults, config, loop, temporal_env
):
    config["CONNECTION_CHECK_EVERY"] = timedelta(seconds=2)
    bookkeeper, account_id, sent = connected(client, seller, mailbox, "Checked Ltd")
    connection = connection_of(app, account_id)
    wait_until(lambda: connection_of(app, account_id).checked_at, "the first check")
    wait_until(lambda: mailbox.wait_for(bookkeeper.email, "is connected to Amazon"), "confirmed")
    page = client.get(f"/accounts/{account_id}").text
    assert "Connected · ready" in page and "Checked" in page
    running = run_of(
        loop, temporal_env, connection.id, WorkflowExecutionStatus.RUNNING, "its workflow"
    )
    status = running.typed_search_attributes.get(search_attributes.CONNECTION_STATUS)
    assert status == ConnectionState.HEALTHY

    # The seller removes the app in Seller Central.
    amazon_faults.control("revoke", {"selling_partner_id": SELLER_ID})
    wait_until(lambda: connection_of(app, account_id).status == ConnectionState.REVOKED, "revoked")
    [told] = mailbox.wait_for(bookkeeper.email, "was revoked")
    assert "Checked Ltd (United States (US))" in told["Subject"]
    ended = run_of(loop, temporal_env, connection.id, WorkflowExecutionStatus.COMPLETED, "its end")
    revoked = ended.typed_search_attributes.get(search_attributes.CONNECTION_STATUS)
    assert revoked == ConnectionState.REVOKED
    page = client.get(f"/accounts/{account_id}").text
    assert "Access revoked" in page and "Ask Sam Seller to reconnect" in page
    assert len([m for m in mailbox.to(bookkeeper.email) if "was revoked" in m["Subject"]]) == 1

    # One click from the email: the same request again, previewed, then sent.
    renew = re.search(r"https?://\S+/renew", text_of(told)).group(0)
    preview = client.get(path_of(renew))
    assert preview.status_code == 303
    page = client.get(preview.headers["Location"]).text
    draft = re.search(r'name="draft" value="([^"]+)"', page).group(1)
    url = f"/accounts/{account_id}/connect/request/send"
    assert client.post(url, data={"draft": draft}).status_code == 303
    link = link_in(mailbox.wait_for(sent["client_email"], "asks you to connect", count=2)[-1])
    assert "<h1>Connected</h1>" in seller.connect(link).text
    again = connection_of(app, account_id)
    assert (again.id, again.status) == (connection.id, ConnectionState.HEALTHY)
    assert len(connections(app, account_id)) == 1
    # Started once the confirmation emails are out, a moment after the seller's page.
    back = wait_until(
        lambda: (
            (d := described(loop, temporal_env, connection.id)) and d.run_id != ended.run_id and d
        ),
        "a new life for the connection",
    )
    assert back.status == WorkflowExecutionStatus.RUNNING


def test_disconnect_ends_its_life_and_tells_the_owner_how_to_remove_the_app(
    app, client, seller, mailbox, loop, temporal_env
):
    bookkeeper, account_id, sent = connected(client, seller, mailbox, "Parting Ltd")
    connection = connection_of(app, account_id)
    wait_until(lambda: mailbox.wait_for(bookkeeper.email, "is connected to Amazon"), "confirmed")
    running = run_of(
        loop, temporal_env, connection.id, WorkflowExecutionStatus.RUNNING, "its workflow"
    )
    url = f"/accounts/{account_id}/connections/{connection.id}/disconnect"
    assert "gets an email saying so" in client.get(url).text
    answer = client.post(url, follow_redirects=True)
    assert "Amazon US disconnected" in answer.text
    assert connection_of(app, account_id) is None
    [told] = mailbox.wait_for(sent["client_email"], "is disconnected from")
    assert "Manage Your Apps" in text_of(told)
    assert told["Reply-To"] == bookkeeper.email
    ended = run_of(loop, temporal_env, connection.id, WorkflowExecutionStatus.COMPLETED, "its end")
    assert ended.run_id == running.run_id  # the signal ended the life it had, no new one
    gone = ended.typed_search_attributes.get(search_attributes.CONNECTION_STATUS)
    assert gone == ConnectionState.DISCONNECTED


def test_after_ops_terminate_its_workflow_the_page_stands_and_a_disconnect_still_tells_the_owner(
    app, client, seller, mailbox, loop, temporal_env
):
    bookkeeper, account_id, sent = connected(client, seller, mailbox, "Terminated Ltd")
    connection = connection_of(app, account_id)
    running = run_of(
        loop, temporal_env, connection.id, WorkflowExecutionStatus.RUNNING, "its workflow"
    )
    handle = temporal_env.client.get_workflow_handle(connection_workflow_id(connection.id))
    loop.run(handle.terminate(reason="ops, trying the button"))
    page = client.get(f"/accounts/{account_id}")
    assert page.status_code == 200 and "Connected · ready" in page.text

    url = f"/accounts/{account_id}/connections/{connection.id}/disconnect"
    assert "Amazon US disconnected" in client.post(url, follow_redirects=True).text
    [told] = mailbox.wait_for(sent["client_email"], "is disconnected from")
    assert "Manage Your Apps" in text_of(told)
    ended = run_of(
        loop, temporal_env, connection.id, WorkflowExecutionStatus.COMPLETED, "a run to tell"
    )
    assert ended.run_id != running.run_id  # started by the disconnect, for the owner's email


def test_an_authorization_past_its_lifetime_lapses_and_the_bookkeeper_is_asked_to_renew(
    app, client, seller, mailbox, amazon_faults, config
):
    config["CONNECTION_CHECK_EVERY"] = timedelta(seconds=1)
    # Amazon's year, in seconds; the app counts from storing, a moment after Amazon's grant.
    config["AMAZON_AUTHORIZATION_LIFETIME"] = timedelta(seconds=2)
    config["RENEWAL_REMINDERS"] = []  # no time to ask: it lapses
    amazon_faults.control("authorization-lifetime", {"seconds": 3})
    bookkeeper, account_id, _ = connected(client, seller, mailbox, "Lapsing Ltd")
    wait_until(lambda: connection_of(app, account_id).status == ConnectionState.LAPSED, "lapsed")
    [told] = mailbox.wait_for(bookkeeper.email, "lapsed")
    assert "Ask Sam Seller to renew it" in text_of(told)
    page = client.get(f"/accounts/{account_id}").text
    assert "Authorization lapsed" in page and "Ask Sam Seller to reconnect" in page


def test_the_owner_is_asked_to_renew_before_it_ends_and_renewing_restarts_the_clock(
    app, client, seller, mailbox, amazon_faults, config, loop, temporal_env
):
    config["CONNECTION_CHECK_EVERY"] = timedelta(minutes=5)  # checks stay out of the way
    config["AMAZON_AUTHORIZATION_LIFETIME"] = timedelta(seconds=40)
    config["RENEWAL_REMINDERS"] = [timedelta(seconds=36), timedelta(seconds=30)]
    amazon_faults.control("authorization-lifetime", {"seconds": 60})
    bookkeeper, account_id, sent = connected(client, seller, mailbox, "Renewing Ltd")
    first = connection_of(app, account_id)

    # Four seconds in: the owner is asked, the bookkeeper told, and a reminder follows.
    [asked] = mailbox.wait_for(sent["client_email"], "renew Renewing Ltd's Amazon connection")
    assert "Continue to renew" in text_of(asked) and "ends on" in text_of(asked)
    [note] = mailbox.wait_for(bookkeeper.email, "Renewal due")
    assert "Nothing for you to do now" in text_of(note)
    wait_until(
        lambda: connection_of(app, account_id).status == ConnectionState.RENEWAL_DUE,
        "renewal due",
    )
    page = client.get(f"/accounts/{account_id}").text
    assert "Renewal due" in page and "waiting for Sam Seller to renew Amazon US" in page
    life = run_of(loop, temporal_env, first.id, WorkflowExecutionStatus.RUNNING, "its workflow")
    handle = temporal_env.client.get_workflow_handle(connection_workflow_id(first.id))
    wait_until(
        lambda: (
            loop.run(handle.describe()).typed_search_attributes.get(
                search_attributes.CONNECTION_STATUS
            )
            == ConnectionState.RENEWAL_DUE
        ),
        "ConnectionStatus renewal_due",
    )
    reminded = mailbox.wait_for(
        sent["client_email"], "renew Renewing Ltd's Amazon connection", count=2
    )
    assert "left" in reminded[-1]["Subject"]
    # Ops' runbook queries find both: the connection due, and its renewal request reminded.
    due, waiting = [
        q for q in documented_filters() if "renewal_due" in q or "ParentWorkflowId" in q
    ]
    mine = f' AND AccountId = "{account_id}"'
    assert listed(loop, temporal_env.client, due + mine) == [connection_workflow_id(first.id)]
    assert listed(loop, temporal_env.client, waiting + mine) == [
        f"connection-request-{account_id}-US"
    ]

    # The seller renews from the latest email: the same trusted landing page and consent.
    link = link_in(reminded[-1])
    landing = seller.open_link(link)
    assert "Renew Renewing Ltd's Amazon account" in landing.text
    assert "<h1>Renewed</h1>" in seller.connect(link).text
    renewed = connection_of(app, account_id)
    assert (renewed.id, renewed.status) == (first.id, ConnectionState.HEALTHY)
    assert renewed.authorized_at > first.authorized_at
    [done] = mailbox.wait_for(bookkeeper.email, "Renewed:")
    assert "another year" in text_of(done)

    # The same life goes on, its clock restarted; the renewal's reminders stop.
    def restarted():
        status = loop.run(handle.query(ConnectionWorkflow.status))
        return status if status.authorized_at is not None and status.status == "healthy" else None

    status = wait_until(restarted, "the clock restarted")
    assert status.authorized_at.replace(tzinfo=None) == renewed.authorized_at
    assert status.renewal_at == status.authorized_at + timedelta(seconds=4)
    assert loop.run(handle.describe()).run_id == life.run_id
    page = client.get(f"/accounts/{account_id}").text
    assert "Connected · ready" in page and "Renewal due" not in page
    wait_until(  # one truth: what ops see agrees with the page, the row and the query
        lambda: (
            loop.run(handle.describe()).typed_search_attributes.get(
                search_attributes.CONNECTION_STATUS
            )
            == ConnectionState.HEALTHY
        ),
        "ConnectionStatus healthy again",
    )
    renewal = request_of(app, account_id)
    assert (renewal.purpose, renewal.status) == ("renew", "connected")  # no more reminders


def test_a_life_ops_ended_in_temporal_is_started_again_by_the_reconciliation(
    app, client, seller, mailbox, loop, temporal_env
):
    """Terminate or Cancel in the Temporal UI stops a connection's checks and its renewal: the
    reconciliation gives it a new run (once), from what its row says, and the timeline says so."""
    from tests.test_reconcile import reconcile_now

    _, account_id, _ = connected(client, seller, mailbox, "Restarted Ltd")
    connection = connection_of(app, account_id)
    first = run_of(loop, temporal_env, connection.id, WorkflowExecutionStatus.RUNNING, "its life")
    with app.app_context():  # stored a while ago: its own start is long done
        row = db.session.get(AmazonConnection, connection.id)
        row.connected_at -= timedelta(minutes=5)
        db.session.commit()
    handle = temporal_env.client.get_workflow_handle(connection_workflow_id(connection.id))
    for stop, ended in (
        (handle.terminate, WorkflowExecutionStatus.TERMINATED),
        (handle.cancel, WorkflowExecutionStatus.CANCELED),
    ):
        before = run_of(loop, temporal_env, connection.id, WorkflowExecutionStatus.RUNNING, "run")
        loop.run(stop())
        run_of(loop, temporal_env, connection.id, ended, f"it {ended.name.lower()}")
        assert reconcile_now(app, temporal_env, loop).restarted >= 1
        again = run_of(loop, temporal_env, connection.id, WorkflowExecutionStatus.RUNNING, "again")
        assert again.run_id not in (before.run_id, first.run_id)
        assert again.typed_search_attributes.get(search_attributes.ACCOUNT_ID) == str(account_id)
    reconcile_now(app, temporal_env, loop)  # running: left alone
    latest = run_of(loop, temporal_env, connection.id, WorkflowExecutionStatus.RUNNING, "same")
    assert latest.run_id == again.run_id
    renewal = request_of(app, account_id)
    with app.app_context():
        kinds = [e.kind for e in db.session.get(type(renewal), renewal.id).events]
    assert kinds.count("restarted") == 2
