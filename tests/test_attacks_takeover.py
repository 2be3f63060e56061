"""Attacks of issue 11 on the real stack: a member taking over a connection or a request, user
text rendered in the Temporal UI, a guessable invitation workflow id, a forged seller id."""

import hashlib
import re
import sqlite3
import time
from urllib.parse import quote

from flask_migrate import upgrade
from sqlalchemy import func, select

from core.accounts import AmazonConnection
from core.crypto import keyed_digest
from core.extensions import db
from core.invitations import UserInvitation
from core.requests import Authorization, ConnectionRequest, OAuthState, RequestEvent
from services import invitations
from tests.amazon_seller import consent
from tests.support import Bookkeeper, path_of, request_of, text_of, unique_email
from web import create_app
from workflows.markdown import escape

HOSTILE = "[click](https://evil.example) <b>x</b>"
INVITATIONS_KEYED = "c5a1fc4c6db2"  # the migration that stores invitations' workflow ids


def join_as_member(app, admin: Bookkeeper, account_id: int, mailbox) -> Bookkeeper:
    member = Bookkeeper(app.test_client(), name="Mo Member").sign_up()
    admin.client.post(
        f"/accounts/{account_id}/users/invite", data={"email": member.email, "role": "member"}
    )
    message = mailbox.wait_for(member.email, "invites you to")[0]
    link = re.search(r"https?://\S+/invitations/[A-Za-z0-9_-]+", text_of(message)).group(0)
    assert member.client.post(path_of(link) + "/accept").status_code == 302
    return member


def connect_directly(
    client, account_id: int, marketplace: str, seller: str = "seller-us@example.com", **form
) -> str:
    started = client.post(
        f"/accounts/{account_id}/connect/direct", data={"marketplace": marketplace, **form}
    )
    assert started.status_code == 303, started.text
    redirect = consent(started.headers["Location"], seller)
    assert "<h1>Connected</h1>" in client.get(path_of(redirect)).text
    return redirect


def snapshot(app, account_id: int) -> dict:
    """Everything a direct connect could change for the account."""
    with app.app_context():
        requests = select(ConnectionRequest.id).filter_by(account_id=account_id)
        return {
            "connections": db.session.execute(
                select(
                    AmazonConnection.marketplace,
                    AmazonConnection.selling_partner_id,
                    AmazonConnection.request_id,
                ).filter_by(account_id=account_id)
            ).all(),
            "requests": db.session.execute(
                select(ConnectionRequest.id, ConnectionRequest.status).filter_by(
                    account_id=account_id
                )
            ).all(),
            "states": db.session.scalar(
                select(func.count())
                .select_from(OAuthState)
                .filter(OAuthState.request_id.in_(requests))
            ),
            "events": db.session.scalar(
                select(func.count())
                .select_from(RequestEvent)
                .filter(RequestEvent.request_id.in_(requests))
            ),
        }


# ---- item 3: a member can take over a connection ----------------------------------------------


def test_a_member_cannot_replace_a_connection_or_finish_an_admins_request(app, client, mailbox):
    admin = Bookkeeper(client, name="Ada Admin").sign_up()
    account_id = admin.add_account("Takeover Ltd")
    connect_directly(client, account_id, "US")
    # Another region than the connection's, which covers US, CA and MX.
    sent = admin.send_request(account_id, marketplace="UK", client_name="Sam Seller")
    mailbox.wait_for(sent["client_email"], "asks you to connect")
    member = join_as_member(app, admin, account_id, mailbox)
    before = snapshot(app, account_id)

    for marketplace in ("US", "UK"):
        for form in ({}, {"confirm": "yes"}):  # confirming is for admins only
            refused = member.client.post(
                f"/accounts/{account_id}/connect/direct",
                data={"marketplace": marketplace, **form},
            )
            assert refused.status_code == 403, (marketplace, form, refused.status_code)
            assert "Only the account&#39;s admins can replace a connection" in refused.text
            assert "ask Ada Admin" in refused.text
    assert snapshot(app, account_id) == before

    path = member.client.get(f"/accounts/{account_id}/connect/path?marketplace=US")
    assert "This replaces the connection to seller A2DEMOUSSELL01 made on" in path.text
    assert "connect now" not in path.text
    path = member.client.get(f"/accounts/{account_id}/connect/path?marketplace=UK")
    assert "This finishes Ada Admin&#39;s open request to Sam Seller" in path.text
    assert "connect now" not in path.text
    assert request_of(app, account_id).status == "sent"

    # What a member may do: connect a marketplace that has neither, and resume that.
    connect_directly(member.client, account_id, "DE", "seller-eu@example.com")


