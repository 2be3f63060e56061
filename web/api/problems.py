"""Errors of /api/v1 as RFC 9457 problem details: one shape for every error the API answers,
from a refused rule to a route that does not exist."""

import http

import marshmallow as ma
from flask import Response, current_app, json, request
from werkzeug.exceptions import HTTPException

MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "/api/v1/docs#problem-"


class ProblemSchema(ma.Schema):
    """RFC 9457 problem details (documentation only: Problem.answer writes the answer)."""

    type = ma.fields.String(
        required=True, metadata={"description": "What kind of problem: a link to its page."}
    )
    title = ma.fields.String(required=True, metadata={"description": "The kind, in words."})
    status = ma.fields.Integer(required=True, metadata={"description": "The HTTP status."})
    detail = ma.fields.String(metadata={"description": "This occurrence, in words."})
    instance = ma.fields.String(metadata={"description": "The path asked for."})
    errors = ma.fields.Dict(
        keys=ma.fields.String(),
        metadata={"description": "For invalid input: each field's messages, by field name."},
    )
    retry_after = ma.fields.Integer(
        metadata={"description": "For 429: seconds until the limit frees up."}
    )


class Problem(HTTPException):
    """A problem of the API: raised by its views, answered by `answer()`."""

    def __init__(
        self,
        status: int,
        detail: str,
        kind: str = "",
        *,
        errors: dict | None = None,
        headers: dict | None = None,
        extra: dict | None = None,
    ) -> None:
        super().__init__(detail)
        self.code = status
        self.detail = detail
        self.kind = kind or _slug(status)
        self.errors = errors
        self.extra_headers = headers or {}
        self.extra = extra or {}

    def answer(self) -> Response:
        """The problem-details answer."""
        body = {
            "type": TYPE_BASE + self.kind,
            "title": self.kind.replace("-", " ").capitalize(),
            "status": self.code,
            "detail": self.detail,
            "instance": request.path,
            **self.extra,
        }
        if self.errors:
            body["errors"] = self.errors
        said = Response(json.dumps(body), status=self.code, mimetype=MEDIA_TYPE)
        said.headers.update(self.extra_headers)
        return said


def unavailable(detail: str) -> Problem:
    """503: Temporal (or the database) did not answer in time; try again in a minute."""
    return Problem(503, detail, "temporarily-unavailable", headers={"Retry-After": "60"})


# The kind of a problem no view named: fixed here, as HTTP's phrases differ between Pythons
# (3.13 says "Content Too Large" for 413).
KIND_OF_STATUS = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "too-large",
    415: "unsupported-media-type",
    422: "invalid-input",
    429: "rate-limited",
    500: "internal-server-error",
    503: "temporarily-unavailable",
}


def _slug(status: int) -> str:
    if status in KIND_OF_STATUS:
        return KIND_OF_STATUS[status]
    return http.HTTPStatus(status).phrase.lower().replace(" ", "-").replace("'", "")


def is_api_request() -> bool:
    return request.path == "/api/v1" or request.path.startswith("/api/v1/")


def from_exception(error: Exception) -> Response:
    """Any error raised while answering an API request, as problem details."""
    if isinstance(error, Problem):
        return error.answer()
    if not isinstance(error, HTTPException):
        return Problem(500, "Something went wrong on our side; nothing was changed.").answer()
    data = getattr(error, "data", None) or {}
    if "messages" in data and error.code == 400:  # webargs: the body is no JSON at all
        return Problem(400, "The body is not valid JSON: send application/json.").answer()
    if "messages" in data:  # webargs: the body or the query did not match the schema
        return Problem(
            422,
            "Some fields are invalid: see errors.",
            "invalid-input",
            errors=_flatten(data["messages"]),
            headers=data.get("headers"),
        ).answer()
    headers = dict(error.get_headers())
    headers.pop("Content-Type", None)
    detail = error.description or http.HTTPStatus(error.code).phrase
    if error.code == 413:
        most = current_app.config["MAX_CONTENT_LENGTH"] // 1024
        detail = f"The body is larger than {most} KB, the most this API reads; nothing was done."
    return Problem(error.code, detail, headers=headers).answer()


def _flatten(messages: dict) -> dict:
    """webargs keys messages by location ('json', 'query'); the fields are what matter."""
    if set(messages) <= {"json", "query", "headers", "form", "view_args"}:
        merged = {}
        for by_field in messages.values():
            merged.update(by_field if isinstance(by_field, dict) else {"_schema": by_field})
        return merged
    return messages


# Every problem type the API answers, for the reference page (each `type` links to its line).
KINDS = {
    "unauthorized": "No API key, or one that is not valid or was revoked.",
    "forbidden": "You belong to the account, but only its admins can do that.",
    "not-found": "No such thing among your accounts (an id of another firm's is not found either).",
    "invalid-input": "The body or the query did not match the schema: `errors` says, by field.",
    "bad-request": "The request could not be read (not JSON, or a bad Idempotency-Key).",
    "already-open": "A request for this marketplace (or an invitation of this address) is open.",
    "already-covered": "Another connection of the account covers the marketplace already.",
    "already-a-user": "The address belongs to a user of the account already.",
    "not-done": "The request or invitation is closed, or the seller connected a moment before.",
    "idempotency-key-reused": "The Idempotency-Key was used with another request.",
    "idempotency-key-in-use": "The first request with this Idempotency-Key is still running.",
    "rate-limited": "A limit is spent; `retry_after` and Retry-After say when to try again.",
    "temporarily-unavailable": "The workflow service did not answer; nothing was changed.",
    "method-not-allowed": "This path does not take that method.",
    "too-large": "The body is larger than the API reads (MAX_CONTENT_LENGTH).",
    "conflict": "The request conflicts with how things stand now.",
    "unsupported-media-type": "Send the body as application/json.",
    "internal-server-error": "Something went wrong on our side; nothing was changed.",
}
