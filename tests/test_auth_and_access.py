"""Sign-up, log-in, log-out, and that nobody reaches another bookkeeper's accounts."""

from tests.support import Bookkeeper, link_in


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


def test_signup_with_a_taken_email(client):
    first = Bookkeeper(client).sign_up()
    client.post("/logout")
    response = client.post(
        "/signup", data={"name": "Other", "email": first.email, "password": "another password"}
    )
    assert response.status_code == 200 and "already has a login" in response.text


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
    data = {**intruder.request_form(account_id), "action": "send"}
    assert c.post(f"/accounts/{account_id}/connect/request", data=data).status_code == 404
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
