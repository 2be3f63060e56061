"""Bulk invites (/requests/bulk, services/bulk_invites.py): a CSV's rows each get a verdict before
anything is sent, and confirming sends the sendable rows through the same rules as the form, each
row whole or not at all. parse_csv's unit tests first, then the real stack."""

import html
import io
import re
import time

import pytest

from core.accounts import ClientAccount, Membership
from core.extensions import db
from core.requests import ConnectionRequest
from core.users import User
from services import bulk_invites
from services import requests as request_service
from services.bulk_invites import EXAMPLE_CSV, BadCsv, Row, parse_csv
from tests.support import Bookkeeper, invitation_link, invite, link_in, path_of, unique_email

HEADER = "business name,marketplaces,owner name,owner email,note\n"


def parse(text: str, max_rows: int = 200, max_bytes: int = 40 * 1024) -> list[Row]:
    return parse_csv(text, max_rows=max_rows, max_bytes=max_bytes)


def refused(text: str, **limits) -> str:
    with pytest.raises(BadCsv) as raised:
        parse(text, **limits)
    return raised.value.message


# ---- parse_csv --------------------------------------------------------------------------------


def test_parse_reads_any_header_case_and_order_and_splits_marketplaces():
    text = (
        "\ufeffOwner_Email ; Business  Name;MARKETPLACE;owner-name\r\n"
        "sam@example.com;Acme Widgets Ltd;us de|jp;Sam Seller\r\n"
    )
    [row] = parse(text)  # a semicolon-separated file (a spreadsheet's locale), BOM and all
    assert row == Row(2, "Acme Widgets Ltd", ("US", "DE", "JP"), "Sam Seller", "sam@example.com")


def test_parse_keeps_quoted_commas_and_line_breaks_skips_blank_lines_and_numbers_lines():
    text = HEADER + (
        '\n"Blue, Harbour",UK JP,Ana Owner,ana@example.com,"Hi Ana,\r\nsee you soon"\n'
        ",,,,\n"
        'Cedar,"US, JP",Jo,jo@example.com,\n'
    )
    first, second = parse(text)
    assert (first.line, first.business_name, first.note) == (
        3,
        "Blue, Harbour",
        "Hi Ana,\nsee you soon",
    )
    assert first.marketplaces == ("UK", "JP")
    assert (second.line, second.marketplaces, second.note) == (6, ("US", "JP"), "")


def test_parse_a_row_with_too_many_values_says_so_in_the_row():
    [row] = parse(HEADER + "Acme,US,Sam,sam@example.com,Hi, there\n")
    assert "This line has 6 values for 5 columns" in row.problem
    assert "double quotes" in row.problem


def test_the_example_csv_reads_cleanly():
    rows = parse(EXAMPLE_CSV)
    assert [r.marketplaces for r in rows] == [("US",), ("UK", "JP"), ("DE", "US", "JP")]
    assert not any(r.problem for r in rows)


def test_row_of_values_as_the_api_gives_them():
    row = Row.of(1, " Acme ", ["us", "de jp"], " Sam ", " sam@example.com ", "a\r\nb ")
    assert row == Row(1, "Acme", ("US", "DE", "JP"), "Sam", "sam@example.com", "a\nb")


@pytest.mark.parametrize(
    "text, said",
    [
        ("", "The file is empty"),
        ("  \n\n", "The file is empty"),
        (",,\n ,\n", "The file is empty"),
        ("Acme,US,Sam,sam@example.com\n", "The first line must name the columns"),
        (
            "business name,marketplaces,owner name,owner email,phone\nA,US,S,s@example.com,1\n",
            'Unknown column "phone"',
        ),
        ("business name,marketplaces,owner name\nA,US,S\n", "lacks the column owner email"),
        (
            "business name,marketplaces,marketplace,owner name,owner email\n",
            'The column "marketplaces" is named twice',
        ),
        (HEADER, "header line but no rows"),
        (HEADER + '"Acme,US,Sam,sam@example.com,\n', "Line 2 cannot be read"),
        ("business name,marketplaces\x00\n", "This is not a CSV file"),
    ],
)
def test_parse_refuses_a_file_it_cannot_read_and_says_why(text, said):
    assert said in refused(text)


def test_parse_caps_the_rows_and_the_size():
    rows = "".join(f"Shop {n},US,Sam,sam{n}@example.com,\n" for n in range(3))
    assert parse(HEADER + rows, max_rows=3)
    assert "The file has 3 rows: up to 2 at a time" in refused(HEADER + rows, max_rows=2)
    big = HEADER + "Acme,US,Sam,sam@example.com," + "x" * 3000 + "\n"
    assert "The file is too large (3 KB): up to 2 KB at a time" in refused(big, max_bytes=2048)


