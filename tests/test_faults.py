"""Faults against the real processes (harness/product.py): parts killed, stopped and restarted
with signals, the mail server down, Amazon failing, the database locked, a slow link to Temporal.

Every part is its own OS process configured by environment variables, as under `make run`;
people use the product over HTTP with CSRF on. One set of processes serves the whole module; the
`healthy` fixture restarts whatever the test before left down.
"""

import asyncio
import time

import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError

from harness.drivers import connected, describe_page
from harness.processes import wait_until
from harness.product import Product
from vocabulary.messages import ConnectionRequestResult, RequestStatus

CONNECTED_BOOKKEEPER = "is connected to Amazon US and ready"
CONNECTED_SELLER = "You connected"
INVITATION = "asks you to connect"
INVITATION_COPY = "Request sent"
OPEN_AND_SENT = 'ExecutionStatus = "Running" AND OnboardingStatus = "sent"'


@pytest.fixture(scope="module")
def product(tmp_path_factory):
    with Product(tmp_path_factory.mktemp("faults")) as product:
        yield product


@pytest.fixture(autouse=True)
def healthy(product):
    """Every part up, mail accepted, no Amazon faults; on failure, this test's log lines."""
    product.ensure_up()
    product.amazon_reset()
    marks = product.log_marks()
    yield
    product.mailbox.unavailable = False
    print(product.logs_since(marks))  # pytest shows it only for a failed test


# --- helpers ---------------------------------------------------------------------------------


def workflow_id(account_id: int) -> str:
    return f"connection-request-{account_id}-US"


def connection_rows(product: Product, account_id: int) -> int:
    [(count,)] = product.db_rows(
        "SELECT count(*) FROM amazon_connections WHERE account_id = ?", account_id
    )
    return count


def request_status(product: Product, account_id: int) -> str:
    [(status,)] = product.db_rows(
        "SELECT status FROM connection_requests WHERE account_id = ? ORDER BY id DESC LIMIT 1",
        account_id,
    )
    return status


def pending_activities(product: Product, workflow: str) -> list:
    async def describe():
        description = await product.handle(workflow).describe()
        return list(description.raw_description.pending_activities)

    return product.run(describe())


def execution_status(product: Product, workflow: str) -> WorkflowExecutionStatus:
    async def describe():
        return (await product.handle(workflow).describe()).status

    return product.run(describe())


def result_of(product: Product, workflow: str, timeout: float) -> ConnectionRequestResult:
    async def result():
        handle = product.handle(workflow, result_type=ConnectionRequestResult)
        return await asyncio.wait_for(handle.result(), timeout)

    return product.run(result(), timeout + 5)


def one_email_each(product: Product, *expected: tuple[str, str]) -> None:
    """Exactly one email (one Message-ID: a retried send keeps it) per recipient and subject."""
    for address, subject in expected:
        ids = product.mailbox.message_ids(address, subject)
        deliveries = len(product.mailbox.matching(address, subject))
        assert len(ids) == 1, f"{len(ids)} emails ({deliveries} sent) {subject!r} to {address}"


def invited(product: Product, name: str) -> tuple:
    """A new bookkeeper, a client account, a sent request and the seller's emailed link."""
    bookkeeper = product.bookkeeper()
    account_id = bookkeeper.add_account(name)
    sent = bookkeeper.send_request(account_id)
    return bookkeeper, account_id, sent, product.invitation_link(sent["client_email"])


# --- 1. worker killed --------------------------------------------------------------------------


