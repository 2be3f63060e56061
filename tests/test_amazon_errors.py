"""Amazon's errors on the real stack (amazon-sp-api.md, section 9): the seller is blamed only for
what is theirs (invalid_grant); Amazon refusing the app itself keeps the request open, tells the
bookkeeper once and flags it for ops; throttling and outages are retried, malformed calls not."""

import html
import re
import time

from core import amazon
from core.extensions import db
from core.requests import Authorization
from tests.support import Bookkeeper, connections, link_in, request_of, text_of
from vocabulary import search_attributes
from vocabulary.statuses import OPEN_REQUEST_STATES, StuckReason

ON_OUR_SIDE = "on our side"


def invited(client, mailbox) -> tuple[Bookkeeper, int, str]:
    bookkeeper = Bookkeeper(client, name="Bea Keeper").sign_up()
    account_id = bookkeeper.add_account()
    sent = bookkeeper.send_request(account_id, marketplace="US", client_name="Sam Seller")
    link = link_in(mailbox.wait_for(sent["client_email"], "asks you to connect")[0])
    return bookkeeper, account_id, link


def stuck_reason(loop, temporal_env, app, account_id) -> str | None:
    workflow_id = request_of(app, account_id).workflow_id
    handle = temporal_env.client.get_workflow_handle(workflow_id)
    attributes = loop.run(handle.describe()).typed_search_attributes
    return attributes.get(search_attributes.STUCK_REASON)


def wait_for_stuck(loop, temporal_env, app, account_id, want, timeout=10.0) -> None:
    deadline = time.monotonic() + timeout
    while (got := stuck_reason(loop, temporal_env, app, account_id)) != want:
        assert time.monotonic() < deadline, f"StuckReason stayed {got!r}, not {want!r}"
        time.sleep(0.05)


def emails_about(mailbox, bookkeeper: Bookkeeper) -> list:
    return [m for m in mailbox.to(bookkeeper.email) if ON_OUR_SIDE in m["Subject"]]


def assert_on_our_side(outcome, bookkeeper: Bookkeeper) -> None:
    assert outcome.status_code == 409
    text = " ".join(html.unescape(outcome.text).split())
    assert "A problem on our side" in text
    assert f"{bookkeeper.name} ({bookkeeper.firm}) has been told" in text
    assert "you do not need to do anything now" in text
    assert "expired" not in text  # not the seller's code, not the seller's fault
    assert "Sign in to Amazon again" not in text  # trying again cannot help until it is fixed


def test_wrong_app_credentials_are_on_our_side_told_once_and_flagged_for_ops(
    app, client, seller, mailbox, amazon_faults, loop, temporal_env
):
    bookkeeper, account_id, link = invited(client, mailbox)
    # The secret was rotated at Amazon and not here: LWA answers invalid_client.
    amazon_faults.control("client-secret", {"client_secret": "rotated-at-amazon"})
    outcome = seller.connect(link)
    assert_on_our_side(outcome, bookkeeper)
    assert amazon_faults.stats()["token"]["authorization_code"] == 1  # not retried
    [told] = mailbox.wait_for(bookkeeper.email, ON_OUR_SIDE)
    assert "Sam Seller could not connect" in told["Subject"]
    assert "Our operations team has been alerted" in text_of(told)
    wait_for_stuck(loop, temporal_env, app, account_id, StuckReason.AMAZON_CREDENTIALS)
    assert request_of(app, account_id).status in OPEN_REQUEST_STATES
    with app.app_context():
        request_id = request_of(app, account_id).id
        [authorization] = db.session.scalars(
            db.select(Authorization).filter_by(request_id=request_id)
        ).all()
        assert authorization.code_encrypted is None  # the code is not kept for a retry

    # The seller tries again before ops fixed it: the same page, no second email.
    amazon_faults(token={"status": 401, "error": "unauthorized_client"})
    assert_on_our_side(seller.connect(link), bookkeeper)

    # Fixed (the app has Amazon's secret again): the same link connects, the flag is gone.
    amazon_faults.control("client-secret", {"client_secret": app.config["LWA_CLIENT_SECRET"]})
    outcome = seller.connect(link)
    assert "<h1>Connected</h1>" in outcome.text, outcome.text
    assert len(connections(app, account_id)) == 1
    wait_for_stuck(loop, temporal_env, app, account_id, None)
    # The workflow handles one try at a time: once "connected" is mailed, any second
    # "on our side" email would have come before it.
    mailbox.wait_for(bookkeeper.email, "is connected to Amazon")
    assert len(emails_about(mailbox, bookkeeper)) == 1


def test_a_role_the_app_lacks_is_on_our_side_and_not_retried(
    app, client, seller, mailbox, amazon_faults, loop, temporal_env
):
    bookkeeper, account_id, link = invited(client, mailbox)
    amazon_faults.control("roles", {"withheld": True})
    assert_on_our_side(seller.connect(link), bookkeeper)
    assert amazon_faults.stats()["participations"] == 1
    mailbox.wait_for(bookkeeper.email, ON_OUR_SIDE)
    wait_for_stuck(loop, temporal_env, app, account_id, StuckReason.AMAZON_ROLE_MISSING)
    assert connections(app, account_id) == []
    assert request_of(app, account_id).status in OPEN_REQUEST_STATES


def test_sellers_api_400_and_404_are_permanent(
    app, client, seller, mailbox, amazon_faults, loop, temporal_env
):
    bookkeeper, account_id, link = invited(client, mailbox)
    amazon_faults(participations={"status": 404})
    assert_on_our_side(seller.connect(link), bookkeeper)
    amazon_faults(participations={"status": 400})
    assert_on_our_side(seller.connect(link), bookkeeper)
    assert amazon_faults.stats()["participations"] == 2  # one call each: no retries
    wait_for_stuck(loop, temporal_env, app, account_id, StuckReason.AMAZON_REJECTED)


def test_throttling_is_retried_with_backoff(app, client, seller, mailbox, amazon_faults):
    _, account_id, link = invited(client, mailbox)
    # LWA's 429 (with its OAuth body) and SP-API's: each retried after a backoff.
    amazon_faults(token={"status": 429}, participations={"status": 429})
    outcome = seller.connect(link)
    assert "<h1>Connected</h1>" in outcome.text, outcome.text
    stats = amazon_faults.stats()
    assert stats["token"]["authorization_code"] == 2
    assert stats["participations"] == 2
    assert len(connections(app, account_id)) == 1


def test_an_lwa_429_without_a_body_is_retried(app, client, seller, mailbox, amazon_faults):
    _, account_id, link = invited(client, mailbox)
    amazon_faults(token={"status": 429, "bare": True, "count": 2})
    outcome = seller.connect(link)
    assert "<h1>Connected</h1>" in outcome.text, outcome.text
    assert amazon_faults.stats()["token"]["authorization_code"] == 3


def test_every_call_to_amazon_names_the_app_its_version_and_python(
    app, client, seller, mailbox, amazon_faults
):
    _, _, link = invited(client, mailbox)
    assert "<h1>Connected</h1>" in seller.connect(link).text
    agent = amazon.user_agent(app.config["APP_NAME"])
    assert re.fullmatch(r"LedgerBridge/\S+ \(Language=Python/3\.\d+\.\d+\)", agent)
    stats = amazon_faults.stats()
    assert stats["token"]["authorization_code"] == 1
    assert stats["user_agents"] == {"token": [agent], "participations": [agent]}
