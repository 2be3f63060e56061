"""A firm's tools in a real browser: a CSV of clients checked row by row then sent, and a webhook
endpoint added, its secret shown once, and its deliveries listed."""

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.browser import needs_chromium, sign_up
from tests.support import free_port, unique_email

pytestmark = needs_chromium


def test_a_csv_of_clients_is_checked_then_sent(people, mailbox):
    bea = people("bookkeeper")
    page = bea.page
    sign_up(bea, mailbox, "Bea Keeper", unique_email("bea"), "Ledger & Co")
    page.get_by_label("Business name").fill("Acme Widgets Ltd")
    page.get_by_role("button", name="Add account").click()
    owners = [unique_email("owner") for _ in range(3)]
    csv = "\n".join(
        [
            "business name,marketplaces,owner name,owner email,note",
            f"Acme Widgets Ltd,US,Sam Seller,{owners[0]},",
            f"Birch & Co,UK JP,Dee Owner,{owners[1]},See you Monday",
            f"Cedar Goods,US CA,Cy Owner,{owners[2]},",
            "Dune Ltd,ZZ,Di Owner,not-an-address,",
        ]
    )
    page.goto("/requests/bulk")
    page.get_by_label("Or paste the CSV").fill(csv)
    page.get_by_role("button", name="Check the rows").click()
    page.get_by_role("button", name="Send 2 requests").wait_for()
    bea.shot("30-bulk-preview")
    assert mailbox.to(owners[0]) == []  # nothing sent before the confirmation
    page.get_by_role("button", name="Send 2 requests").click()
    page.get_by_text("Sent", exact=True).first.wait_for()
    bea.shot("31-bulk-sent")
    mailbox.wait_for(owners[0], "asks you to connect")
    mailbox.wait_for(owners[1], "in 2 regions")
    assert mailbox.to(owners[2]) == []


class Hook(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server's name)
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_a_webhook_endpoint_is_added_and_its_deliveries_listed(people, mailbox):
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        bea = people("bookkeeper")
        page = bea.page
        sign_up(bea, mailbox, "Bea Keeper", unique_email("bea"), "Ledger & Co")
        page.get_by_label("Business name").fill("Hooked Ltd")
        page.get_by_role("button", name="Add account").click()
        account_url = page.url
        page.get_by_role("link", name="Webhooks").click()
        page.get_by_label("Endpoint URL").fill(f"http://127.0.0.1:{server.server_port}/hooks")
        page.get_by_role("button", name="Add endpoint").click()
        secret = re.search(r"whsec_[A-Za-z0-9+/=]+", page.content()).group(0)
        bea.shot("32-webhook-secret")
        page.goto(re.sub(r"/?$", "", account_url) + "/connect/request?marketplace=US")
        page.get_by_label("Client name").fill("Sam Seller")
        page.get_by_label("Client email").fill(unique_email("sam"))
        page.get_by_role("button", name="Preview the email").click()
        page.get_by_role("button", name="Send Request to Connect").click()
        page.get_by_text("Request sent to").wait_for()
        page.goto("/settings/webhooks")
        for _ in range(60):
            if "request.sent" in page.content() and "204" in page.content():
                break
            page.wait_for_timeout(500)
            page.reload()
        assert secret not in page.content()  # shown once
        assert "request.sent" in page.content() and "204" in page.content()
        bea.shot("33-webhook-deliveries")
    finally:
        server.shutdown()
