"""Signed webhooks end to end: an endpoint added on the settings page gets a request's events,
in order, each verified by the `standardwebhooks` library in a real HTTP receiver on loopback;
retries, the attempt log, Resend, secret rotation, disabling and the sweep (the SSRF check:
tests/test_safe_url.py)."""

import json
import re
import threading
import time
import uuid
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from core import webhook_outbox
from core.crypto import decrypt
from core.extensions import db
from core.webhooks import WebhookDelivery, WebhookEndpoint
from tests.support import Bookkeeper, link_in, path_of, text_of
from vocabulary.messages import ReconcileInput
from workflows.reconcile import ReconcileWorkflow

SECRET = re.compile(r"whsec_[A-Za-z0-9+/=]+")


class Receiver:
    """A webhook receiver over real HTTP on loopback: keeps what it gets, answers `answers` in
    turn (the last one from then on)."""

    def __init__(self, answers=(200,)) -> None:
        self.answers = list(answers)
        self.received: list[tuple[bytes, dict[str, str]]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    receiver.received.append((body, dict(self.headers.items())))
                    status = (
                        receiver.answers.pop(0)
                        if len(receiver.answers) > 1
                        else (receiver.answers[0])
                    )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"

    def wait_for(self, count: int, timeout: float = 30) -> list[tuple[bytes, dict[str, str]]]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            assert time.monotonic() < deadline, f"got {types_of(self.received)}, not {count}"
            time.sleep(0.05)
        return list(self.received)

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def receiver():
    made = []

    def make(*answers):
        made.append(Receiver(answers or (200,)))
        return made[-1]

    yield make
    for each in made:
        each.close()


def add_endpoint(bookkeeper: Bookkeeper, url: str, events=None) -> str:
    """Add it on the settings page; returns the secret the page shows once."""
    from vocabulary.webhooks import WebhookEventType

    events = events or [e.value for e in WebhookEventType]
    added = bookkeeper.client.post("/settings/webhooks", data={"url": url, "events": events})
    assert added.status_code == 303, added.text
    return shown_once(bookkeeper.client, added)


def shown_once(client, answer) -> str:
    """The secret on the page the answer redirects to; a reload no longer shows it."""
    page = client.get(answer.headers["Location"])
    assert page.headers["Cache-Control"] == "no-store"
    secret = SECRET.search(page.text).group(0)
    assert secret not in client.get("/settings/webhooks").text
    return secret


def types_of(received) -> list[str]:
    return [json.loads(body)["type"] for body, _ in received]


def endpoint_row(app, url: str) -> WebhookEndpoint:
    with app.app_context():
        endpoint = db.session.scalar(select(WebhookEndpoint).filter_by(url=url))
        db.session.expunge(endpoint)
        return endpoint


def deliveries(app, url: str) -> list[WebhookDelivery]:
    with app.app_context():
        endpoint = db.session.scalar(select(WebhookEndpoint).filter_by(url=url))
        rows = db.session.scalars(
            select(WebhookDelivery).filter_by(endpoint_id=endpoint.id).order_by(WebhookDelivery.id)
        ).all()
        for row in rows:
            _ = row.attempts, row.event
        db.session.expunge_all()
        return rows


def wait_until(check, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)
    return found


def test_a_request_s_events_arrive_in_order_signed(
    app, client, seller, mailbox, receiver, config, loop, temporal_env
):
    config["WEBHOOK_STREAM_IDLE"] = timedelta(seconds=1)  # it ends: its history is recorded
    hooks = receiver()
    bookkeeper = Bookkeeper(client).sign_up()
    secret = add_endpoint(bookkeeper, hooks.url)
    assert secret not in client.get("/settings/webhooks").text  # shown once
    account_id = bookkeeper.add_account("Hooked Ltd")
    sent = bookkeeper.send_request(account_id)
    invite = mailbox.wait_for(sent["client_email"], "asks you to connect")[0]
    link = link_in(invite)
    assert seller.open_link(link).status_code == 200
    # The landing page's script says it was shown; wait for the line before going on.
    assert seller.client.post(path_of(link) + "/opened").status_code == 204
    hooks.wait_for(2)
    outcome = seller.connect(link, "seller-us@example.com")
    assert "<h1>Connected</h1>" in outcome.text

    received = hooks.wait_for(3)
    time.sleep(0.5)  # nothing more comes
    assert types_of(hooks.received) == ["request.sent", "request.opened", "request.connected"]
    ids = []
    for body, headers in hooks.received:
        event = Webhook(secret).verify(body, headers)  # raises unless signed with the secret
        assert event["data"]["account_id"] == account_id
        assert event["data"]["marketplace"] == "US"
        assert event["timestamp"].endswith("Z")
        ids.append(headers["webhook-id"])
        with pytest.raises(WebhookVerificationError):
            Webhook("whsec_" + "A" * 44).verify(body, headers)
    assert len(set(ids)) == 3
    connected = json.loads(received[2][0])["data"]
    assert connected["status"] == "connected" and connected["connection_id"]
    # Nothing secret: not the seller's link or its token, nor the signing secret.
    token = link.rsplit("/", 1)[-1]
    for body, _ in hooks.received:
        text = body.decode()
        assert token not in text and "/connect/" not in text
        assert secret.removeprefix("whsec_") not in text
        assert "refresh" not in text.lower() and "Atzr" not in text

    # One delivery workflow for the request, by its business key; idle, it ends.
    [stream] = {d.workflow_id for d in deliveries(app, hooks.url)}
    public_id = json.loads(received[0][0])["data"]["request_id"]
    assert stream == f"webhook-{endpoint_row(app, hooks.url).id}-request-{public_id}"
    handle = temporal_env.client.get_workflow_handle(stream)
    result = loop.run(handle.result())
    assert result["outcome"] == "idle"  # (untyped: the handle was got by id)


def test_a_failed_delivery_is_retried_logged_and_can_be_resent(
    app, client, config, receiver, mailbox
):
    config["WEBHOOK_RETRY_INITIAL"] = timedelta(milliseconds=300)
    hooks = receiver(500, 200)
    bookkeeper = Bookkeeper(client).sign_up()
    secret = add_endpoint(bookkeeper, hooks.url, ["request.sent"])
    account_id = bookkeeper.add_account("Flaky Receiver Ltd")
    bookkeeper.send_request(account_id)

    first, second = hooks.wait_for(2)
    assert first[1]["webhook-id"] == second[1]["webhook-id"]  # the same event, retried
    assert first[0] == second[0]
    Webhook(secret).verify(*second)
    [delivery] = wait_until(
        lambda: [d for d in deliveries(app, hooks.url) if d.status == "delivered"]
    )
    assert [a.status_code for a in delivery.attempts] == [500, 200]
    assert all(a.duration_ms >= 0 for a in delivery.attempts)
    page = client.get("/settings/webhooks").text
    assert "HTTP 500" in page and "HTTP 200" in page and "delivered" in page
    assert "Flaky Receiver Ltd" in page

    resent = client.post(f"/settings/webhooks/deliveries/{delivery.id}/resend")
    assert resent.status_code == 302
    third = hooks.wait_for(3)[2]
    assert third[1]["webhook-id"] == first[1]["webhook-id"]  # receivers dedupe on it
    Webhook(secret).verify(*third)

    # Nobody else's deliveries: another user cannot resend or delete them.
    stranger = Bookkeeper(app.test_client(), name="Stan Ranger").sign_up()
    assert (
        stranger.client.post(f"/settings/webhooks/deliveries/{delivery.id}/resend").status_code
        == 404
    )
    endpoint = endpoint_row(app, hooks.url)
    for action in ("delete", "rotate", "enable"):
        url = f"/settings/webhooks/{endpoint.id}/{action}"
        assert stranger.client.post(url).status_code == 404
    assert hooks.url not in stranger.client.get("/settings/webhooks").text
    assert endpoint_row(app, hooks.url).secret_encrypted == endpoint.secret_encrypted


def test_rotation_signs_with_both_secrets_during_the_overlap(app, client, receiver, mailbox):
    hooks = receiver()
    bookkeeper = Bookkeeper(client).sign_up()
    old = add_endpoint(bookkeeper, hooks.url, ["request.sent"])
    endpoint = endpoint_row(app, hooks.url)
    rotated = client.post(f"/settings/webhooks/{endpoint.id}/rotate")
    assert rotated.status_code == 303
    page = client.get(rotated.headers["Location"])
    new = SECRET.search(page.text).group(0)
    assert new != old and "previous secret signs too" in page.text
    assert new not in client.get("/settings/webhooks").text
    with app.app_context():  # encrypted at rest, as the refresh tokens are
        row = db.session.get(WebhookEndpoint, endpoint.id)
        keys = app.config["TOKEN_ENCRYPTION_KEY"]
        assert new.encode() not in row.secret_encrypted
        assert new.removeprefix("whsec_").encode() not in row.secret_encrypted
        assert decrypt(keys, row.secret_encrypted) == new
        assert decrypt(keys, row.previous_secret_encrypted) == old

    bookkeeper.send_request(bookkeeper.add_account("Rotating Ltd"))
    [(body, headers)] = hooks.wait_for(1)
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(body, headers)
    Webhook(new).verify(body, headers)


def test_an_endpoint_failing_for_the_window_is_disabled_and_its_owner_emailed(
    app, client, config, receiver, mailbox
):
    config["WEBHOOK_RETRY_INITIAL"] = timedelta(milliseconds=200)
    config["WEBHOOK_RETRY_MAX"] = timedelta(milliseconds=400)
    config["WEBHOOK_DISABLE_AFTER"] = timedelta(seconds=1)
    hooks = receiver(503)
    bookkeeper = Bookkeeper(client).sign_up()
    secret = add_endpoint(bookkeeper, hooks.url, ["request.sent"])
    bookkeeper.send_request(bookkeeper.add_account("Down Receiver Ltd"))

    email = mailbox.wait_for(bookkeeper.email, "Webhook endpoint disabled")[0]
    assert hooks.url in text_of(email) and "/settings/webhooks" in text_of(email)
    endpoint = endpoint_row(app, hooks.url)
    assert not endpoint.enabled and "HTTP 503" in endpoint.disabled_reason
    tries = len(hooks.received)
    assert tries >= 2
    page = client.get("/settings/webhooks").text
    assert "Disabled" in page and "Enable</button>" in page

    # Re-enabled, it gets what waited.
    hooks.answers = [200]
    assert client.post(f"/settings/webhooks/{endpoint.id}/enable").status_code == 302
    last = wait_until(lambda: len(hooks.received) > tries and hooks.received[-1])
    Webhook(secret).verify(*last)
    wait_until(lambda: deliveries(app, hooks.url)[0].status == "delivered")
    assert endpoint_row(app, hooks.url).enabled


def test_the_sweep_starts_deliveries_whose_start_never_happened(
    app, client, config, receiver, mailbox, temporal_env, loop
):
    """The process died between the commit and the start: the reconciliation picks it up."""
    hooks = receiver()
    bookkeeper = Bookkeeper(client).sign_up()
    secret = add_endpoint(bookkeeper, hooks.url, ["request.sent"])
    dispatcher = webhook_outbox._dispatcher
    webhook_outbox.dispatch_with(None)
    try:
        bookkeeper.send_request(bookkeeper.add_account("Crashed Between Ltd"))
        wait_until(lambda: deliveries(app, hooks.url))
        time.sleep(1)
        assert hooks.received == []
    finally:
        webhook_outbox.dispatch_with(dispatcher)
    config["WEBHOOK_SWEEP_AFTER"] = timedelta(0)
    run_reconciliation(app, temporal_env, loop)
    [(body, headers)] = hooks.wait_for(1)
    assert Webhook(secret).verify(body, headers)["type"] == "request.sent"


def test_the_sweep_restarts_a_delivery_workflow_ops_terminated(
    app, client, config, receiver, mailbox, temporal_env, loop
):
    config["WEBHOOK_RETRY_INITIAL"] = timedelta(hours=1)  # its retry would be long in coming
    hooks = receiver(500, 200)
    bookkeeper = Bookkeeper(client).sign_up()
    secret = add_endpoint(bookkeeper, hooks.url, ["request.sent"])
    bookkeeper.send_request(bookkeeper.add_account("Terminated Ltd"))
    hooks.wait_for(1)
    [delivery] = deliveries(app, hooks.url)
    handle = temporal_env.client.get_workflow_handle(delivery.workflow_id)
    loop.run(handle.terminate("ops"))
    config["WEBHOOK_SWEEP_AFTER"] = timedelta(0)
    config["WEBHOOK_RETRY_INITIAL"] = timedelta(seconds=1)
    run_reconciliation(app, temporal_env, loop)
    _, (body, headers) = hooks.wait_for(2)
    assert headers["webhook-id"] == delivery.event.public_id
    Webhook(secret).verify(body, headers)
    wait_until(lambda: deliveries(app, hooks.url)[0].status == "delivered")


def run_reconciliation(app, temporal_env, loop) -> None:
    queue = app.config["TEMPORAL_TASK_QUEUE"]
    loop.run(
        temporal_env.client.execute_workflow(
            ReconcileWorkflow.run,
            ReconcileInput(queue),
            id=f"reconcile-test-{uuid.uuid4().hex[:8]}",
            task_queue=queue,
        )
    )


def test_only_the_account_s_admins_endpoints_get_its_events(app, client, receiver, mailbox):
    mine, theirs = receiver(), receiver()
    bookkeeper = Bookkeeper(client).sign_up()
    add_endpoint(bookkeeper, mine.url, ["request.sent"])
    other = Bookkeeper(app.test_client(), name="Otto Other").sign_up()
    add_endpoint(other, theirs.url, ["request.sent"])
    bookkeeper.send_request(bookkeeper.add_account("Private Ltd"))
    mine.wait_for(1)
    time.sleep(1)
    assert theirs.received == []


def test_the_settings_page_refuses_a_url_it_cannot_use(client, config, mailbox):
    bookkeeper = Bookkeeper(client).sign_up()
    refused = client.post(
        "/settings/webhooks", data={"url": "ftp://example.com/x", "events": ["request.sent"]}
    )
    assert refused.status_code == 400 and "https://" in refused.text
    config["APP_ENV"] = "production"
    refused = client.post(
        "/settings/webhooks", data={"url": "https://127.0.0.1/x", "events": ["request.sent"]}
    )
    assert refused.status_code == 400 and "not a public internet address" in refused.text
    assert "whsec_" not in refused.text
    config["APP_ENV"] = "development"
    none = client.post("/settings/webhooks", data={"url": "http://127.0.0.1:9/x"})
    assert none.status_code == 400 and "Choose at least one event." in none.text
    assert 'required type="checkbox"' not in client.get("/settings/webhooks").text
    del bookkeeper


def test_a_redirect_is_not_followed_and_a_deleted_endpoint_gets_nothing_more(
    app, client, config, receiver, mailbox
):
    config["WEBHOOK_RETRY_INITIAL"] = timedelta(milliseconds=200)
    elsewhere = receiver()
    hooks = receiver(302, 200)
    bookkeeper = Bookkeeper(client).sign_up()
    add_endpoint(bookkeeper, hooks.url, ["request.sent"])
    account_id = bookkeeper.add_account("Redirecting Ltd")
    bookkeeper.send_request(account_id)
    hooks.wait_for(2)
    [delivery] = wait_until(
        lambda: [d for d in deliveries(app, hooks.url) if d.status == "delivered"]
    )
    assert [a.status_code for a in delivery.attempts] == [302, 200]
    assert elsewhere.received == []

    endpoint = endpoint_row(app, hooks.url)
    assert client.post(f"/settings/webhooks/{endpoint.id}/delete").status_code == 302
    assert hooks.url not in client.get("/settings/webhooks").text
    with app.app_context():
        assert db.session.get(WebhookEndpoint, endpoint.id) is None
        assert db.session.get(WebhookDelivery, delivery.id) is None
    bookkeeper.send_request(bookkeeper.add_account("Redirecting Again Ltd"))
    time.sleep(1)
    assert len(hooks.received) == 2


def test_reminded_and_withdrawn(app, client, config, receiver, mailbox):
    config["CONNECT_REMINDERS"] = [timedelta(seconds=1)]
    hooks = receiver()
    bookkeeper = Bookkeeper(client).sign_up()
    secret = add_endpoint(bookkeeper, hooks.url)
    account_id = bookkeeper.add_account("Reminded Ltd")
    bookkeeper.send_request(account_id)
    hooks.wait_for(2)
    with app.app_context():
        public_id = db.session.scalar(
            select(WebhookDelivery).order_by(WebhookDelivery.id.desc())
        ).stream.removeprefix("request-")
    client.post(f"/accounts/{account_id}/requests/{public_id}/cancel")
    hooks.wait_for(3)
    assert types_of(hooks.received) == ["request.sent", "request.reminded", "request.withdrawn"]
    withdrawn = Webhook(secret).verify(*hooks.received[2])
    assert withdrawn["data"]["status"] == "cancelled"
    assert withdrawn["data"]["request_id"] == public_id


def test_expired(app, client, config, receiver, mailbox):
    config["CONNECT_REMINDERS"] = []
    config["CONNECT_EXPIRES_AFTER"] = timedelta(seconds=2)
    hooks = receiver()
    bookkeeper = Bookkeeper(client).sign_up()
    secret = add_endpoint(bookkeeper, hooks.url, ["request.sent", "request.expired"])
    bookkeeper.send_request(bookkeeper.add_account("Expiring Ltd"))
    hooks.wait_for(2)
    sent, expired = (Webhook(secret).verify(*r) for r in hooks.received)
    assert (sent["type"], expired["type"]) == ("request.sent", "request.expired")
    assert expired["data"]["status"] == "expired" and expired["data"]["expires_at"]


def test_connected_then_failed_when_the_confirmation_cannot_be_sent(
    app, client, seller, receiver, mailbox
):
    hooks = receiver()
    bookkeeper = Bookkeeper(client).sign_up()
    secret = add_endpoint(bookkeeper, hooks.url, ["request.connected", "request.failed"])
    sent = bookkeeper.send_request(bookkeeper.add_account("Saga Hooks Ltd"))
    link = link_in(mailbox.wait_for(sent["client_email"], "asks you to connect")[0])
    redirect = seller.consent(seller.go_to_amazon(link), "seller-us@example.com")
    mailbox.reject[bookkeeper.email] = 1  # the bookkeeper's confirmation is refused for good
    seller.return_from_amazon(redirect)
    hooks.wait_for(2)
    connected, failed = (Webhook(secret).verify(*r) for r in hooks.received)
    assert (connected["type"], failed["type"]) == ("request.connected", "request.failed")
    assert failed["data"]["status"] == "failed" and failed["data"]["connection_id"] is None


def test_a_revoked_connection_is_an_event_of_its_own_stream(
    app, client, seller, config, receiver, mailbox, amazon_faults
):
    config["CONNECTION_CHECK_EVERY"] = timedelta(seconds=1)
    hooks = receiver()
    bookkeeper = Bookkeeper(client).sign_up()
    secret = add_endpoint(bookkeeper, hooks.url, ["request.connected", "connection.revoked"])
    account_id = bookkeeper.add_account("Revoked Ltd")
    sent = bookkeeper.send_request(account_id)
    link = link_in(mailbox.wait_for(sent["client_email"], "asks you to connect")[0])
    assert "<h1>Connected</h1>" in seller.connect(link).text
    hooks.wait_for(1)
    amazon_faults.control("revoke", {"selling_partner_id": "A2DEMOUSSELL01"})
    hooks.wait_for(2)
    assert types_of(hooks.received) == ["request.connected", "connection.revoked"]
    connected, revoked = (Webhook(secret).verify(*r) for r in hooks.received)
    assert revoked["data"]["status"] == "revoked"
    assert revoked["data"]["connection_id"] == connected["data"]["connection_id"]
    streams = {d.stream for d in deliveries(app, hooks.url)}
    assert streams == {
        f"request-{connected['data']['request_id']}",
        f"connection-{connected['data']['connection_id']}",
    }


CONNECTION_EVENTS = [
    "connection.revoked",
    "connection.renewal_due",
    "connection.renewed",
    "connection.lapsed",
]


def connected_with_hooks(client, seller, mailbox, hooks, name: str):
    bookkeeper = Bookkeeper(client).sign_up()
    secret = add_endpoint(bookkeeper, hooks.url, CONNECTION_EVENTS)
    sent = bookkeeper.send_request(bookkeeper.add_account(name))
    link = link_in(mailbox.wait_for(sent["client_email"], "asks you to connect")[0])
    assert "<h1>Connected</h1>" in seller.connect(link).text
    return secret, sent


def test_renewal_due_then_renewed(app, client, seller, config, receiver, mailbox, amazon_faults):
    config["CONNECTION_CHECK_EVERY"] = timedelta(minutes=5)
    config["AMAZON_AUTHORIZATION_LIFETIME"] = timedelta(seconds=40)
    config["RENEWAL_REMINDERS"] = [timedelta(seconds=37)]
    amazon_faults.control("authorization-lifetime", {"seconds": 60})
    hooks = receiver()
    secret, sent = connected_with_hooks(client, seller, mailbox, hooks, "Renewing Hooks Ltd")
    [due] = hooks.wait_for(1)
    asked = mailbox.wait_for(sent["client_email"], "renew Renewing Hooks Ltd")[-1]
    assert "<h1>Renewed</h1>" in seller.connect(link_in(asked)).text
    hooks.wait_for(2)
    assert types_of(hooks.received) == ["connection.renewal_due", "connection.renewed"]
    due, renewed = (Webhook(secret).verify(*r) for r in hooks.received)
    assert due["data"]["status"] == "renewal_due" and renewed["data"]["status"] == "healthy"
    assert due["data"]["connection_id"] == renewed["data"]["connection_id"]
    assert renewed["data"]["purpose"] == "renew"


def test_lapsed(app, client, seller, config, receiver, mailbox, amazon_faults):
    config["CONNECTION_CHECK_EVERY"] = timedelta(seconds=1)
    config["AMAZON_AUTHORIZATION_LIFETIME"] = timedelta(seconds=2)
    config["RENEWAL_REMINDERS"] = []
    amazon_faults.control("authorization-lifetime", {"seconds": 3})
    hooks = receiver()
    secret, _ = connected_with_hooks(client, seller, mailbox, hooks, "Lapsing Hooks Ltd")
    [(body, headers)] = hooks.wait_for(1)
    lapsed = Webhook(secret).verify(body, headers)
    assert (lapsed["type"], lapsed["data"]["status"]) == ("connection.lapsed", "lapsed")


def test_in_production_the_delivery_checks_the_address_again(
    app, client, config, receiver, mailbox
):
    """Added outside production (loopback allowed), delivered in production: refused at the
    delivery, which is recorded, and the receiver never hears of it."""
    config["WEBHOOK_RETRY_INITIAL"] = timedelta(milliseconds=200)
    config["WEBHOOK_DELIVERY_DEADLINE"] = timedelta(seconds=2)
    hooks = receiver()
    bookkeeper = Bookkeeper(client).sign_up()
    add_endpoint(bookkeeper, hooks.url, ["request.sent"])
    config["APP_ENV"] = "production"
    bookkeeper.send_request(bookkeeper.add_account("Rebinding Ltd"))
    [delivery] = wait_until(lambda: [d for d in deliveries(app, hooks.url) if d.status == "failed"])
    assert delivery.attempts and all(a.error.startswith("refused:") for a in delivery.attempts)
    assert hooks.received == []