# ---- the page, on the real stack --------------------------------------------------------------


def upload(bookkeeper: Bookkeeper, text: str | bytes, paste: bool = False):
    if paste:
        data = {"pasted": text}
    else:
        raw = text if isinstance(text, bytes) else text.encode()
        data = {"file": (io.BytesIO(raw), "clients.csv")}
    return bookkeeper.client.post("/requests/bulk", data=data, content_type="multipart/form-data")


def confirm(bookkeeper: Bookkeeper, preview):
    carried = re.search(r'name="csv" type="hidden" value="([^"]*)"', preview.text).group(1)
    return bookkeeper.client.post("/requests/bulk/send", data={"csv": carried})


def verdicts(page) -> dict[int, tuple[str, str]]:
    """Each row's line: its verdict's kind and why, as the page shows them."""
    found = re.findall(
        r"<tr>\s*<td>(\d+)</td>.*?badge badge-(\w+).*?<p class=\"why\">(.*?)</p>",
        page.text,
        re.S,
    )
    return {int(line): (kind, html.unescape(why)) for line, kind, why in found}


def requests_of(app, user_email: str) -> list[ConnectionRequest]:
    with app.app_context():
        return list(
            db.session.scalars(
                db.select(ConnectionRequest)
                .join(Membership, Membership.account_id == ConnectionRequest.account_id)
                .join(Membership.user)
                .filter_by(email=user_email)
                .order_by(ConnectionRequest.id)
            )
        )


def accounts_of(app, user_email: str) -> dict[str, int]:
    with app.app_context():
        return {
            account.name: account.id
            for account in db.session.scalars(
                db.select(ClientAccount)
                .join(Membership)
                .join(Membership.user)
                .filter_by(email=user_email)
            )
        }


def test_the_page_links_an_example_and_says_why_a_file_cannot_be_read(client, config):
    bookkeeper = Bookkeeper(client).sign_up()
    page = client.get("/requests/bulk")
    assert page.status_code == 200 and 'enctype="multipart/form-data"' in page.text
    assert "/requests/bulk/example.csv" in page.text
    assert "/requests/bulk" in client.get("/requests").text
    assert "/requests/bulk" in client.get("/").text
    example = client.get("/requests/bulk/example.csv")
    assert example.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in example.headers["Content-Disposition"]
    assert example.text == EXAMPLE_CSV

    assert "Choose a CSV file to upload, or paste the CSV." in upload(bookkeeper, "", True).text
    assert 'Unknown column "phone"' in html.unescape(
        upload(bookkeeper, "business name,marketplaces,owner name,owner email,phone\n").text
    )
    assert "save it as “CSV UTF-8”" in upload(bookkeeper, HEADER.encode() + b"Caf\xe9,US\n").text
    config["BULK_INVITE_MAX_ROWS"] = 1
    two = HEADER + "A,US,Sam,a@example.com,\nB,US,Sam,b@example.com,\n"
    assert "The file has 2 rows: up to 1 at a time" in upload(bookkeeper, two, True).text
    tampered = client.post(
        "/requests/bulk/send", data={"csv": "not base64!"}, follow_redirects=True
    )
    assert "That preview is out of date" in tampered.text
    assert requests_of(client.application, bookkeeper.email) == []


