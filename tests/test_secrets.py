"""After a full run, no code, token or client secret is in the workflow's history or the emails."""

import logging
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select

from core.accounts import AmazonConnection
from core.crypto import decrypt
from core.extensions import db
from core.requests import ConnectionRequest
from tests.support import Bookkeeper, link_in


def test_no_secret_in_history_email_logs_or_raw_database(
    app, client, seller, mailbox, temporal_env, loop, caplog
):
    caplog.set_level(logging.DEBUG)
    bookkeeper = Bookkeeper(client).sign_up()
    account_id = bookkeeper.add_account()
    sent = bookkeeper.send_request(account_id)
    link = link_in(mailbox.wait_for(sent["client_email"], "asks you to connect")[0])
    redirect = seller.consent(seller.go_to_amazon(link), "seller-us@example.com")
    code = parse_qs(urlsplit(redirect).query)["spapi_oauth_code"][0]
    assert "<h1>Connected</h1>" in seller.return_from_amazon(redirect).text
    mailbox.wait_for(bookkeeper.email, "is connected")

    with app.app_context():
        request = db.session.scalar(select(ConnectionRequest).filter_by(account_id=account_id))
        connection = db.session.scalar(select(AmazonConnection).filter_by(account_id=account_id))
        refresh_token = decrypt(
            app.config["TOKEN_ENCRYPTION_KEY"], connection.refresh_token_encrypted
        )
    assert refresh_token.startswith("Atzr|")

    handle = temporal_env.client.get_workflow_handle(request.workflow_id)
    loop.run(handle.result())
    history = loop.run(handle.fetch_history()).to_json()
    assert "exchange_authorization_code" in history and "store_connection" in history
    secrets = [code, refresh_token, app.config["LWA_CLIENT_SECRET"], "Atza|", "Atzr|"]
    for secret in secrets:
        assert secret not in history
    link_token = link.rsplit("/", 1)[-1]
    assert link_token not in history  # the emailed link is a bearer credential too

    for message in mailbox.messages:
        for secret in secrets:
            assert secret not in message.as_string()

    # the web app's and the worker's logs were captured, and they name what happened
    assert "received for request" in caplog.text and "exchanged for tokens" in caplog.text
    for secret in secrets:
        assert secret not in caplog.text

    # Every row of every table, read raw: tokens only as Fernet ciphertext, the code gone.
    raw = raw_database(app)
    assert "A2DEMOUSSELL01" in raw
    for secret in secrets[:2] + ["Atza|", "Atzr|", link_token]:
        assert secret not in raw


def raw_database(app) -> str:
    """All rows of all tables as text, binary columns decoded as they are stored."""
    with app.app_context():
        rows = []
        for table in db.metadata.sorted_tables:
            for row in db.session.execute(table.select()):
                rows.append(
                    " ".join(
                        bytes(v).decode("latin-1") if isinstance(v, bytes | memoryview) else str(v)
                        for v in row
                    )
                )
        return "\n".join(rows)
