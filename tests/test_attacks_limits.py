"""Attacks on the limits (issue 11, items 1 and 6), on the real stack.

1. The open email relay: Resend, Change email and resend, the invitation's Resend, new accounts and
   direct requests all count against the limits, per user and per account; a request or an
   invitation is sent again at most once per RESEND_COOLDOWN; over a limit, a 429 page says when.
6. The seller's link flooding its workflow: its POSTs are limited per link, "opened" is signalled
   once per link, and pressing 'Continue to Amazon' again reuses the browser's OAuth state.
"""

import re
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from core.accounts import ClientAccount, Membership
from core.extensions import db, limiter
from core.invitations import UserInvitation
from core.requests import ConnectionRequest, OAuthState
from core.users import User
from tests.support import (
    Bookkeeper,
    link_in,
    path_of,
    request_of,
    unique_email,
    wait_for_status,
)
from tests.test_members import invitation_status, invite
from vocabulary.statuses import InvitationState, RequestState


@pytest.fixture
def limits(app, config):
    limiter.reset()
    yield config
    limiter.reset()


def page_url(app, account_id: int) -> str:
    return f"/accounts/{account_id}/requests/{request_of(app, account_id).public_id}"


def count(app, model, **filters) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).filter_by(**filters))


def assert_says_when(answer) -> None:
    """A 429 page (never a 500) that says when to try again, and a Retry-After header."""
    assert answer.status_code == 429, answer.text
    assert "try again in" in answer.text, answer.text
    # The time in the viewer's zone (static/times.js), UTC until then and on hover.
    assert re.search(r'\(at <time datetime="[0-9T:-]+Z" title="[^"]+ UTC" data-local>', answer.text)
    assert int(answer.headers["Retry-After"]) > 0 or "GMT" in answer.headers["Retry-After"]


# ---- 1. The open email relay ------------------------------------------------------------------


def test_resends_and_new_addresses_count_against_limit_send(app, client, limits, mailbox):
    """The issue's relay: 6 new addresses with a limit of 2 an hour all got the email."""
    limits["LIMIT_SEND"] = "3 per hour"
    bookkeeper = Bookkeeper(client).sign_up()
    account_id = bookkeeper.add_account("Relay Ltd")
    sent = bookkeeper.send_request(account_id)  # 1
    mailbox.wait_for(sent["client_email"])
    url = page_url(app, account_id)
    assert client.post(f"{url}/resend").status_code == 302  # 2
    first = unique_email("typo-fixed")
    assert client.post(f"{url}/email", data={"client_email": first}).status_code == 302  # 3
    mailbox.wait_for(first)

    victims = [unique_email("victim") for _ in range(6)]
    for victim in victims:
        answer = client.post(f"{url}/email", data={"client_email": victim})
        assert_says_when(answer)
        assert "Not sent: You have reached the limit of 3 per hour" in answer.text
    assert_says_when(client.post(f"{url}/resend"))
    time.sleep(1)  # anything sent would have reached the SMTP sink by now
    assert all(mailbox.to(victim) == [] for victim in victims)
    assert len(mailbox.to(sent["client_email"])) == 2  # the request and the one resend


def test_the_accounts_limit_is_shared_by_its_users(app, client, limits, mailbox):
    """Two admins of one account spend one allowance: more users do not multiply it."""
    limits["LIMIT_SEND"] = "2 per hour"
    ana = Bookkeeper(client, name="Ana Admin").sign_up()
    account_id = ana.add_account("Shared Ltd")
    bob = Bookkeeper(app.test_client(), name="Bob Admin").sign_up()
    with app.app_context():
        bob_id = db.session.scalar(select(User.id).filter_by(email=bob.email))
        db.session.add(Membership(account_id=account_id, user_id=bob_id, role=Membership.ADMIN))
        db.session.commit()
    ana.send_request(account_id)  # Ana 1, the account 1
    url = page_url(app, account_id)
    assert bob.client.post(f"{url}/resend").status_code == 302  # Bob 1, the account 2
    answer = bob.client.post(f"{url}/resend")
    assert_says_when(answer)
    assert "Shared Ltd has reached the limit of 2 per hour" in answer.text
    # Ana has one left of her own, but the account has none.
    assert_says_when(ana.client.post(f"{url}/resend"))


