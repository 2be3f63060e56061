"""The JSON API over HTTP on the real stack: a practice tool with a key sends requests, follows
them to Connected, and is held to the same rules, roles and limits as the bookkeeper's pages."""

import logging
import re

import requests

from core.api_keys import ApiKey
from core.extensions import db
from core.logs import redact
from core.requests import ConnectionRequest
from tests.api_support import Api, assert_problem, new_key
from tests.support import Bookkeeper, link_in, path_of, text_of, unique_email


def test_a_key_is_shown_once_kept_hashed_and_revoked_at_once(app, client, live_server, caplog):
    caplog.set_level(logging.DEBUG)
    bookkeeper = Bookkeeper(client).sign_up()
    key = new_key(bookkeeper, "Sync")
    page = client.get("/settings/api-keys/").text
    assert key not in page and key[:10] + "…" in page  # never shown again, told apart by its start
    with app.app_context():
        stored = db.session.scalar(db.select(ApiKey).filter_by(shown_prefix=key[:10]))
        assert key not in repr(vars(stored)) and stored.last_used_at is None

    api = Api(live_server, key)
    assert api.get("/accounts/").json() == {"data": [], "has_more": False, "next_cursor": None}
    assert "never" not in client.get("/settings/api-keys/").text  # its last use is shown

    assert client.post(f"/settings/api-keys/{stored.id}/revoke").status_code == 303
    assert_problem(api.get("/accounts/"), 401, "unauthorized")
    for header in ({}, {"Authorization": "Basic abc"}, {"Authorization": f"Bearer {key}x"}):
        answer = requests.get(f"{live_server}/api/v1/accounts/", headers=header, timeout=10)
        assert_problem(answer, 401, "unauthorized")
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")

    stranger = Bookkeeper(app.test_client()).sign_up()
    assert stranger.client.post(f"/settings/api-keys/{stored.id}/revoke").status_code == 404
    assert key not in caplog.text and key[10:30] not in caplog.text
    assert redact(f"Authorization: Bearer {key}") == "Authorization: Bearer ak_[redacted]"


def test_send_a_request_follow_it_to_connected_and_see_the_connection(
    app, client, seller, mailbox, live_server
):
    bookkeeper = Bookkeeper(client).sign_up()
    api = Api(live_server, new_key(bookkeeper))
    made = api.post("/accounts/", {"name": "Api Widgets"})
    assert made.status_code == 201, made.text
    account = made.json()
    assert account["role"] == "admin" and account["connections"] == []
    assert made.headers["Location"].endswith(f"/api/v1/accounts/{account['id']}")

    address = unique_email("api-seller")
    body = {
        "account_id": account["id"],
        "marketplace": "US",
        "client_name": "Sam Seller",
        "client_email": address,
        "note": "Thanks, Sam!",
    }
    first = api.post("/connection-requests/", body, key="send-sam-1")
    assert first.status_code == 201, first.text
    sent = first.json()
    assert sent["status"] == "sent" and sent["marketplace"] == "US"
    assert sent["connection_id"] is None and sent["created_at"].endswith("+00:00")

    # A retry with the same key answers the first answer and sends nothing again.
    again = api.post("/connection-requests/", body, key="send-sam-1")
    assert again.status_code == 201 and again.json() == sent
    assert again.headers["Idempotent-Replayed"] == "true"
    other = api.post("/connection-requests/", {**body, "note": "Other"}, key="send-sam-1")
    assert_problem(other, 409, "idempotency-key-reused")
    # Without a key, a second request for the marketplace is refused as on the page.
    assert_problem(api.post("/connection-requests/", body, key=None), 409, "already-open")

    email = mailbox.wait_for(address, "asks you to connect")
    assert len(email) == 1
    link = link_in(email[0])
    token = link.rsplit("/", 1)[-1]
    assert "<h1>Connected</h1>" in seller.connect(link).text

    detail = _wait(api, f"/connection-requests/{sent['id']}", "connected")
    assert detail["connection_id"] is not None
    kinds = [line["kind"] for line in detail["timeline"]]
    assert kinds[-1] == "connected", kinds
    connection = api.get(f"/connections/{detail['connection_id']}").json()
    assert connection["status"] == "healthy" and connection["covers"] == ["US", "CA", "MX"]
    assert connection["request_id"] == sent["id"]
    listed = api.get("/connections/", account_id=account["id"], status="healthy").json()
    assert [c["id"] for c in listed["data"]] == [connection["id"]]
    assert api.get(f"/accounts/{account['id']}").json()["connections"][0]["status"] == "healthy"

    # Covered by that connection: refused before anything is sent.
    covered = api.post("/connection-requests/", {**body, "marketplace": "CA"})
    assert "is already covered" in assert_problem(covered, 409, "already-covered")["detail"]

    # No secret in any answer: not the seller's link, not a code or a token.
    answers = [first.text, again.text, api.get("/connection-requests/").text]
    answers += [api.get(f"/connection-requests/{sent['id']}").text, str(connection)]
    for text in answers:
        assert token not in text and "refresh" not in text.lower() and "Atzr|" not in text