@pytest.mark.slow
def test_worker_killed_between_exchange_and_confirmation(product):
    """kill -9 of the worker once the connection is stored and the confirmations are being
    refused; mail comes back; the worker restarts: one connection, one confirmation each."""
    bookkeeper, account_id, sent, link = invited(product, "Kill Nine Ltd")
    seller = product.seller()
    redirect = seller.consent(link)
    workflow = workflow_id(account_id)

    product.mailbox.unavailable = True  # 451 to every message: the confirmations cannot go out
    try:
        outcome = seller.return_from_amazon(redirect)
        assert connected(outcome), describe_page(outcome)
        wait_until(lambda: connection_rows(product, account_id) == 1, 30, "the stored connection")
        # The workflow is in its last step: a confirmation was refused and waits for a retry.
        wait_until(
            lambda: any(
                a.activity_type.name == "send_notice" and a.attempt >= 2
                for a in pending_activities(product, workflow)
            ),
            30,
            "a refused confirmation waiting for its retry",
        )
        assert product.mailbox.matching(bookkeeper.email, CONNECTED_BOOKKEEPER) == []
        product.worker.kill9()
    finally:
        product.mailbox.unavailable = False
    product.worker.start()

    assert result_of(product, workflow, timeout=120).status == "connected"
    assert connection_rows(product, account_id) == 1
    assert request_status(product, account_id) == "connected"
    one_email_each(
        product,
        (bookkeeper.email, CONNECTED_BOOKKEEPER),
        (sent["client_email"], CONNECTED_SELLER),
        (sent["client_email"], INVITATION),
    )


# --- 2. Temporal restarted ---------------------------------------------------------------------


@pytest.mark.slow
def test_temporal_restart_keeps_open_requests(product):
    """SIGTERM to the Temporal dev server, and a start on the same SQLite file, with 100 open
    requests: all still open, and a seller can finish any of them."""
    bookkeeper = product.bookkeeper()
    # Sent while the worker is down, so that no invitation runs before its request row is
    # committed (that race is test_request_row_committed_before_its_workflow_runs).
    product.worker.stop()
    sent = []
    for number in range(100):  # one client account each: one open request per account
        account_id = bookkeeper.add_account(f"Hundred Shops {number:03}")
        sent.append((account_id, bookkeeper.send_request(account_id)["client_email"]))
    product.worker.start()
    deadline = time.monotonic() + 120
    for _, client_email in sent:
        product.mailbox.wait_for(client_email, INVITATION, timeout=deadline - time.monotonic())
    ids = {workflow_id(account) for account, _ in sent}
    assert ids <= set(product.list_ids(OPEN_AND_SENT))

    assert product.temporal.stop() == 0, "the dev server did not exit cleanly on SIGTERM"
    account_id, client_email = sent[37]
    link = product.invitation_link(client_email)
    seller = product.seller()
    assert seller.get(link).status_code == 200  # the landing page needs no Temporal
    product.temporal.start()

    running = set(product.list_ids(OPEN_AND_SENT))
    assert ids <= running, f"{len(ids - running)} of the 100 requests are no longer open"

    async def statuses():
        return await asyncio.gather(
            *(product.handle(w).query("status", result_type=RequestStatus) for w in sorted(ids))
        )

    answers = product.run(statuses(), timeout=120)
    assert {(a.status, a.open) for a in answers} == {("sent", True)}
    placeholders = ",".join("?" * len(sent))
    in_db = product.db_rows(
        f"SELECT status, count(*) FROM connection_requests WHERE account_id IN ({placeholders})"
        " GROUP BY status",
        *(account for account, _ in sent),
    )
    assert in_db == [("sent", 100)]

    # The worker found the restarted server by itself, and one of the hundred can be finished.
    wait_until(product.worker_polls, 60, "the worker polling the restarted server")
    outcome = seller.return_from_amazon(seller.consent(link))
    assert connected(outcome), describe_page(outcome)
    assert result_of(product, workflow_id(account_id), timeout=60).status == "connected"
    assert connection_rows(product, account_id) == 1
    one_email_each(product, (bookkeeper.email, CONNECTED_BOOKKEEPER))
    assert ids - set(product.list_ids(OPEN_AND_SENT)) == {workflow_id(account_id)}


# --- 3. SMTP down --------------------------------------------------------------------------------