def test_every_verdict_in_one_preview_nothing_sent_until_confirmed_then_the_sendable_rows(
    app, client, seller, mailbox
):
    bookkeeper = Bookkeeper(client).sign_up()
    connected = bookkeeper.add_account("Connected Co")
    sent = bookkeeper.send_request(connected, marketplace="US")
    link = link_in(mailbox.wait_for(sent["client_email"], "asks you to connect")[0])
    assert "<h1>Connected</h1>" in seller.connect(link).text  # seller-us: US, CA and MX
    open_one = bookkeeper.add_account("Open Co")
    bookkeeper.send_request(open_one, marketplace="DE")
    plain = bookkeeper.add_account("Plain Co")
    before = {r.id for r in requests_of(app, bookkeeper.email)}

    owners = {n: unique_email(f"owner{n}") for n in range(2, 14)}
    new_name = f"Brand New {owners[3][6:16]}"
    lines = [
        f"Plain Co,US,Pat Plain,{owners[2]},Hello",  # 2: request
        f'{new_name},UK JP,Nia New,{owners[3]},"Hi, Nia"',  # 3: new account, two regions
        f"connected co,CA,Cy Covered,{owners[4]},",  # 4: covered by the US connection
        f"Connected Co,US,Cy Connected,{owners[5]},",  # 5: connected
        f"OPEN CO,DE,Olu Open,{owners[6]},",  # 6: a request is open
        "Plain Co,UK,Bad Email,not-an-email,",  # 7
        f"Plain Co,XX,Unknown Place,{owners[8]},",  # 8
        f"Plain Co,UK DE,Two Europes,{owners[9]},",  # 9
        f"Plain Co,FR,,{owners[10]},",  # 10: no owner name
        f"{'L' * 121},US,Long Name,{owners[11]},",  # 11
        f"plain co,US,Pat Again,{owners[12]},",  # 12: line 2 asks for it already
    ]
    preview = upload(bookkeeper, HEADER + "\n".join(lines) + "\n")
    assert preview.status_code == 200, preview.text
    seen = verdicts(preview)
    assert {line: kind for line, (kind, _) in seen.items()} == {
        2: "request",
        3: "new_account",
        4: "already_connected",
        5: "already_connected",
        6: "already_open",
        7: "invalid",
        8: "invalid",
        9: "invalid",
        10: "invalid",
        11: "invalid",
        12: "invalid",
    }
    assert "A request will be sent to Pat Plain" in seen[2][1]
    assert f"A new account {new_name} will be added" in seen[3][1]
    assert "Canada (CA) is already covered: the US connection" in seen[4][1]
    assert "Connected Co is connected to Amazon US already" in seen[5][1]
    assert "A request for Germany (DE) is open already" in seen[6][1]
    assert "Owner email: Enter a valid email address." in seen[7][1]
    assert "Unknown marketplace XX" in seen[8][1]
    assert "United Kingdom (UK) is in Europe, Middle East and India already" in seen[9][1]
    assert "The owner name is missing." in seen[10][1]
    assert "Business name: Too long: up to 120 characters, this one has 121." in seen[11][1]
    assert "Line 2 asks for plain co in US already." in seen[12][1]
    assert "Send 2 requests" in preview.text

    # The preview wrote and sent nothing.
    time.sleep(0.5)
    assert all(mailbox.to(owner) == [] for owner in owners.values())
    assert {r.id for r in requests_of(app, bookkeeper.email)} == before
    assert new_name not in accounts_of(app, bookkeeper.email)

    results = confirm(bookkeeper, preview)
    assert results.status_code == 200, results.text
    done = verdicts(results)
    assert {line for line, (kind, _) in done.items() if kind == "sent"} == {2, 3}
    assert {line: kind for line, (kind, _) in done.items() if line > 3} == {
        line: kind for line, (kind, _) in seen.items() if line > 3
    }
    assert "2 requests sent" in results.text
    [plain_invite] = mailbox.wait_for(owners[2], "asks you to connect")
    [two_regions] = mailbox.wait_for(owners[3], "in 2 regions")  # one email for the row
    time.sleep(0.5)
    assert len(mailbox.to(owners[2])) == len(mailbox.to(owners[3])) == 1
    assert all(mailbox.to(owners[n]) == [] for n in range(4, 14))

    new_id = accounts_of(app, bookkeeper.email)[new_name]
    made = [r for r in requests_of(app, bookkeeper.email) if r.id not in before]
    assert sorted((r.account_id, r.marketplace, r.client_email) for r in made) == sorted(
        [(plain, "US", owners[2]), (new_id, "UK", owners[3]), (new_id, "JP", owners[3])]
    )
    assert all(r.kind == ConnectionRequest.INVITE for r in made)
    uk, jp = [r for r in made if r.account_id == new_id]
    assert uk.group_id == jp.group_id == uk.public_id
    with app.app_context():
        [membership] = db.session.scalars(db.select(Membership).filter_by(account_id=new_id))
        assert membership.role == Membership.ADMIN
    for r in (r for r in made if r.public_id == (r.group_id or r.public_id)):
        page_link = f"/accounts/{r.account_id}/requests/{r.public_id}"
        assert page_link in results.text
        assert client.get(page_link).status_code == 200

    # The same file again: nothing left to send (both rows' requests are open now).
    again = verdicts(upload(bookkeeper, HEADER + "\n".join(lines[:2]) + "\n"))
    assert again[2][0] == again[3][0] == "already_open"


