"""Property: random and hostile input at every form and at the callback never gives a 500, and a
rejected submission writes nothing."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from core.accounts import ClientAccount, Membership
from core.extensions import db
from core.invitations import UserInvitation
from core.requests import Authorization, ConnectionRequest, OAuthState
from core.users import User
from tests.support import Bookkeeper

HOSTILE = st.one_of(
    st.text(max_size=300),
    st.sampled_from(
        [
            "",
            " ",
            "a@b.com\r\nBcc: victim@example.com",
            "Name\nX-Injected: 1",
            "<script>alert(1)</script>",
            "' OR 1=1 --",
            "x" * 5000,
            "\x00",
            "ZZ",
            "US",
            "owner@example.com",
            "admin",
            "\u202e\u0000\ud7ff",
        ]
    ),
)
FIELDS = st.dictionaries(
    st.sampled_from(
        [
            "name",
            "email",
            "password",
            "firm_name",
            "marketplace",
            "client_name",
            "client_email",
            "note",
            "role",
            "action",
        ]
    ),
    HOSTILE,
)
TABLES = (
    User,
    ClientAccount,
    Membership,
    ConnectionRequest,
    UserInvitation,
    Authorization,
    OAuthState,
)
SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def counts(app) -> dict:
    with app.app_context():
        return {t.__name__: db.session.scalar(select(func.count()).select_from(t)) for t in TABLES}


@pytest.fixture(scope="module")
def signed_in(app, worker):
    bookkeeper = Bookkeeper(app.test_client(), name="Hypo Thesis").sign_up()
    account_id = bookkeeper.add_account("Hostile Input Ltd")
    return bookkeeper, account_id


@pytest.mark.parametrize(
    "path",
    [
        "/signup",
        "/login",
        "/accounts/new",
        "/accounts/{account}/connect/",
        "/accounts/{account}/connect/request",
        "/accounts/{account}/connect/direct",
        "/accounts/{account}/users/invite",
    ],
)
@SETTINGS
@given(data=FIELDS)
def test_forms_never_fail_and_rejections_write_nothing(app, signed_in, path, data):
    bookkeeper, account_id = signed_in
    browser = app.test_client() if path in ("/signup", "/login") else bookkeeper.client
    before = counts(app)
    response = browser.post(path.format(account=account_id), data=data)
    assert response.status_code < 500, response.text[:500]
    if response.status_code >= 400 or 'aria-invalid="true"' in response.text:
        assert counts(app) == before


@SETTINGS
@given(
    params=st.dictionaries(
        st.sampled_from(["state", "spapi_oauth_code", "selling_partner_id", "mws_auth_token"]),
        HOSTILE,
    )
)
def test_callback_never_fails_and_writes_nothing(app, worker, params):
    before = counts(app)
    response = app.test_client().get("/amazon/callback", query_string=params)
    assert response.status_code in (400, 410), response.status_code
    assert counts(app) == before