def _wait(api: Api, path: str, status: str, timeout: float = 20.0) -> dict:
    import time

    deadline = time.monotonic() + timeout
    while (found := api.get(path).json())["status"] != status:
        assert time.monotonic() < deadline, found
        time.sleep(0.1)
    return found


def test_resend_change_email_and_withdraw_like_the_pages(app, client, mailbox, live_server):
    bookkeeper = Bookkeeper(client).sign_up()
    api = Api(live_server, new_key(bookkeeper))
    account = api.post("/accounts/", {"name": "Api Actions"}).json()
    address = unique_email("api-actions")
    body = {"account_id": account["id"], "marketplace": "DE", "also": ["JP"]}
    body |= {"client_name": "Dee", "client_email": address}
    sent = api.post("/connection-requests/", body).json()
    assert len(mailbox.wait_for(address, "asks you to connect")) == 1  # one email, two regions
    group = api.get("/connection-requests/", account_id=account["id"]).json()["data"]
    assert sorted(r["marketplace"] for r in group) == ["DE", "JP"]
    assert {r["group_id"] for r in group} == {sent["id"]}

    resent = api.post(f"/connection-requests/{sent['id']}/resend")
    assert resent.status_code == 200, resent.text
    assert len(mailbox.wait_for(address, "asks you to connect", count=2)) == 2

    moved = unique_email("api-moved")
    changed = api.post(f"/connection-requests/{sent['id']}/change-email", {"client_email": moved})
    assert changed.status_code == 200 and changed.json()["client_email"] == moved
    mailbox.wait_for(moved, "asks you to connect")

    withdrawn = api.post(f"/connection-requests/{sent['id']}/withdraw")
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "cancelled"
    assert_problem(api.post(f"/connection-requests/{sent['id']}/withdraw"), 409, "not-done")
    open_ones = api.get("/connection-requests/", account_id=account["id"], status="sent")
    assert [r["marketplace"] for r in open_ones.json()["data"]] == ["JP"]


