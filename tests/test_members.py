"""Option 2: invite the seller as a user, who joins and connects Amazon directly."""

import time
from datetime import timedelta

from sqlalchemy import func, select

from core.accounts import AmazonConnection, Membership
from core.extensions import db
from core.invitations import UserInvitation
from tests.support import (
    Bookkeeper,
    invitation_link,
    invitation_of,
    invitation_status,
    invite,
    invite_new_address,
    invite_user,
    path_of,
    text_of,
    unique_email,
    wait_for_status,
)

S = timedelta(seconds=1)


def count(app, model, **filters) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).filter_by(**filters))


def wait_invitation(app, email, status, timeout=20):
    deadline = time.monotonic() + timeout
    while invitation_status(app, email) != status:
        assert time.monotonic() < deadline, invitation_status(app, email)
        time.sleep(0.05)


def test_seller_invited_as_user_joins_and_connects(app, client, mailbox):
    admin, account_id, seller_email, link = invite_user(client, mailbox, "Option Two Ltd", "owner")

    browser = app.test_client()
    for _ in range(2):  # a scanner fetching the link changes nothing
        landing = browser.get(path_of(link))
        assert landing.status_code == 200 and "Sign up as" in landing.text
    assert invitation_status(app, seller_email) == "pending"

    signup = browser.get(f"/signup?invitation={link.rsplit('/', 1)[-1]}")
    assert seller_email in signup.text
    joined = browser.post(
        f"/signup?invitation={link.rsplit('/', 1)[-1]}",
        data={"name": "Olive Owner", "email": seller_email, "password": "owner password 1"},
    )
    assert joined.status_code == 302
    assert joined.headers["Location"].endswith(f"/accounts/{account_id}")
    page = browser.get(f"/accounts/{account_id}")
    assert "Option Two Ltd" in page.text and "a member" in page.text
    mailbox.wait_for(admin.email, "Olive Owner joined Option Two Ltd")
    wait_invitation(app, seller_email, "accepted")

    # A member connects directly, but cannot send requests or manage users.
    data = {**admin.request_form(account_id), "action": "preview"}
    assert browser.post(f"/accounts/{account_id}/connect/request", data=data).status_code == 403
    assert invite(Bookkeeper(browser), account_id, unique_email("x")).status_code == 403
    path = browser.get(f"/accounts/{account_id}/connect/path?marketplace=CA")
    assert "Only the account" in path.text and "connect now" in path.text
    started = browser.post(f"/accounts/{account_id}/connect/direct", data={"marketplace": "CA"})
    from tests.amazon_seller import consent

    redirect = consent(started.headers["Location"], "seller-us@example.com")
    assert "<h1>Connected</h1>" in browser.get(path_of(redirect)).text
    assert count(app, AmazonConnection, account_id=account_id) == 1
    told = mailbox.wait_for(admin.email, "Olive Owner connected Option Two Ltd to Amazon")[0]
    assert "A2DEMOUSSELL01" in text_of(told)
    assert "Connected" in client.get(f"/accounts/{account_id}").text


def test_existing_login_accepts_after_logging_in(app, client, mailbox):
    admin = Bookkeeper(client).sign_up()
    account_id = admin.add_account("Second Shop")
    other = Bookkeeper(app.test_client(), name="Kim Existing").sign_up()
    invite(admin, account_id, other.email, role="admin")
    link = invitation_link(mailbox.wait_for(other.email, "invites you to Second Shop")[0])
    landing = other.client.get(path_of(link))
    assert "Accept invitation" in landing.text
    accepted = other.client.post(path_of(link) + "/accept")
    assert accepted.status_code == 302
    assert "an admin" in other.client.get(f"/accounts/{account_id}").text
    # Accepting twice: a clear page, nothing more written.
    again = other.client.post(path_of(link) + "/accept")
    assert again.status_code == 410 and "already accepted" in again.text
    assert count(app, Membership, account_id=account_id) == 2


def test_link_used_by_another_login_is_refused(app, client, mailbox):
    _, account_id, invited, link = invite_user(client, mailbox, prefix="invited")
    stranger = Bookkeeper(app.test_client(), name="Sly Stranger").sign_up()
    page = stranger.client.get(path_of(link))
    assert page.status_code == 403 and f"this invitation is for {invited}" in page.text
    refused = stranger.client.post(path_of(link) + "/accept")
    assert refused.status_code == 403
    assert stranger.client.get(f"/accounts/{account_id}").status_code == 404
    # signing up with another address through the invitation is refused as well
    browser = app.test_client()
    token = link.rsplit("/", 1)[-1]
    response = browser.post(
        f"/signup?invitation={token}",
        data={"name": "X", "email": unique_email("other"), "password": "long enough pw"},
    )
    assert response.status_code == 200 and "sign up with that address" in response.text
    assert invitation_status(app, invited) == "pending"


