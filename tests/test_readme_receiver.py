"""The README's ten-line webhook receiver, exactly as printed there, against the real stack: it
verifies every event with the endpoint's secret, and a forged one is refused."""

import re
import runpy
import threading
import time
from pathlib import Path

from werkzeug.serving import make_server

from tests.support import Bookkeeper, free_port, link_in
from tests.test_webhooks import add_endpoint

README = Path(__file__).parents[1] / "README.md"


def receiver_code() -> str:
    block = re.search(r"<!-- receiver -->\n```python\n(.*?)```", README.read_text(), re.S)
    return block.group(1)


def test_the_readmes_receiver_verifies_what_the_product_sends(
    client, seller, mailbox, monkeypatch, tmp_path, capfd
):
    code = receiver_code()
    assert len([line for line in code.splitlines() if line.strip()]) <= 10
    bookkeeper = Bookkeeper(client).sign_up()
    port = free_port()
    url = f"http://127.0.0.1:{port}/ledgerbridge"
    secret = add_endpoint(bookkeeper, url, ["request.sent", "request.connected"])
    monkeypatch.setenv("WEBHOOK_SECRET", secret)
    (tmp_path / "receiver.py").write_text(code)
    app = runpy.run_path(str(tmp_path / "receiver.py"))["app"]
    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        account_id = bookkeeper.add_account("Readme Receivers Ltd")
        sent = bookkeeper.send_request(account_id, marketplace="US")
        seller.connect(link_in(mailbox.wait_for(sent["client_email"], "asks you to connect")[0]))
        printed = ""
        deadline = time.monotonic() + 30
        while "request.connected" not in printed and time.monotonic() < deadline:
            time.sleep(0.2)
            printed += capfd.readouterr().out
        lines = [line for line in printed.splitlines() if line.startswith("request.")]
        assert [line.split()[0] for line in lines] == ["request.sent", "request.connected"]
        assert lines[-1].endswith(" connected")
        # Anyone else's POST is refused by the receiver: the signature does not verify.
        forged = app.test_client().post(
            "/ledgerbridge",
            data=b'{"type": "request.connected"}',
            headers={
                "webhook-id": "msg_x",
                "webhook-timestamp": str(int(time.time())),
                "webhook-signature": "v1,Zm9yZ2Vk",
            },
        )
        assert forged.status_code == 500  # verify raised: nothing was printed or trusted
    finally:
        server.shutdown()
