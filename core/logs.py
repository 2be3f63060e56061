"""Logs that can be followed across processes: every line carries the request id and, where
there is one, the workflow id (web requests that touch a workflow, and every activity)."""

import json
import logging
import re
import sys
import uuid

from flask import Flask, g, has_request_context, request
from temporalio import activity

TEXT = (
    "%(asctime)s %(levelname)s %(name)s"
    " [request=%(request_id)s workflow=%(workflow_id)s] %(message)s"
)


class ContextFilter(logging.Filter):
    """Adds request_id and workflow_id to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = "-"
        record.workflow_id = "-"
        if has_request_context():
            record.request_id = g.get("request_id", "-")
            record.workflow_id = g.get("workflow_id", "-")
        elif activity.in_activity():
            info = activity.info()
            record.request_id = info.workflow_run_id
            record.workflow_id = info.workflow_id or "-"
        return True


# Bearer values that travel in URLs: Amazon's code and our OAuth state on the callback, and the
# tokens of emailed links. An access log (the development server's) would print them.
_SECRET_QUERY = re.compile(r"\b(spapi_oauth_code|state|code|token)=[^&\s\"]+")
# The same inside a URL-encoded URL (Amazon's sign-out carries the consent URL in return_to).
_SECRET_QUERY_ENCODED = re.compile(
    r"(%26|%3F|[?&=])(spapi_oauth_code|state|code|token)%3D(?:(?!%26)[^&\s\"])+", re.I
)
_SECRET_PATH = re.compile(r"/(connect|invitations|verify|reset)/[A-Za-z0-9_-]{16,}")
# Our own secrets by their prefixes, wherever they appear: API keys and webhook signing secrets.
_SECRET_VALUE = re.compile(r"\b(ak|whsec)_[A-Za-z0-9_+/=-]{16,}")


def redact(text: str) -> str:
    """The text with every secret URL part replaced by [redacted]."""
    text = _SECRET_QUERY.sub(r"\1=[redacted]", text)
    text = _SECRET_QUERY_ENCODED.sub(r"\1\2%3D[redacted]", text)
    text = _SECRET_VALUE.sub(r"\1_[redacted]", text)
    return _SECRET_PATH.sub(r"/\1/[redacted]", text)


class RedactUrls(logging.Filter):
    """Redacts secret URL parts in a logger's records (werkzeug logs each request line)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


# A page left open polls its JSON status every 3 seconds (web/static/live.js): a successful poll
# says nothing, a failing one (4xx, 5xx) does. Werkzeug's access line reads
# `127.0.0.1 - - [date] "GET /accounts/1/status HTTP/1.1" 200 -`, the request ANSI-coloured by code.
_SUCCESSFUL_STATUS_POLL = re.compile(
    r'\] "(?:\x1b\[[0-9;]*m)*GET /\S*/status(?:\?\S*)? HTTP/[0-9.]+(?:\x1b\[0m)?" (?:200|304) '
)


class QuietStatusPolls(logging.Filter):
    """Drops the access-log line of each successful status poll; every other line is kept."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not _SUCCESSFUL_STATUS_POLL.search(record.getMessage())


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
            "workflow_id": getattr(record, "workflow_id", "-"),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def configure_logging(log_format: str, level: int = logging.INFO) -> None:
    """Route every logger through one handler with the context filter (idempotent)."""
    root = logging.getLogger()
    for handler in root.handlers:
        if getattr(handler, "_amazon_connect", False):
            return
    handler = logging.StreamHandler(sys.stderr)
    handler._amazon_connect = True  # type: ignore[attr-defined]
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT))
    root.addHandler(handler)
    root.setLevel(level)


def init_app(app: Flask) -> None:
    """A request id for every request (taken from X-Request-ID when a proxy sets one)."""

    @app.before_request
    def assign_request_id() -> None:
        incoming = request.headers.get("X-Request-ID", "")
        ok = incoming and len(incoming) <= 64 and incoming.replace("-", "").isalnum()
        g.request_id = incoming if ok else uuid.uuid4().hex

    @app.after_request
    def echo_request_id(response):
        response.headers.setdefault("X-Request-ID", g.get("request_id", ""))
        return response

    access_log = logging.getLogger("werkzeug")
    for kind in (RedactUrls, QuietStatusPolls):
        if not any(isinstance(f, kind) for f in access_log.filters):
            access_log.addFilter(kind())
    if not app.testing:
        configure_logging(app.config["LOG_FORMAT"])


def note_workflow(workflow_id: str) -> None:
    """The rest of this request's log lines name the workflow it touched."""
    if has_request_context():
        g.workflow_id = workflow_id
