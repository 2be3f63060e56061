"""Sign-up, log-in, log-out, and that nobody reaches another bookkeeper's accounts."""

import re

from tests.support import Bookkeeper, link_in, path_of, text_of, unique_email


def test_signup_login_logout(app, client):
    bookkeeper = Bookkeeper(client).sign_up()
    assert "Add a client account" in client.get("/accounts/new").text
    client.post("/logout")
    assert client.get("/").status_code == 302
    bad = client.post("/login", data={"email": bookkeeper.email, "password": "wrong password"})
    assert "Email or password is not right." in bad.text
    good = client.post(
        "/login", data={"email": bookkeeper.email.upper(), "password": "correct horse battery"}
    )
    assert good.status_code == 302


def test_signup_with_a_taken_email_says_nothing_and_emails_the_owner(app, client, mailbox):
    first = Bookkeeper(client).sign_up()
    client.post("/logout")
    taken = app.test_client().post(
        "/signup", data={"name": "Other", "email": first.email, "password": "another password"}
    )
    fresh_email = unique_email("fresh")
    fresh = app.test_client().post(
        "/signup", data={"name": "Other", "email": fresh_email, "password": "another password"}
    )
    assert taken.status_code == fresh.status_code == 200
    assert body(taken).replace(first.email, "X") == body(fresh).replace(fresh_email, "X")
    mailbox.wait_for(first.email, "You already have a login")
    mailbox.wait_for(fresh_email, "Finish signing up")
    # and the owner's password still works
    assert login(client, first.email, "correct horse battery").status_code == 302


def test_login_errors_are_the_same_for_every_reason(app, client, mailbox):
    known = Bookkeeper(client).sign_up()
    client.post("/logout")
    unverified = unique_email("unverified")
    app.test_client().post(
        "/signup", data={"name": "U", "email": unverified, "password": "correct horse battery"}
    )
    pages = [
        login(app.test_client(), unique_email("nobody"), "correct horse battery"),
        login(app.test_client(), known.email, "wrong password!"),
        login(app.test_client(), unverified, "correct horse battery"),
    ]
    assert {p.status_code for p in pages} == {200}
    errors = {p.text.split('class="error"')[1].split("</p>")[0] for p in pages}
    assert len(errors) == 1 and "Email or password is not right" in errors.pop()


def test_nobody_can_set_the_password_of_an_address_they_cannot_read(app, mailbox):
    victim_email = unique_email("victim")
    attacker = app.test_client()
    attacker.post(
        "/signup", data={"name": "Mallory", "email": victim_email, "password": "attacker password"}
    )
    first_link = mailbox.wait_for(victim_email, "Finish signing up")[0]
    victim = app.test_client()
    victim.post(
        "/signup",
        data={"name": "Victor Victim", "email": victim_email, "password": "victim password"},
    )
    mailbox.wait_for(victim_email, "Finish signing up", count=2)
    # The victim clicks the first email (the one the attacker caused) and types their password.
    link = re.search(r"https?://\S+/verify/\S+", text_of(first_link)).group(0)
    wrong = victim.post(path_of(link), data={"password": "attacker password?"})
    assert "not the password you chose" in wrong.text
    done = victim.post(path_of(link), data={"password": "victim password"})
    assert done.status_code == 302
    assert "Victor Victim" in victim.get("/").text
    assert login(app.test_client(), victim_email, "attacker password").status_code == 200
    assert login(app.test_client(), victim_email, "victim password").status_code == 302


def test_password_reset(app, client, mailbox):
    bookkeeper = Bookkeeper(client).sign_up()
    client.post("/logout")
    browser = app.test_client()
    known = browser.post("/reset", data={"email": bookkeeper.email})
    unknown_email = unique_email("unknown")
    unknown = browser.post("/reset", data={"email": unknown_email})
    assert body(known).replace(bookkeeper.email, "X") == body(unknown).replace(unknown_email, "X")
    message = mailbox.wait_for(bookkeeper.email, "Reset your LedgerBridge password")[0]
    link = re.search(r"https?://\S+/reset/[A-Za-z0-9_-]+", text_of(message)).group(0)
    short = browser.post(path_of(link), data={"password": "short"})
    assert "Use at least 10 characters." in short.text
    done = browser.post(path_of(link), data={"password": "a brand new password"})
    assert done.status_code == 302
    assert browser.post(path_of(link), data={"password": "yet another pw!"}).status_code == 410
    assert login(app.test_client(), bookkeeper.email, "a brand new password").status_code == 302
    assert login(app.test_client(), bookkeeper.email, "correct horse battery").status_code == 200
    assert not mailbox.to(unknown_email)


def login(browser, email, password):
    return browser.post("/login", data={"email": email, "password": password})


def body(response) -> str:
    """The page without its per-session CSRF token."""
    return re.sub(r'name="csrf_token" value="[^"]*"', "", response.text.split("<main>")[1])


def test_login_ignores_offsite_next(client):
    bookkeeper = Bookkeeper(client).sign_up()
    client.post("/logout")
    response = client.post(
        "/login?next=https://evil.example/",
        data={"email": bookkeeper.email, "password": "correct horse battery"},
    )
    assert response.headers["Location"] == "/"


def test_pages_need_login(client):
    for url in ("/", "/accounts/new", "/accounts/1", "/accounts/1/connect/"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_other_bookkeepers_accounts_are_invisible(app, client, mailbox):
    owner = Bookkeeper(client).sign_up()
    account_id = owner.add_account("Private Books")
    sent = owner.send_request(account_id)
    link_in(mailbox.wait_for(sent["client_email"], "asks you to connect")[0])
    page = client.get(f"/accounts/{account_id}")
    public_id = page.text.split("/requests/")[1].split('"')[0]

    intruder = Bookkeeper(app.test_client(), name="Ivy Intruder").sign_up()
    c = intruder.client
    assert c.get(f"/accounts/{account_id}").status_code == 404
    assert c.get(f"/accounts/{account_id}/connect/").status_code == 404
    assert c.get(f"/accounts/{account_id}/connect/path?marketplace=US").status_code == 404
    assert c.get(f"/accounts/{account_id}/connect/request").status_code == 404
    data = intruder.request_form(account_id)
    assert c.post(f"/accounts/{account_id}/connect/request", data=data).status_code == 404
    assert c.get(f"/accounts/{account_id}/connect/request/preview").status_code == 404
    assert c.post(f"/accounts/{account_id}/connect/request/send", data={}).status_code == 404
    assert (
        c.post(f"/accounts/{account_id}/connect/direct", data={"marketplace": "US"}).status_code
        == 404
    )
    request_url = f"/accounts/{account_id}/requests/{public_id}"
    assert c.get(request_url).status_code == 404
    assert c.get(f"{request_url}/renew").status_code == 404
    for action in ("cancel", "resend", "email"):
        response = c.post(f"{request_url}/{action}", data={"client_email": "x@example.com"})
        assert response.status_code == 404, action
    assert "Private Books" not in c.get("/requests").text
    # and the intruder's own account id cannot reach the owner's request either
    own = intruder.add_account("Mine")
    assert c.post(f"/accounts/{own}/requests/{public_id}/cancel").status_code == 404
    assert "Private Books" not in c.get("/").text


def test_security_headers(client):
    response = client.get("/login")
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