def test_an_admin_is_told_what_a_direct_connect_replaces_and_confirms(
    app, client, mailbox, loop, temporal_env
):
    admin = Bookkeeper(client, name="Ada Admin").sign_up()
    account_id = admin.add_account("Replace Me Ltd")
    connect_directly(client, account_id, "US")
    # its workflow ends once the confirmation emails are out; then the marketplace is free
    handle = temporal_env.client.get_workflow_handle(request_of(app, account_id).workflow_id)
    loop.run(handle.result())
    first = snapshot(app, account_id)["connections"]

    path = client.get(f"/accounts/{account_id}/connect/path?marketplace=US")
    assert "This replaces the connection to seller A2DEMOUSSELL01 made on" in path.text
    assert 'name="confirm" value="yes"' in path.text
    before = snapshot(app, account_id)
    asked = client.post(f"/accounts/{account_id}/connect/direct", data={"marketplace": "US"})
    assert asked.status_code == 200 and "Replace it and connect now" in asked.text
    assert "This replaces the connection to seller A2DEMOUSSELL01 made on" in asked.text
    assert snapshot(app, account_id) == before  # nothing started before the confirmation

    connect_directly(client, account_id, "US", confirm="yes")
    replaced = snapshot(app, account_id)["connections"]
    assert len(replaced) == 1 and replaced[0].request_id != first[0].request_id


# ---- item 7: user text rendered as Markdown/HTML in the Temporal UI ---------------------------


def shown_in_temporal(loop, temporal_env, workflow_id: str) -> dict:
    handle = temporal_env.client.get_workflow_handle(workflow_id)
    description = loop.run(handle.describe())
    deadline = time.monotonic() + 10
    # The workflow publishes its details once the first email is out: a breath after it arrives.
    while not (metadata := loop.run(handle.query("__temporal_workflow_metadata"))).current_details:
        assert time.monotonic() < deadline, "no current details"
        time.sleep(0.05)
    return {
        "summary": loop.run(description.static_summary()) or "",
        "details": loop.run(description.static_details()) or "",
        "current details": metadata.current_details or "",
    }


def assert_escaped(shown: dict) -> None:
    for where, text in shown.items():
        assert "[click](" not in text and "<b>" not in text, (where, text)
        assert "https://" not in text, (where, text)  # no autolink either
    assert escape(HOSTILE) in shown["summary"]
    assert escape(HOSTILE) in shown["current details"]


def test_user_text_is_escaped_in_the_temporal_ui(app, client, mailbox, loop, temporal_env):
    assert escape(HOSTILE) == (r"\[click\]\(https\:\/\/evil\.example\) &lt;b&gt;x&lt;\/b&gt;")
    admin = Bookkeeper(client, name=f"Eve {HOSTILE}", firm=f"Firm {HOSTILE}").sign_up()
    account_id = admin.add_account(HOSTILE)
    sent = admin.send_request(account_id, client_name=f"Sam {HOSTILE}")
    mailbox.wait_for(sent["client_email"], "asks you to connect")
    shown = shown_in_temporal(loop, temporal_env, request_of(app, account_id).workflow_id)
    assert_escaped(shown)
    assert (
        f"Eve {escape(HOSTILE)} (Firm {escape(HOSTILE)}) for Sam {escape(HOSTILE)}"
        in (shown["details"])
    )

    invited = unique_email("invited")
    admin.client.post(
        f"/accounts/{account_id}/users/invite", data={"email": invited, "role": "member"}
    )
    mailbox.wait_for(invited, "invites you to")
    with app.app_context():
        workflow_id = db.session.scalar(select(UserInvitation.workflow_id).filter_by(email=invited))
    shown = shown_in_temporal(loop, temporal_env, workflow_id)
    assert_escaped(shown)
    assert f"invited by Eve {escape(HOSTILE)}" in shown["current details"]


# ---- item 11: the invitation workflow id holds an unsalted hash of the address ----------------


def old_workflow_id(account_id: int, email: str) -> str:
    digest = hashlib.sha256(email.lower().encode()).hexdigest()[:16]
    return f"user-invitation-{account_id}-{digest}"


