"""Attacks on logging in and staying logged in (issue 11: items 2, 4, 5, 8, 9, 10, 13)."""

import re
import time
from collections import Counter
from datetime import timedelta

import pytest
import werkzeug.security

import core.users
import web.auth.views
from core.config import load_config
from tests.support import Bookkeeper, path_of, text_of, unique_email
from tests.test_config import production_env

PASSWORD = "correct horse battery"


def login(browser, email, password=PASSWORD, **query):
    return browser.post("/login", query_string=query, data={"email": email, "password": password})


# ---- 2. open redirect after login ----------------------------------------------------------

HOSTILE_NEXT = [
    "/\t/evil.example",  # the attack run's next=/%09/evil.example: browsers drop the tab
    "/\n/evil.example",
    "/\r\nSet-Cookie: pwned=1",  # was a 500
    "//evil.example",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "https://evil.example/",
    "http:/evil.example",
    "javascript:alert(1)",
    " //evil.example",
    "/ /evil.example",
    "/\x00/evil.example",
    "/%09/evil.example",  # sent double-encoded: it decodes to the attack above
    "/%2F/evil.example",
    "/%5Cevil.example",
    "evil.example",
    "",
]


def test_login_redirects_only_to_a_path_on_this_site(app, client):
    bookkeeper = Bookkeeper(client).sign_up()
    client.post("/logout")
    for target in HOSTILE_NEXT:
        response = login(app.test_client(), bookkeeper.email, next=target)
        assert response.status_code == 302, (target, response.status_code)
        assert response.headers["Location"] == "/", (target, response.headers["Location"])
    kept = login(app.test_client(), bookkeeper.email, next="/accounts/new?from=login")
    assert kept.headers["Location"] == "/accounts/new?from=login"


# ---- 4. enumeration by timing: every branch does the same hashing -------------------------


@pytest.fixture
def hashing(monkeypatch) -> Counter:
    """Counts Werkzeug's password hashing, wherever the app looks the functions up."""
    calls: Counter = Counter()
    for name in ("check_password_hash", "generate_password_hash"):
        real = getattr(werkzeug.security, name)

        def counted(*args, _real=real, _name=name, **kwargs):
            calls[_name] += 1
            return _real(*args, **kwargs)

        for module in (werkzeug.security, core.users, web.auth.views):
            if hasattr(module, name):
                monkeypatch.setattr(module, name, counted)
    return calls


def test_every_login_branch_checks_a_password_hash(app, client, hashing):
    known = Bookkeeper(client).sign_up()
    client.post("/logout")
    unverified = unique_email("unverified")
    app.test_client().post("/signup", data={"name": "U", "email": unverified, "password": PASSWORD})
    branches = {
        "unknown address": (unique_email("nobody"), PASSWORD),
        "unconfirmed address": (unverified, PASSWORD),
        "wrong password": (known.email, "wrong password!"),
        "right password": (known.email, PASSWORD),
    }
    checks = {}
    for branch, (email, password) in branches.items():
        hashing.clear()
        login(app.test_client(), email, password)
        checks[branch] = hashing["check_password_hash"]
    assert set(checks.values()) == {1}, checks


def test_every_signup_branch_hashes_the_password(app, client, mailbox, hashing):
    taken = Bookkeeper(client).sign_up()
    unverified = unique_email("unverified")
    app.test_client().post("/signup", data={"name": "U", "email": unverified, "password": PASSWORD})
    branches = {
        "new address": unique_email("new"),
        "taken address": taken.email,
        "unconfirmed address": unverified,
    }
    work = {}
    for branch, email in branches.items():
        hashing.clear()
        response = app.test_client().post(
            "/signup", data={"name": "N", "email": email, "password": "another password"}
        )
        assert "Check your email" in response.text
        work[branch] = dict(hashing)
    assert len({tuple(sorted(w.items())) for w in work.values()}) == 1, work
    assert work["taken address"].get("generate_password_hash", 0) >= 1, work


# ---- 5. sessions end at logout, password reset and after idling ----------------------------


def copy_session(source, app):
    """Another browser holding a copy of the session cookie (stolen, or a shared computer)."""
    thief = app.test_client()
    thief.set_cookie("session", source.get_cookie("session").value)
    return thief


def logged_in(browser) -> bool:
    response = browser.get("/")
    if response.status_code == 302:
        assert "/login" in response.headers["Location"]
        return False
    assert response.status_code == 200
    return True


