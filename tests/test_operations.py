"""Health endpoints, request ids and structured log lines."""

import json
import logging

from core.logs import ContextFilter, JsonFormatter, redact


def test_healthz_and_readyz(app, client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["checks"] == {"database": "ok", "temporal": "ok"}
    assert ready.get_json()["rate_limits"] == "ok"


def test_readyz_says_what_is_down(app, config):
    config["TEMPORAL_ADDRESS"] = "127.0.0.1:1"  # nothing listens there
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["temporal"].startswith("unavailable")


def test_every_response_has_a_request_id(client):
    given = client.get("/login", headers={"X-Request-ID": "abc-123"})
    assert given.headers["X-Request-ID"] == "abc-123"
    made = client.get("/login", headers={"X-Request-ID": "not ok; <script>"})
    assert len(made.headers["X-Request-ID"]) == 32


def test_log_lines_carry_request_and_workflow_ids(app):
    from flask import g

    record = logging.LogRecord("web", logging.INFO, __file__, 1, "hello %s", ("x",), None)
    with app.test_request_context("/"):
        g.request_id, g.workflow_id = "req-1", "connection-request-7-US"
        ContextFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "hello x"
    assert line["request_id"] == "req-1" and line["workflow_id"] == "connection-request-7-US"


def test_access_log_lines_carry_no_codes_states_or_link_tokens(app):
    token = "Zq3xY7bC2dE5fG8hJ1kL4mN6pQ9rS0tU"
    line = (
        f'"GET /amazon/callback?state={token}&selling_partner_id=A2DEMO&spapi_oauth_code=ANxyz'
        f' HTTP/1.1" 302 -'
    )
    record = logging.LogRecord(
        "werkzeug", logging.INFO, __file__, 1, "%s - - %s", ("1.2.3.4", line), None
    )
    logging.getLogger("werkzeug").filter(record)
    message = record.getMessage()
    assert token not in message and "ANxyz" not in message
    assert "state=[redacted]" in message and "spapi_oauth_code=[redacted]" in message
    assert "selling_partner_id=A2DEMO" in message  # not a secret: kept for ops
    for path in (f"/connect/{token}", f"/invitations/{token}/accept", f"/verify/{token}"):
        record = logging.LogRecord("werkzeug", logging.INFO, __file__, 1, path, None, None)
        logging.getLogger("werkzeug").filter(record)
        assert token not in record.getMessage()
    assert redact("/accounts/7/connect/request") == "/accounts/7/connect/request"


def test_a_state_inside_an_encoded_return_url_is_redacted():
    """Amazon's sign-out carries the consent URL, with its state, URL-encoded in return_to."""
    line = (
        "GET /ap/signout?openid.return_to=http%3A%2F%2Fx%2Fapps%2Fauthorize%2Fconsent"
        "%3Fapplication_id%3Damzn1.sp.solution.1%26state%3DsEcReT_1-2%26version%3Dbeta HTTP/1.1"
    )
    redacted = redact(line)
    assert "sEcReT" not in redacted
    assert "state%3D[redacted]%26version%3Dbeta" in redacted
    assert "application_id%3Damzn1.sp.solution.1" in redacted