def test_invalid_input_and_other_peoples_ids_answer_problems(app, client, live_server):
    owner = Bookkeeper(client).sign_up()
    owner_api = Api(live_server, new_key(owner))
    account = owner_api.post("/accounts/", {"name": "Owner Ltd"}).json()
    request_id = owner_api.post(
        "/connection-requests/",
        {
            "account_id": account["id"],
            "marketplace": "US",
            "client_name": "Sam",
            "client_email": unique_email("api-private"),
        },
    ).json()["id"]

    stranger = Bookkeeper(app.test_client()).sign_up()
    api = Api(live_server, new_key(stranger))
    nobody = assert_problem(api.get("/accounts/999999"), 404, "not-found")
    theirs = assert_problem(api.get(f"/accounts/{account['id']}"), 404, "not-found")
    assert nobody.keys() == theirs.keys()
    assert_problem(api.get(f"/connection-requests/{request_id}"), 404, "not-found")
    assert_problem(api.post(f"/connection-requests/{request_id}/withdraw"), 404, "not-found")
    assert_problem(api.get("/connection-requests/", account_id=account["id"]), 404, "not-found")
    assert api.get("/connection-requests/").json()["data"] == []
    sneaky = {"account_id": account["id"], "marketplace": "US", "client_name": "X"}
    sneaky["client_email"] = unique_email("x")
    assert_problem(api.post("/connection-requests/", sneaky), 404, "not-found")

    bad = api.post(
        "/connection-requests/",
        {
            "account_id": "1",
            "marketplace": "ZZ",
            "also": ["US", "CA"],
            "client_name": "Line\nbreak",
            "client_email": "not-an-email",
            "colour": "blue",
        },
    )
    errors = assert_problem(bad, 422, "invalid-input")["errors"]
    assert set(errors) == {"account_id", "marketplace", "client_name", "client_email", "colour"}
    assert errors["client_name"] == ["Use a single line without line breaks."]  # the form's words
    two_of_one_region = api.post(
        "/accounts/", {"name": "Mine"}
    ).json()  # the rule on regions comes after the account is known to be the caller's
    same_region = {"account_id": two_of_one_region["id"], "marketplace": "US", "also": ["CA"]}
    same_region |= {"client_name": "Sam", "client_email": unique_email("y")}
    problem = assert_problem(api.post("/connection-requests/", same_region), 422, "invalid-input")
    assert "one Amazon authorization covers a whole region" in problem["errors"]["also"][0]
    assert_problem(api.post("/accounts/", {"name": ""}), 422, "invalid-input")
    not_json = api.http.post(
        api.base + "/accounts/", data="name=x", headers={"Content-Type": "text/plain"}, timeout=10
    )
    assert not_json.headers["Content-Type"] == "application/problem+json"
    broken = api.http.post(
        api.base + "/accounts/",
        data='{"name": ',
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert "not valid JSON" in assert_problem(broken, 400, "bad-request")["detail"]
    huge = api.post("/accounts/", {"name": "x" * 100_000})
    assert "larger than 64 KB" in assert_problem(huge, 413, "too-large")["detail"]
    assert_problem(api.get("/accounts/", cursor="bm9wZQ"), 422, "invalid-input")
    assert_problem(api.get("/nothing-here"), 404, "not-found")
    assert_problem(api.http.delete(api.base + "/accounts/", timeout=10), 405, "method-not-allowed")


def test_members_read_but_only_admins_act(app, client, mailbox, live_server):
    admin = Bookkeeper(client).sign_up()
    admin_api = Api(live_server, new_key(admin))
    account = admin_api.post("/accounts/", {"name": "Roles Ltd"}).json()
    member = Bookkeeper(app.test_client())
    invited = admin_api.post(
        "/invitations/", {"account_id": account["id"], "email": member.email, "role": "member"}
    )
    assert invited.status_code == 201, invited.text
    assert invited.json()["status"] == "pending"
    again = admin_api.post("/invitations/", {"account_id": account["id"], "email": member.email})
    assert_problem(again, 409, "already-open")
    link = re.search(
        r"https?://\S+/invitations/[A-Za-z0-9_-]+",
        text_of(mailbox.wait_for(member.email, "invites you to")[0]),
    ).group(0)
    member.sign_up()
    accepted = member.client.post(path_of(link) + "/accept")
    assert accepted.status_code == 302, accepted.text
    member_api = Api(live_server, new_key(member))
    assert [a["role"] for a in member_api.get("/accounts/").json()["data"]] == ["member"]
    asked = {"account_id": account["id"], "marketplace": "US", "client_name": "Sam"}
    asked["client_email"] = unique_email("member-tries")
    assert_problem(member_api.post("/connection-requests/", asked), 403, "forbidden")
    assert_problem(
        member_api.post("/invitations/", {"account_id": account["id"], "email": "a@b.example"}),
        403,
        "forbidden",
    )
    user = admin_api.post("/invitations/", {"account_id": account["id"], "email": member.email})
    assert_problem(user, 409, "already-a-user")

    other = unique_email("api-withdrawn")
    made = admin_api.post("/invitations/", {"account_id": account["id"], "email": other}).json()
    listed = admin_api.get("/invitations/", account_id=account["id"], status="pending").json()
    assert [i["email"] for i in listed["data"]] == [other]
    withdrawn = admin_api.post(f"/invitations/{made['id']}/withdraw")
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "cancelled"


def test_pages_of_a_list_follow_the_cursor_newest_first(app, client, live_server):
    bookkeeper = Bookkeeper(client).sign_up()
    api = Api(live_server, new_key(bookkeeper))
    names = [f"Paged {n}" for n in range(5)]
    for name in names:
        assert api.post("/accounts/", {"name": name}).status_code == 201
    seen, cursor = [], None
    while True:
        page = api.get("/accounts/", limit=2, **({"cursor": cursor} if cursor else {})).json()
        seen += [a["name"] for a in page["data"]]
        assert len(page["data"]) <= 2
        if not page["has_more"]:
            assert page["next_cursor"] is None
            break
        cursor = page["next_cursor"]
    assert seen == names[::-1]
    assert_problem(api.get("/accounts/", limit=0), 422, "invalid-input")
    assert_problem(api.get("/accounts/", limit=101), 422, "invalid-input")


def test_keys_count_against_the_users_limits(app, client, mailbox, live_server, config):
    bookkeeper = Bookkeeper(client).sign_up()
    api = Api(live_server, new_key(bookkeeper))
    account = api.post("/accounts/", {"name": "Limited Ltd"}).json()
    config["LIMIT_SEND"] = "1 per hour"
    # The page spends the user's one send of the hour; the API is refused with when to retry.
    bookkeeper.send_request(account["id"], marketplace="US")
    asked = {"account_id": account["id"], "marketplace": "DE", "client_name": "Dee"}
    asked["client_email"] = address = unique_email("api-limited")
    over = assert_problem(api.post("/connection-requests/", asked), 429, "rate-limited")
    assert int(over["retry_after"]) > 0 and over["retry_after"] == int(
        api.post("/connection-requests/", asked).headers["Retry-After"]
    )
    assert mailbox.to(address) == []
    with app.app_context():
        assert (
            db.session.scalar(db.select(ConnectionRequest).filter_by(client_email=address)) is None
        )

    config["LIMIT_API"] = "3 per minute"
    answers = [api.get("/accounts/").status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]


def test_bulk_invites_say_each_rows_verdict_then_send_the_sendable_ones(
    app, client, mailbox, live_server
):
    bookkeeper = Bookkeeper(client).sign_up()
    api = Api(live_server, new_key(bookkeeper))
    existing = api.post("/accounts/", {"name": "Known Goods"}).json()
    first, second = unique_email("bulk-a"), unique_email("bulk-b")
    rows = [
        {"business_name": "Known Goods", "marketplaces": ["US"], "owner_name": "Ann"},
        {"business_name": "Brand New Ltd", "marketplaces": ["DE", "JP"], "owner_name": "Ben"},
        {"business_name": "Broken", "marketplaces": ["ZZ"], "owner_name": "Cy"},
    ]
    rows[0]["owner_email"], rows[1]["owner_email"] = first, second
    rows[2]["owner_email"] = "not-an-address"
    looked = api.post("/bulk-invites/", {"rows": rows, "dry_run": True})
    assert looked.status_code == 200, looked.text
    verdicts = [(r["line"], r["verdict"]) for r in looked.json()["results"]]
    assert verdicts == [(1, "request"), (2, "new_account"), (3, "invalid")]
    assert "ZZ" in looked.json()["results"][2]["why"]
    assert mailbox.to(first) == [] and looked.json()["sent"] == 0  # a dry run sends nothing

    sent = api.post("/bulk-invites/", {"rows": rows}).json()
    assert sent["sent"] == 2
    done = {r["line"]: r for r in sent["results"]}
    assert done[1]["verdict"] == "sent" and done[1]["account_id"] == existing["id"]
    assert done[2]["verdict"] == "sent" and done[2]["account_created"] is True
    assert done[3]["verdict"] == "invalid" and done[3]["request_id"] is None
    mailbox.wait_for(first, "asks you to connect")
    assert len(mailbox.wait_for(second, "in 2 regions")) == 1
    request = api.get(f"/connection-requests/{done[2]['request_id']}").json()
    assert request["marketplace"] == "DE" and request["group_id"] == done[2]["request_id"]

    again = api.post("/bulk-invites/", {"rows": rows[:1], "dry_run": True}).json()
    assert again["results"][0]["verdict"] == "already_open"
    assert_problem(api.post("/bulk-invites/", {"rows": []}), 422, "invalid-input")


def test_the_same_idempotency_key_at_the_same_moment_does_it_once(app, client, live_server):
    from concurrent.futures import ThreadPoolExecutor

    bookkeeper = Bookkeeper(client).sign_up()
    api = Api(live_server, new_key(bookkeeper))
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(
            pool.map(lambda _: api.post("/accounts/", {"name": "Once Ltd"}, key="once"), range(6))
        )
    codes = sorted(a.status_code for a in answers)
    assert set(codes) <= {201, 409} and codes.count(201) >= 1, codes
    for answer in answers:
        if answer.status_code == 409:
            assert_problem(answer, 409, "idempotency-key-in-use")
    made = [a.json()["id"] for a in answers if a.status_code == 201]
    assert len(set(made)) == 1  # every 201 is the one account
    assert [a["name"] for a in api.get("/accounts/").json()["data"]] == ["Once Ltd"]
    # Another user's same key is theirs alone: it neither replays nor conflicts.
    other = Api(live_server, new_key(Bookkeeper(app.test_client()).sign_up()))
    theirs = other.post("/accounts/", {"name": "Not Once"}, key="once")
    assert theirs.status_code == 201 and theirs.json()["name"] == "Not Once"
