"""No account's data can be seen or changed from outside it, whatever ids go in the URL.

The routes are read from the app's URL map, so a route added later is covered without anyone
remembering to add it here.
"""

import re

import pytest
from sqlalchemy import select

from core.accounts import AmazonConnection, Membership
from core.extensions import db
from core.invitations import UserInvitation
from core.requests import Authorization, ConnectionRequest, RequestEvent
from tests.amazon_seller import consent
from tests.api_support import new_key
from tests.support import Bookkeeper, path_of, unique_email

API_BODY = {"client_email": "intruder@example.com"}
ID_ARGS = {"account_id", "public_id", "membership_id", "connection_id"}
FORM = {
    "email": "x@example.com",
    "role": "admin",
    "client_email": "x@example.com",
    "marketplace": "US",
    "client_name": "X",
    "name": "X",
}


def snapshot(app) -> dict:
    """Everything an intruder could try to change."""
    with app.app_context():
        return {
            "requests": [
                (r.id, r.status, r.client_email)
                for r in db.session.scalars(select(ConnectionRequest))
            ],
            "memberships": [(m.id, m.role) for m in db.session.scalars(select(Membership))],
            "invitations": [(i.id, i.status) for i in db.session.scalars(select(UserInvitation))],
            "connections": [c.id for c in db.session.scalars(select(AmazonConnection))],
            # the victim's own workflows may still be writing; the intruder must not
            "intruder events": db.session.scalars(
                select(RequestEvent).filter(RequestEvent.actor.like("%Intruder%"))
            ).all(),
        }


@pytest.fixture
def victim(app, client, mailbox):
    """An account with a connection, an authorization, a request, a member and an invitation."""
    owner = Bookkeeper(client, name="Olga Owner").sign_up()
    account_id = owner.add_account("Victim Books")
    started = client.post(f"/accounts/{account_id}/connect/direct", data={"marketplace": "US"})
    redirect = consent(started.headers["Location"], "seller-us@example.com")
    outcome = client.get(path_of(redirect))
    assert "<h1>Connected</h1>" in outcome.text
    sent = owner.send_request(account_id, marketplace="DE")
    mailbox.wait_for(sent["client_email"], "asks you to connect")
    member = Bookkeeper(app.test_client(), name="Mia Member").sign_up()
    invited = unique_email("invited")
    for email in (member.email, invited):
        client.post(f"/accounts/{account_id}/users/invite", data={"email": email, "role": "member"})
    link = re.search(
        r"https?://\S+/invitations/\S+",
        mailbox.wait_for(member.email, "invites you")[0].get_body(("plain",)).get_content(),
    ).group(0)
    member.client.post(path_of(link) + "/accept")
    with app.app_context():
        ids = {
            "account_id": account_id,
            "public_id": db.session.scalar(
                select(ConnectionRequest.public_id).filter_by(
                    account_id=account_id, marketplace="DE"
                )
            ),
            "connection_id": db.session.scalar(
                select(AmazonConnection.id).filter_by(account_id=account_id)
            ),
            "membership_id": db.session.scalar(
                select(Membership.id).filter_by(account_id=account_id, role="member")
            ),
            "invitation": db.session.scalar(
                select(UserInvitation.public_id).filter_by(email=invited)
            ),
            "authorization": db.session.scalar(
                select(Authorization.public_id)
                .join(ConnectionRequest)
                .filter(ConnectionRequest.account_id == account_id)
            ),
        }
    return owner, member, ids


def id_routes(app):
    for rule in app.url_map.iter_rules():
        if rule.arguments & ID_ARGS:
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield rule, method


def url_for_rule(rule, ids) -> str:
    values = {name: ids[name] for name in rule.arguments if name in ids}
    if "public_id" in rule.arguments:
        if "invitations" in rule.rule:
            values["public_id"] = ids["invitation"]
        elif "authorizations" in rule.rule:
            values["public_id"] = ids["authorization"]
    return rule.build(values)[1]


def test_outsiders_get_404_on_every_route_with_an_id(app, victim):
    _, _, ids = victim
    outsider = Bookkeeper(app.test_client(), name="Ivan Intruder").sign_up()
    own_account = outsider.add_account("Intruder Books")
    # The API's routes, with a key of the intruder's own and a body they would accept.
    api = {"headers": {"Authorization": f"Bearer {new_key(outsider)}"}, "json": API_BODY}
    before = snapshot(app)
    tried = []
    for rule, method in id_routes(app):
        for account_id in (ids["account_id"], own_account):  # theirs, and ids of theirs under mine
            if account_id == own_account and not rule.arguments & (ID_ARGS - {"account_id"}):
                continue  # a route on the intruder's own account with no foreign id: theirs
            url = url_for_rule(rule, {**ids, "account_id": account_id})
            sent = api if url.startswith("/api/") else {"data": FORM}
            response = outsider.client.open(url, method=method, **sent)
            assert response.status_code == 404, (method, url, response.status_code)
            tried.append((method, url))
    assert len(tried) >= 20
    assert snapshot(app) == before


def test_members_cannot_use_admin_routes(app, victim):
    _, member, ids = victim
    before = snapshot(app)
    admin_only = [
        ("POST", f"/accounts/{ids['account_id']}/connect/request"),
        ("POST", f"/accounts/{ids['account_id']}/users/invite"),
        ("POST", f"/accounts/{ids['account_id']}/users/{ids['membership_id']}/role"),
        ("POST", f"/accounts/{ids['account_id']}/users/{ids['membership_id']}/remove"),
        ("POST", f"/accounts/{ids['account_id']}/invitations/{ids['invitation']}/resend"),
        ("POST", f"/accounts/{ids['account_id']}/invitations/{ids['invitation']}/cancel"),
        ("POST", f"/accounts/{ids['account_id']}/requests/{ids['public_id']}/resend"),
        ("POST", f"/accounts/{ids['account_id']}/requests/{ids['public_id']}/email"),
        ("POST", f"/accounts/{ids['account_id']}/requests/{ids['public_id']}/cancel"),
        ("GET", f"/accounts/{ids['account_id']}/requests/{ids['public_id']}/renew"),
        ("POST", f"/accounts/{ids['account_id']}/connections/{ids['connection_id']}/disconnect"),
    ]
    for method, url in admin_only:
        response = member.client.open(url, method=method, data=FORM)
        assert response.status_code == 403, (method, url, response.status_code)
        assert "Only the account" in response.text
    assert snapshot(app) == before
    # What a member may do: look.
    assert member.client.get(f"/accounts/{ids['account_id']}").status_code == 200
    page = member.client.get(f"/accounts/{ids['account_id']}/requests/{ids['public_id']}")
    assert page.status_code == 200 and "Resend now" not in page.text
