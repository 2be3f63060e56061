"""One Amazon authorization covers every marketplace of its region the seller sells in: the
connection lists them, the account page shows them, and asking for a covered marketplace says
so instead of emailing the owner again (on the real stack)."""

from core.extensions import db
from core.requests import ConnectionRequest
from tests.support import Bookkeeper, link_in, unique_email
from tests.test_connection_life import SELLER_ID, connection_of, wait_until
from vocabulary.statuses import ConnectionState


def test_a_connection_covers_its_regions_marketplaces_and_asking_for_one_sends_nothing(
    app, client, seller, mailbox, amazon_faults
):
    bookkeeper = Bookkeeper(client).sign_up()
    account_id = bookkeeper.add_account("Covered Ltd")
    sent = bookkeeper.send_request(account_id, marketplace="US", client_name="Sam Seller")
    link = link_in(mailbox.wait_for(sent["client_email"], "asks you to connect")[0])
    assert "<h1>Connected</h1>" in seller.connect(link).text  # seller-us: US, CA and MX
    assert connection_of(app, account_id).covered == ["US", "CA", "MX"]

    page = client.get(f"/accounts/{account_id}").text
    assert "Also covers CA, MX" in page
    choices = client.get(f"/accounts/{account_id}/connect/").text
    assert "Canada (CA) — covered by the US connection" in choices
    assert "United Kingdom (UK)</option>" in choices  # another region: not covered

    # Straight to the next step, or the whole form: told, and nothing sent or saved.
    path = client.get(f"/accounts/{account_id}/connect/path?marketplace=CA")
    assert path.status_code == 302
    told = client.get(path.headers["Location"]).text
    assert "Canada (CA) is already covered: the US connection (seller A2DEMOUSSELL01)" in told
    address = unique_email("covered")
    answer = bookkeeper.submit_request(
        account_id, bookkeeper.request_form(account_id, marketplace="CA", client_email=address)
    )
    assert answer.status_code == 409  # at the form, before any preview
    assert "Canada (CA) is already covered" in answer.text
    assert mailbox.to(address) == []
    with app.app_context():
        asked = db.session.scalars(
            db.select(ConnectionRequest).filter_by(account_id=account_id, marketplace="CA")
        ).all()
    assert asked == []

    # Once Amazon no longer accepts it, it covers nothing: CA can be asked for again.
    amazon_faults.control("revoke", {"selling_partner_id": SELLER_ID})
    connection = connection_of(app, account_id)
    with app.app_context():
        db.session.get(type(connection), connection.id).status = ConnectionState.REVOKED
        db.session.commit()
    wait_until(lambda: connection_of(app, account_id).status == ConnectionState.REVOKED, "revoked")
    assert client.get(f"/accounts/{account_id}/connect/path?marketplace=CA").status_code == 200