@pytest.mark.slow
def test_smtp_down_for_a_minute(product):
    """The mail server down (connections refused) for 60 s: sending answers at once, ops see the
    failing activity, and the emails go out, once each, when it is back."""
    down_for = 60.0
    bookkeeper = product.bookkeeper()
    account_id = bookkeeper.add_account("Mail Down Ltd")
    workflow = workflow_id(account_id)
    stuck = f'StuckReason = "email_failing" AND AccountId = "{account_id}"'
    product.mailbox.stop()
    down_at = time.monotonic()
    try:
        sent = bookkeeper.send_request(account_id)
        assert sent["send_seconds"] < 2, f"'Send' answered after {sent['send_seconds']:.1f} s"

        # Flagged after 5 failed tries (2 s doubling: about 30 s).
        assert wait_until(lambda: product.list_ids(stuck), 55, "StuckReason") == [workflow]
        [failing] = wait_until(
            lambda: [
                a
                for a in pending_activities(product, workflow)
                if a.activity_type.name == "send_invitation" and a.attempt > 1
            ],
            20,
            "the email activity retrying",
        )
        assert "refused" in failing.last_failure.message.lower(), failing
        assert request_status(product, account_id) == "sent"
        assert product.mailbox.to(sent["client_email"]) == []
        time.sleep(max(0.0, down_for - (time.monotonic() - down_at)))
    finally:
        product.mailbox.start()

    # The next try after a minute down comes within ~35 s (the backoff doubles from 2 s).
    product.mailbox.wait_for(sent["client_email"], INVITATION, timeout=90)
    product.mailbox.wait_for(bookkeeper.email, INVITATION_COPY, timeout=30)
    wait_until(lambda: not product.list_ids(stuck), 30, "StuckReason cleared")
    one_email_each(product, (sent["client_email"], INVITATION), (bookkeeper.email, INVITATION_COPY))


# --- 4. web app restarted ------------------------------------------------------------------------


@pytest.mark.slow
def test_web_restart_between_consent_and_callback(product):
    """The web app restarts (SIGTERM, start) while the seller is at Amazon's consent page."""
    bookkeeper, account_id, sent, link = invited(product, "Restart Web Ltd")
    seller = product.seller()
    redirect = seller.consent(link)
    assert product.web.stop() is not None
    product.web.start()
    outcome = seller.return_from_amazon(redirect)
    assert connected(outcome), describe_page(outcome)
    assert connection_rows(product, account_id) == 1
    product.mailbox.wait_for(bookkeeper.email, CONNECTED_BOOKKEEPER, timeout=30)
    product.mailbox.wait_for(sent["client_email"], CONNECTED_SELLER, timeout=30)


# --- 5. Amazon's token endpoint failing ----------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    ("fault", "token_calls"),
    [
        pytest.param({"status": 503, "count": 2}, 3, id="503-twice"),
        # The app's read timeout (15 s) ends the first call; Amazon's late answer is lost anyway.
        pytest.param({"delay": 25, "status": 503, "count": 1}, 2, id="timeout-once"),
    ],
)
def test_token_endpoint_failing(product, fault, token_calls):
    """Amazon's token endpoint fails, then recovers: the seller still ends at "Connected" (after
    the "finishing" page, which re-checks by itself, when it takes longer)."""
    _, account_id, _, link = invited(product, "Flaky Amazon Ltd")
    seller = product.seller()
    redirect = seller.consent(link)
    product.amazon_faults(token=fault)
    outcome = seller.return_from_amazon(redirect, timeout=120)
    assert connected(outcome), describe_page(outcome)
    stats = product.amazon_stats()
    assert stats["token"]["authorization_code"] == token_calls, stats
    assert stats["faults"] == {}, stats
    assert connection_rows(product, account_id) == 1


# --- 6. database locked --------------------------------------------------------------------------


