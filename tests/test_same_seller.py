"""A reconnect is the same seller, or nothing: an invited owner coming back with another seller
account than the one connected before is refused, names both, and changes nothing."""

import re

from tests.support import Bookkeeper, connections, link_in, request_of, text_of


def test_a_reconnect_with_another_seller_is_refused_and_the_right_one_renews(
    app, client, seller, mailbox, loop, temporal_env
):
    bookkeeper = Bookkeeper(client).sign_up()
    account_id = bookkeeper.add_account("Same Seller Ltd")
    sent = bookkeeper.send_request(account_id, marketplace="US", client_name="Sam Seller")
    first = link_in(mailbox.wait_for(sent["client_email"], "asks you to connect")[0])
    assert "<h1>Connected</h1>" in seller.connect(first, "seller-us@example.com").text
    [before] = connections(app, account_id)
    # The first request's workflow finishes (confirmations, the connection's own workflow).
    handle = temporal_env.client.get_workflow_handle(request_of(app, account_id).workflow_id)
    loop.run(handle.result())

    # The bookkeeper asks again (the request's one-click renew), and the owner signs in with
    # another account that sells in the US too.
    preview = client.get(f"/accounts/{account_id}/requests/{_public_id(client, account_id)}/renew")
    page = client.get(preview.headers["Location"]).text
    draft = re.search(r'name="draft" value="([^"]+)"', page).group(1)
    sent_again = client.post(f"/accounts/{account_id}/connect/request/send", data={"draft": draft})
    assert sent_again.status_code == 303
    link = link_in(mailbox.wait_for(sent["client_email"], "asks you to connect", count=2)[-1])
    landing = seller.open_link(link).text
    assert f"sign in with seller <code>{before.selling_partner_id}</code>" in landing
    outcome = seller.connect(link, "seller-us2@example.com")
    assert outcome.status_code == 409
    assert "That is not the seller account connected before" in outcome.text
    assert "A4DEMOUSSELL04" in outcome.text and before.selling_partner_id in outcome.text
    assert "Other Goods US" in outcome.text
    [unchanged] = connections(app, account_id)
    assert (unchanged.selling_partner_id, unchanged.request_id) == (
        before.selling_partner_id,
        before.request_id,
    )

    # Signed out at Amazon first, then in with the seller connected before: renewed.
    public_id = outcome.text.split("/amazon/authorizations/")[1].split("/retry")[0]
    again = seller.client.post(f"/amazon/authorizations/{public_id}/retry")
    assert "/ap/signout" in again.headers["Location"]
    final = seller.return_from_amazon(
        seller.consent(again.headers["Location"], "seller-us@example.com")
    )
    assert "<h1>Connected</h1>" in final.text
    [renewed] = connections(app, account_id)
    assert renewed.selling_partner_id == before.selling_partner_id
    assert renewed.request_id != before.request_id
    assert "connected" in text_of(
        mailbox.wait_for(bookkeeper.email, "is connected to Amazon", count=2)[-1]
    )


def _public_id(client, account_id: int) -> str:
    page = client.get(f"/accounts/{account_id}").text
    return re.search(rf"/accounts/{account_id}/requests/([A-Za-z0-9_-]+)", page).group(1)