def test_a_copied_cookie_dies_at_logout(app, client):
    Bookkeeper(client).sign_up()
    thief = copy_session(client, app)
    assert logged_in(thief)
    client.post("/logout")
    assert not logged_in(thief)
    assert not logged_in(client)


def reset_link(mailbox, email: str, count: int = 1) -> str:
    message = mailbox.wait_for(email, "Reset your LedgerBridge password", count=count)[-1]
    return path_of(re.search(r"https?://\S+/reset/[A-Za-z0-9_-]+", text_of(message)).group(0))


def test_a_copied_cookie_dies_at_a_password_reset(app, client, mailbox):
    bookkeeper = Bookkeeper(client).sign_up()
    thief = copy_session(client, app)
    assert logged_in(thief)
    owner = app.test_client()
    owner.post("/reset", data={"email": bookkeeper.email})
    assert owner.post(reset_link(mailbox, bookkeeper.email), data={"password": "a new password!"})
    assert not logged_in(thief)
    assert not logged_in(client)
    assert logged_in(owner)  # the browser that reset it is logged in, with the new session


def test_an_idle_session_ends(app, client, config):
    config["SESSION_IDLE_TIMEOUT"] = timedelta(seconds=2)
    Bookkeeper(client).sign_up()
    for _ in range(3):  # in use: each request keeps it alive past the timeout
        assert logged_in(client)
        time.sleep(1)
    time.sleep(2.5)
    assert not logged_in(client)


def test_idle_timeout_defaults_to_eight_hours():
    assert load_config({})["SESSION_IDLE_TIMEOUT"] == timedelta(hours=8)
    assert load_config({"SESSION_IDLE_TIMEOUT": "30m"})["SESSION_IDLE_TIMEOUT"] == timedelta(
        minutes=30
    )


# ---- 8. request size -------------------------------------------------------------------------


def test_large_posts_are_refused_with_a_page(app, client):
    anonymous = app.test_client().post(
        "/signup", data={"name": "x" * 30_000_000, "email": "a@example.com", "password": PASSWORD}
    )
    assert anonymous.status_code == 413
    assert "Too much" in anonymous.text and "<html" in anonymous.text
    bookkeeper = Bookkeeper(client).sign_up()
    account_id = bookkeeper.add_account()
    url = f"/accounts/{account_id}/connect/request"
    data = {**bookkeeper.request_form(account_id), "action": "preview"}
    big = client.post(url, data={**data, "note": "n" * 2_000_000})
    assert big.status_code == 413 and "n" * 1000 not in big.text
    # a form of ordinary size is still read (and its note's own limit explained)
    ordinary = client.post(url, data={**data, "note": "n" * 20_000})
    assert ordinary.status_code == 200


def test_request_size_limit_is_64_kb():
    assert load_config({})["MAX_CONTENT_LENGTH"] == 64 * 1024


# ---- 9. production refuses a public or short SECRET_KEY -------------------------------------


@pytest.mark.parametrize(
    "secret_key", ["dev-secret-key-not-for-production", "x" * 31, "é" * 15 + "x"]
)
def test_production_refuses_a_public_or_short_secret_key(secret_key):
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        load_config(production_env(SECRET_KEY=secret_key))


def test_production_takes_a_long_secret_key():
    key = "k" * 32
    assert load_config(production_env(SECRET_KEY=key))["SECRET_KEY"] == key


# ---- 10. using one reset link kills the others ------------------------------------------------


def test_using_a_reset_link_kills_the_older_ones(app, client, mailbox):
    bookkeeper = Bookkeeper(client).sign_up()
    client.post("/logout")
    browser = app.test_client()
    browser.post("/reset", data={"email": bookkeeper.email})
    older = reset_link(mailbox, bookkeeper.email)
    browser.post("/reset", data={"email": bookkeeper.email})
    newer = reset_link(mailbox, bookkeeper.email, count=2)
    assert older != newer
    assert browser.post(newer, data={"password": "the newest password"}).status_code == 302
    attacker = app.test_client()
    assert attacker.post(older, data={"password": "attacker's password"}).status_code == 410
    assert login(app.test_client(), bookkeeper.email, "attacker's password").status_code == 200
    assert login(app.test_client(), bookkeeper.email, "the newest password").status_code == 302


# ---- 13. content security policy ---------------------------------------------------------


def test_csp_forbids_base_and_object(client):
    policy = client.get("/login").headers["Content-Security-Policy"]
    assert "base-uri 'none'" in policy
    assert "object-src 'none'" in policy
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