def test_invitation_workflow_ids_are_keyed(app, client, mailbox, loop, temporal_env):
    admin = Bookkeeper(client).sign_up()
    account_id = admin.add_account("Keyed Ids Ltd")
    email = unique_email("invitee")
    invite = {"email": email, "role": "member"}
    assert client.post(f"/accounts/{account_id}/users/invite", data=invite).status_code == 302
    mailbox.wait_for(email, "invites you to")
    with app.app_context():
        invitation = db.session.scalar(select(UserInvitation).filter_by(email=email))
        workflow_id = invitation.workflow_id
    assert workflow_id != old_workflow_id(account_id, email)
    assert hashlib.sha256(email.encode()).hexdigest()[:16] not in workflow_id
    # Derived from SECRET_KEY: another key (an attacker's guess) gives another id.
    mac = keyed_digest(app.config["SECRET_KEY"], "user-invitation-workflow", str(account_id), email)
    assert workflow_id == f"user-invitation-{account_id}-{mac[:32]}"
    assert mac != keyed_digest("guessed", "user-invitation-workflow", str(account_id), email)
    handle = temporal_env.client.get_workflow_handle(workflow_id)
    assert loop.run(handle.describe()).run_id == invitation.workflow_run_id

    # One open invitation per address and account: Temporal still refuses the second.
    again = client.post(f"/accounts/{account_id}/users/invite", data=invite)
    assert again.status_code == 409 and "already invited" in again.text


def test_an_invitation_from_before_the_key_keeps_its_workflow(app, client, mailbox):
    """A row whose workflow runs under the old id: a second invite of the address is refused."""
    admin = Bookkeeper(client).sign_up()
    account_id = admin.add_account("Legacy Invites Ltd")
    email = unique_email("legacy")
    with app.test_request_context():
        invitation = UserInvitation(
            account_id=account_id,
            email=email,
            role="member",
            invited_by_id=admin_id(app, admin.email),
            workflow_id=old_workflow_id(account_id, email),
        )
        db.session.add(invitation)
        db.session.flush()
        invitations._start_workflow(invitation)  # as the app did before ids were keyed
        db.session.commit()
    mailbox.wait_for(email, "invites you to")
    again = client.post(
        f"/accounts/{account_id}/users/invite", data={"email": email, "role": "member"}
    )
    assert again.status_code == 409 and "already invited" in again.text


def admin_id(app, email: str) -> int:
    from core.users import User

    with app.app_context():
        return db.session.scalar(select(User.id).filter_by(email=email))


def test_the_migration_keeps_existing_invitations_workflow_ids(tmp_path):
    path = tmp_path / "old.db"
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "TESTING": True})
    with app.app_context():
        upgrade(revision="9c1d2e3f4a5b")
    with sqlite3.connect(path) as connection:
        connection.execute(
            "INSERT INTO user_invitations (public_id, account_id, email, role, invited_by_id,"
            " status, reminders_sent, created_at, updated_at) VALUES ('p1', 7, 'Old@Example.com',"
            " 'member', 1, 'pending', 0, '2026-01-01', '2026-01-01')"
        )
    with app.app_context():
        upgrade(revision=INVITATIONS_KEYED)
    with sqlite3.connect(path) as connection:
        (stored,) = connection.execute("SELECT workflow_id FROM user_invitations").fetchone()
    assert stored == old_workflow_id(7, "old@example.com")


# ---- item 12: selling_partner_id is stored and emailed as given -------------------------------


def test_a_forged_selling_partner_id_is_refused_before_anything_is_kept(app, client):
    admin = Bookkeeper(client).sign_up()
    account_id = admin.add_account("Seller Id Ltd")
    started = client.post(f"/accounts/{account_id}/connect/direct", data={"marketplace": "US"})
    redirect = consent(started.headers["Location"], "seller-us@example.com")
    assert "selling_partner_id=A2DEMOUSSELL01" in redirect
    for forged in ("A2DEMO<b>x</b>01", "a2demoussell01", "A2DEMO", "A" * 21, "A2DEMO USSELL01"):
        response = client.get(path_of(redirect).replace("A2DEMOUSSELL01", quote(forged)))
        assert response.status_code == 400, (forged, response.status_code)
        assert "not one Amazon issues" in response.text
    with app.app_context():
        request_id = request_of(app, account_id).id
        assert (
            db.session.scalar(
                select(func.count()).select_from(Authorization).filter_by(request_id=request_id)
            )
            == 0
        )
    # Amazon's real answer still goes through: nothing of the forgeries was kept.
    assert "<h1>Connected</h1>" in client.get(path_of(redirect)).text