def test_the_daily_cap_counts_resends(app, client, limits, mailbox):
    """The issue's relay: 9 resends with a cap of 1 a day."""
    limits["CONNECT_DAILY_CAP"] = 1
    bookkeeper = Bookkeeper(client).sign_up()
    account_id = bookkeeper.add_account("Capped Relay Ltd")
    sent = bookkeeper.send_request(account_id)
    mailbox.wait_for(sent["client_email"])
    url = page_url(app, account_id)
    for _ in range(9):
        answer = client.post(f"{url}/resend")
        assert_says_when(answer)
        assert "reached today&#39;s limit of 1 requests and resends" in answer.text
    answer = client.post(f"{url}/email", data={"client_email": unique_email("other")})
    assert_says_when(answer)
    time.sleep(1)
    assert len(mailbox.to(sent["client_email"])) == 1


def test_a_request_is_resent_at_most_once_per_cooldown(app, client, limits, mailbox):
    limits["RESEND_COOLDOWN"] = timedelta(minutes=10)
    bookkeeper = Bookkeeper(client).sign_up()
    account_id = bookkeeper.add_account("Cooldown Ltd")
    sent = bookkeeper.send_request(account_id)
    mailbox.wait_for(sent["client_email"])
    url = page_url(app, account_id)
    # The first resend (or change of a mistyped address) goes at once.
    assert client.post(f"{url}/resend").status_code == 302
    again = client.post(f"{url}/resend")
    assert_says_when(again)
    assert "sent again less than 10 minutes ago" in again.text
    assert "try again in 10 minutes" in again.text
    moved = client.post(f"{url}/email", data={"client_email": unique_email("elsewhere")})
    assert_says_when(moved)
    assert "Resend now" in moved.text  # the request's own page, with the flash
    time.sleep(1)
    assert len(mailbox.to(sent["client_email"])) == 2


def test_an_invitation_is_resent_within_limit_invite_and_the_cooldown(app, client, limits, mailbox):
    limits["LIMIT_INVITE"] = "2 per hour"
    admin = Bookkeeper(client).sign_up()
    account_id = admin.add_account("Invites Ltd")
    email = unique_email("invitee")
    assert invite(admin, account_id, email).status_code == 302  # 1
    mailbox.wait_for(email, "invites you")
    with app.app_context():
        public_id = db.session.scalar(select(UserInvitation.public_id).filter_by(email=email))
    url = f"/accounts/{account_id}/invitations/{public_id}/resend"
    assert client.post(url).status_code == 302  # 2
    answer = client.post(url)
    assert_says_when(answer)
    assert "You have reached the limit of 2 per hour" in answer.text
    assert "Invites Ltd" in answer.text  # the users page, with the flash

    limiter.reset()
    limits["LIMIT_INVITE"] = "100 per hour"
    limits["RESEND_COOLDOWN"] = timedelta(minutes=10)
    answer = client.post(url)
    assert_says_when(answer)
    assert "sent again less than 10 minutes ago" in answer.text
    time.sleep(1)
    assert len(mailbox.to(email)) == 2
    assert invitation_status(app, email) == InvitationState.PENDING


def test_account_creation_is_limited_per_user(app, client, limits):
    limits["LIMIT_ACCOUNTS"] = "2 per day"
    bookkeeper = Bookkeeper(client).sign_up()
    bookkeeper.add_account("One Ltd")
    bookkeeper.add_account("Two Ltd")
    answer = client.post("/accounts/new", data={"name": "Three Ltd"})
    assert_says_when(answer)
    assert "Not added" in answer.text and 'value="Three Ltd"' in answer.text
    assert count(app, ClientAccount, name="Three Ltd") == 0
    # Another user has an allowance of their own.
    other = Bookkeeper(app.test_client()).sign_up()
    other.add_account("Three Ltd")


def test_direct_requests_count_against_limit_send(app, client, limits):
    limits["LIMIT_SEND"] = "1 per hour"
    bookkeeper = Bookkeeper(client).sign_up()
    account_id = bookkeeper.add_account("Direct Ltd")
    url = f"/accounts/{account_id}/connect/direct"
    # An outsider's posts are refused before anything is counted: they spend nothing of ours.
    outsider = Bookkeeper(app.test_client()).sign_up()
    for _ in range(3):
        assert outsider.client.post(url, data={"marketplace": "US"}).status_code == 404
    assert client.post(url, data={"marketplace": "US"}).status_code == 303
    answer = client.post(url, data={"marketplace": "CA"})
    assert_says_when(answer)
    assert count(app, ConnectionRequest, account_id=account_id) == 1


