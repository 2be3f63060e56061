"""Health endpoints, request ids and structured log lines."""

import json
import logging

from web.logs import ContextFilter, JsonFormatter


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