@pytest.mark.slow
def test_database_locked_during_callback(product):
    """The database is locked past the app's busy_timeout (10 s) as the seller returns: a page
    that says to try again, nothing half-written; once free, the same callback URL connects."""
    _, account_id, _, link = invited(product, "Locked Ltd")
    seller = product.seller()
    redirect = seller.consent(link)
    # The worker's last write for now (the "went to Amazon" timeline line) is done.
    wait_until(lambda: request_status(product, account_id) == "consent_started", 30, "consent")

    with product.db_locked() as lock:
        started = time.monotonic()
        page = seller.get(redirect, timeout=60)
        waited = time.monotonic() - started
        assert page.status_code == 503, describe_page(page)
        assert "try again" in page.text.lower(), page.text
        assert "Traceback" not in page.text
        # Nothing half-written: no authorization, and the OAuth state not used up.
        [(request_id,)] = lock.execute(
            "SELECT id FROM connection_requests WHERE account_id = ?", (account_id,)
        ).fetchall()
        authorizations = lock.execute(
            "SELECT count(*) FROM authorizations WHERE request_id = ?", (request_id,)
        ).fetchall()
        assert authorizations == [(0,)]
        states = lock.execute(
            "SELECT used_at FROM oauth_states WHERE request_id = ?", (request_id,)
        ).fetchall()
        assert states == [(None,)]
    assert waited >= 9, f"answered after {waited:.1f} s: something other than the lock failed it"

    outcome = seller.return_from_amazon(redirect)  # back, and the same URL again
    assert connected(outcome), describe_page(outcome)
    assert connection_rows(product, account_id) == 1


# --- 7. a slow link from the web app to Temporal -------------------------------------------------


@pytest.mark.slow
def test_request_row_committed_after_its_workflow_starts(product):
    """Temporal's answers reach the web app 1 s late (a slow network): the workflow runs before
    'Send' has committed the request; it waits for the row, and the invitation still goes out."""
    bookkeeper = product.bookkeeper()
    account_id = bookkeeper.add_account("Slow Link Ltd")
    workflow = workflow_id(account_id)
    with product.web_with_slow_temporal(delay=1.0):
        sent = bookkeeper.send_request(account_id)

    def invitation_or_end() -> str | None:
        if product.mailbox.matching(sent["client_email"], INVITATION):
            return "invitation sent"
        if execution_status(product, workflow) == WorkflowExecutionStatus.RUNNING:
            return None
        try:
            result_of(product, workflow, timeout=5)
        except WorkflowFailureError as err:
            causes, cause = [], err.cause
            while cause is not None:
                causes.append(str(cause))
                cause = getattr(cause, "cause", None)
            return "the workflow failed: " + ": ".join(causes)
        return "the workflow ended"

    outcome = wait_until(invitation_or_end, 30, "the invitation or the workflow's end")
    assert outcome == "invitation sent", outcome
    assert execution_status(product, workflow) == WorkflowExecutionStatus.RUNNING
    assert request_status(product, account_id) == "sent"


# --- 8. graceful shutdown ----------------------------------------------------------------------


@pytest.mark.slow
def test_worker_stops_gracefully_on_sigterm(product):
    """SIGTERM while an email is being retried: the worker drains and exits 0 within its grace
    period; started again, it finishes the request: nothing lost, nothing sent twice."""
    bookkeeper = product.bookkeeper()
    account_id = bookkeeper.add_account("Graceful Ltd")
    workflow = workflow_id(account_id)
    product.mailbox.unavailable = True
    try:
        sent = bookkeeper.send_request(account_id)
        wait_until(
            lambda: any(a.attempt >= 2 for a in pending_activities(product, workflow)),
            30,
            "the invitation being retried",
        )
        started = time.monotonic()
        assert product.worker.stop(timeout=40) == 0
        assert time.monotonic() - started < 35
    finally:
        product.mailbox.unavailable = False
    product.worker.start()
    invitation_arrives = lambda: product.mailbox.matching(sent["client_email"], INVITATION)  # noqa: E731
    wait_until(invitation_arrives, 60, "the invitation after the restart")
    one_email_each(product, (sent["client_email"], INVITATION))
    assert request_status(product, account_id) == "sent"