def test_the_limiters_429_page_says_when_to_try_again(app, limits):
    limits["LIMIT_LOGIN"] = "1 per minute"
    browser = app.test_client()
    data = {"email": unique_email("nobody"), "password": "wrong password"}
    assert browser.post("/login", data=data).status_code == 200
    answer = browser.post("/login", data=data)
    assert_says_when(answer)
    assert "Too many tries" in answer.text


# ---- 6. The seller's link flooding its workflow -------------------------------------------------


def history(loop, temporal_env, connection_request) -> list:
    handle = temporal_env.client.get_workflow_handle(
        connection_request.workflow_id, run_id=connection_request.workflow_run_id
    )
    return loop.run(handle.fetch_history()).events


def history_length(loop, temporal_env, connection_request) -> int:
    return len(history(loop, temporal_env, connection_request))


def signal_names(loop, temporal_env, connection_request) -> list[str]:
    return [
        e.workflow_execution_signaled_event_attributes.signal_name
        for e in history(loop, temporal_env, connection_request)
        if e.HasField("workflow_execution_signaled_event_attributes")
    ]


def settled_history_length(loop, temporal_env, connection_request) -> int:
    """The history's length once the workflow has finished reacting (it waits on timers)."""
    length = history_length(loop, temporal_env, connection_request)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = history_length(loop, temporal_env, connection_request)
        if now == length:
            return now
        length = now
    return length


def test_flooding_the_sellers_link_does_not_grow_its_workflow(
    app, client, seller, limits, mailbox, temporal_env, loop
):
    """The issue's flood: 60 POSTs took the history from 20 to 430 events."""
    limits["LIMIT_SELLER_LINK"] = "10 per minute"
    bookkeeper = Bookkeeper(client).sign_up()
    account_id = bookkeeper.add_account("Flooded Ltd")
    sent = bookkeeper.send_request(account_id)
    link = link_in(mailbox.wait_for(sent["client_email"])[0])
    connection_request = request_of(app, account_id)
    before = settled_history_length(loop, temporal_env, connection_request)

    path = path_of(link)
    answers = []
    for _ in range(30):
        answers.append(seller.client.post(f"{path}/opened"))
        answers.append(seller.client.post(path))
    after = settled_history_length(loop, temporal_env, connection_request)
    print(f"history: {before} events before 60 POSTs, {after} after")
    # One "opened" and one "consent started" (a dozen events each with their steps), not 60.
    assert signal_names(loop, temporal_env, connection_request)[-2:] == [
        "seller_opened",
        "consent_started",
    ]
    assert len(signal_names(loop, temporal_env, connection_request)) == 2
    assert after - before <= 40, (before, after)
    presses = [a for a in answers if a.request.path == path]
    locations = {a.headers["Location"] for a in presses if a.status_code == 303}
    assert len(locations) == 1  # the same state each time, not a new one per press
    assert count(app, OAuthState, request_id=connection_request.id) == 1
    refused = [a for a in answers if a.status_code == 429]
    assert len(refused) == 40  # 10 a minute on each of the two doors
    assert "Too many tries" in refused[-1].text
    assert_says_when(refused[-1])

    # The seller's real trip to Amazon, begun before the flood, still finishes.
    outcome = seller.return_from_amazon(seller.consent(locations.pop(), "seller-us@example.com"))
    assert outcome.status_code == 200 and "Connected" in outcome.text
    wait_for_status(app, account_id, RequestState.CONNECTED)


def test_opened_is_signalled_once_per_link_and_states_are_per_browser(
    app, client, seller, limits, mailbox, temporal_env, loop
):
    bookkeeper = Bookkeeper(client).sign_up()
    account_id = bookkeeper.add_account("Opened Once Ltd")
    sent = bookkeeper.send_request(account_id)
    link = link_in(mailbox.wait_for(sent["client_email"])[0])
    connection_request = request_of(app, account_id)
    path = path_of(link)
    for _ in range(5):
        assert seller.client.post(f"{path}/opened").status_code == 204
    wait_for_status(app, account_id, RequestState.OPENED)
    assert signal_names(loop, temporal_env, connection_request).count("seller_opened") == 1

    # Each browser has its own state; pressing again in one browser reuses its own.
    first = seller.go_to_amazon(link)
    assert seller.go_to_amazon(link) == first
    other = app.test_client().post(path)
    assert other.status_code == 303 and other.headers["Location"] != first
    assert count(app, OAuthState, request_id=connection_request.id) == 2
    outcome = seller.return_from_amazon(seller.consent(first, "seller-us@example.com"))
    assert outcome.status_code == 200
    wait_for_status(app, account_id, RequestState.CONNECTED)