def test_expired_and_withdrawn_invitations(app, client, mailbox, config):
    admin = Bookkeeper(client).sign_up()
    account_id = admin.add_account("Expiring Ltd")
    config["CONNECT_REMINDERS"] = []
    config["CONNECT_EXPIRES_AFTER"] = 1 * S
    late, link = invite_new_address(admin, account_id, mailbox, "late")
    wait_invitation(app, late, "expired")
    mailbox.wait_for(admin.email, f"Your invitation of {late} to Expiring Ltd expired")
    late_user = Bookkeeper(app.test_client(), name="Lee Late")
    late_user.email = late
    late_user.sign_up()
    page = late_user.client.post(path_of(link) + "/accept")
    assert page.status_code == 410 and "expired" in page.text
    assert count(app, Membership, account_id=account_id) == 1

    config["CONNECT_EXPIRES_AFTER"] = 60 * S
    withdrawn, link = invite_new_address(admin, account_id, mailbox, "withdrawn")
    public_id = invitation_of(app, withdrawn).public_id
    client.post(f"/accounts/{account_id}/invitations/{public_id}/cancel")
    wait_invitation(app, withdrawn, "cancelled")
    assert "withdrawn" in app.test_client().get(path_of(link)).text


def test_resend_replaces_the_link(app, client, mailbox):
    _, account_id, email, old = invite_user(client, mailbox, prefix="resend")
    public_id = invitation_of(app, email).public_id
    client.post(f"/accounts/{account_id}/invitations/{public_id}/resend")
    fresh = invitation_link(mailbox.wait_for(email, "invites you to", count=2)[1])
    assert "replaced by a newer one" in app.test_client().get(path_of(old)).text
    assert "Sign up as" in app.test_client().get(path_of(fresh)).text


def test_bad_invitations_write_nothing(app, client, mailbox):
    admin = Bookkeeper(client).sign_up()
    account_id = admin.add_account()
    before = count(app, UserInvitation, account_id=account_id)
    bad = invite(admin, account_id, "not an email")
    assert bad.status_code == 400 and "Enter a valid email address." in bad.text
    injected = invite(admin, account_id, "a@b.com\r\nBcc: c@d.com")
    assert injected.status_code == 400
    member = invite(admin, account_id, admin.email)
    assert member.status_code == 400 and "already a user" in member.text
    role = admin.client.post(
        f"/accounts/{account_id}/users/invite", data={"email": unique_email("r"), "role": "owner"}
    )
    assert role.status_code == 400 and "Not a valid choice" in role.text
    assert count(app, UserInvitation, account_id=account_id) == before
    twice = unique_email("twice")
    invite(admin, account_id, twice)
    again = invite(admin, account_id, twice)
    assert again.status_code == 409 and "already invited" in again.text
    assert count(app, UserInvitation, account_id=account_id) == before + 1


def test_roles_and_removal(app, client, mailbox):
    admin = Bookkeeper(client).sign_up()
    account_id = admin.add_account("Roles Ltd")
    member = Bookkeeper(app.test_client(), name="Mo Member").sign_up()
    invite(admin, account_id, member.email)
    link = invitation_link(mailbox.wait_for(member.email, "invites you to Roles Ltd")[0])
    member.client.post(path_of(link) + "/accept")
    with app.app_context():
        rows = {
            m.user.email: m.id
            for m in db.session.scalars(select(Membership).filter_by(account_id=account_id))
        }
    me, them = rows[admin.email], rows[member.email]
    base = f"/accounts/{account_id}/users"

    # A member may look but not manage.
    assert member.client.get(base).status_code == 200
    assert member.client.post(f"{base}/{me}/remove").status_code == 403
    assert member.client.post(f"{base}/{me}/role", data={"role": "member"}).status_code == 403

    # The last admin cannot leave or be demoted.
    refused = client.post(f"{base}/{me}/role", data={"role": "member"})
    assert "at least one admin" in client.get(refused.headers["Location"]).text
    client.post(f"{base}/{me}/remove")
    assert count(app, Membership, account_id=account_id, role="admin") == 1

    # Promote, then the original admin may step down.
    client.post(f"{base}/{them}/role", data={"role": "admin"})
    assert count(app, Membership, account_id=account_id, role="admin") == 2
    client.post(f"{base}/{me}/role", data={"role": "member"})
    assert count(app, Membership, account_id=account_id, role="admin") == 1

    # Removal takes effect on the very next request of the removed user.
    assert client.get(f"/accounts/{account_id}").status_code == 200
    member.client.post(f"{base}/{me}/remove")
    assert client.get(f"/accounts/{account_id}").status_code == 404
    assert "Roles Ltd" not in client.get("/").text


def test_dashboard_lists_every_account_with_its_status(app, client, seller, mailbox):
    admin = Bookkeeper(client).sign_up()
    first = admin.add_account("Zeta Goods")
    second = admin.add_account("Alpha Goods")
    sent = admin.send_request(first)
    mailbox.wait_for(sent["client_email"], "asks you to connect")
    page = client.get("/").text.split("<main>")[1]
    assert page.index("Alpha Goods") < page.index("Zeta Goods")
    assert "Amazon not connected" in page and "Amazon US: Sent" in page
    header = client.get(f"/accounts/{second}").text.split("<main>")[0]
    assert f'href="/accounts/{first}"' in header and f'href="/accounts/{second}"' in header
    wait_for_status(app, first, "sent")