def test_rows_over_a_limit_are_reported_and_leave_nothing_half_written(
    app, client, mailbox, config
):
    bookkeeper = Bookkeeper(client).sign_up()
    existing = bookkeeper.add_account("Existing Shop")
    config["LIMIT_SEND"] = "2 per hour"
    owners = [unique_email(f"limited{n}") for n in range(4)]
    rows = [
        f"First Shop,US,Ann,{owners[0]},",
        f"Second Shop,UK,Ben,{owners[1]},",
        f"Third Shop,JP,Cat,{owners[2]},",
        f"Existing Shop,US,Dan,{owners[3]},",
    ]
    preview = upload(bookkeeper, HEADER + "\n".join(rows) + "\n", paste=True)
    assert [kind for kind, _ in verdicts(preview).values()] == [
        "new_account",
        "new_account",
        "new_account",
        "request",
    ]
    done = verdicts(confirm(bookkeeper, preview))
    assert [kind for kind, _ in done.values()] == ["sent", "sent", "not_sent", "not_sent"]
    assert "Not sent: You have reached the limit of 2 per hour." in done[4][1]
    assert "No account was added." in done[4][1]
    assert "Not sent: You have reached the limit of 2 per hour." in done[5][1]
    mailbox.wait_for(owners[0], "asks you to connect")
    mailbox.wait_for(owners[1], "asks you to connect")
    time.sleep(0.5)
    assert mailbox.to(owners[2]) == mailbox.to(owners[3]) == []
    # The third row's account was taken back; the existing account got no request.
    assert set(accounts_of(app, bookkeeper.email)) == {"Existing Shop", "First Shop", "Second Shop"}
    asked = requests_of(app, bookkeeper.email)
    assert [r.client_email for r in asked] == owners[:2]
    assert all(r.account_id != existing for r in asked)


def test_another_users_account_name_makes_a_new_account_of_ones_own(app, mailbox):
    other = Bookkeeper(app.test_client(), name="Oscar Other").sign_up()
    theirs = other.add_account("Shared Name Ltd")
    bookkeeper = Bookkeeper(app.test_client()).sign_up()
    owner = unique_email("shared")
    preview = upload(bookkeeper, HEADER + f"shared name ltd,US,Sam,{owner},\n")
    [(kind, why)] = verdicts(preview).values()
    assert kind == "new_account" and "A new account shared name ltd will be added" in why
    assert "Oscar" not in preview.text
    [(kind, _)] = verdicts(confirm(bookkeeper, preview)).values()
    assert kind == "sent"
    mailbox.wait_for(owner, "asks you to connect")
    mine = accounts_of(app, bookkeeper.email)
    assert list(mine) == ["shared name ltd"] and mine["shared name ltd"] != theirs
    assert requests_of(app, other.email) == []
    assert other.client.get(f"/accounts/{mine['shared name ltd']}").status_code == 404


def test_a_member_who_is_not_an_admin_cannot_send_for_the_account(app, mailbox):
    admin = Bookkeeper(app.test_client()).sign_up()
    account_id = admin.add_account("Members Only Ltd")
    member = Bookkeeper(app.test_client(), name="Mo Member").sign_up()
    assert invite(admin, account_id, member.email).status_code == 302
    link = invitation_link(mailbox.wait_for(member.email, "invites you to")[0])
    assert member.client.post(path_of(link) + "/accept").status_code == 302
    preview = upload(member, HEADER + f"Members Only Ltd,US,Sam,{unique_email('m')},\n")
    [(kind, why)] = verdicts(preview).values()
    assert kind == "invalid" and "not an admin" in why


def test_send_called_as_the_api_will_takes_back_the_account_when_temporal_refuses(
    app, client, mailbox, monkeypatch
):
    bookkeeper = Bookkeeper(client).sign_up()
    with app.app_context():
        user_id = db.session.scalar(db.select(User.id).filter_by(email=bookkeeper.email))
    rows = [
        Row.of(1, "Temporal Away Ltd", "US", "Sam", unique_email("away")),
        Row.of(2, "Temporal Away Ltd", ["DE"], "Sam", unique_email("away")),
        Row.of(3, "", "US", "Sam", "sam@example.com"),
    ]

    def unreachable(connection_request, started_at_amazon=False):
        raise RuntimeError("Temporal is away")

    monkeypatch.setattr(request_service, "_start_workflow", unreachable)
    with app.test_request_context():
        planned = bulk_invites.plan(user_id, rows)
        results = bulk_invites.send(user_id, rows)
    assert [v.kind for v in planned] == ["new_account", "new_account", "invalid"]
    assert "The new account of line 1" in planned[1].why
    assert [v.kind for v in results] == ["not_sent", "not_sent", "invalid"]
    assert all("could not be started just now" in v.why for v in results[:2])
    assert all("No account was added." in v.why for v in results[:2])
    assert all(v.account_id is None and v.public_id is None for v in results)
    assert accounts_of(app, bookkeeper.email) == {}
    assert requests_of(app, bookkeeper.email) == []


def test_the_page_has_its_own_rate_limit(client, config):
    bookkeeper = Bookkeeper(client).sign_up()
    config["LIMIT_BULK"] = "2 per 10 minutes"
    assert upload(bookkeeper, "", paste=True).status_code == 200
    assert client.post("/requests/bulk/send", data={"csv": ""}).status_code == 303
    over = upload(bookkeeper, "", paste=True)
    assert over.status_code == 429 and "as many lists of requests" in over.text
    assert client.get("/requests/bulk").status_code == 200  # only its POSTs count
