"""/api/v1/bulk-invites: many connection requests in one call, as the bulk page sends a CSV:
each row's verdict, and with `dry_run` nothing sent (services.bulk_invites, not a copy)."""

import marshmallow as ma
from flask import current_app
from marshmallow import fields, validate

from services import bulk_invites, limits
from web.api import auth
from web.api.idempotency import idempotent
from web.api.problems import Problem
from web.api.schemas import Strict, Time

blp = auth.blueprint(
    "bulk_invites", "bulk-invites", "Many connection requests at once, with a verdict for each."
)

# What a row's cells may hold is judged row by row (an `invalid` verdict says why); the schema
# only bounds their size.
_CELL = 2000


class BulkRowSchema(Strict):
    business_name = fields.String(required=True, validate=validate.Length(max=_CELL))
    marketplaces = fields.List(
        fields.String(validate=validate.Length(max=_CELL)),
        required=True,
        validate=validate.Length(max=10),
        metadata={"description": "Country codes, the first the request's, one per region."},
    )
    owner_name = fields.String(required=True, validate=validate.Length(max=_CELL))
    owner_email = fields.String(required=True, validate=validate.Length(max=_CELL))
    note = fields.String(load_default="", validate=validate.Length(max=_CELL))


class BulkInviteSchema(Strict):
    rows = fields.List(fields.Nested(BulkRowSchema), required=True, validate=validate.Length(1))
    dry_run = fields.Boolean(
        load_default=False,
        metadata={"description": "Only say what would become of each row; send nothing."},
    )


class VerdictSchema(ma.Schema):
    line = fields.Integer(required=True, metadata={"description": "The row's place, from 1."})
    verdict = fields.String(required=True, metadata={"enum": [k.value for k in bulk_invites.Kind]})
    why = fields.String(required=True)
    account_id = fields.Integer(required=True, allow_none=True)
    account_created = fields.Boolean(required=True)
    request_id = fields.String(
        required=True, allow_none=True, metadata={"description": "The request sent, if it was."}
    )
    retry_at = Time(required=True, allow_none=True)


class BulkResultSchema(ma.Schema):
    dry_run = fields.Boolean(required=True)
    sent = fields.Integer(required=True)
    results = fields.List(fields.Nested(VerdictSchema), required=True)


def _result(verdict: bulk_invites.Verdict) -> dict:
    return {
        "line": verdict.row.line,
        "verdict": verdict.kind,
        "why": verdict.why,
        "account_id": verdict.account_id,
        "account_created": verdict.account_created,
        "request_id": verdict.public_id,
        "retry_at": verdict.retry_at,
    }


@blp.post("/")
@idempotent
@blp.arguments(BulkInviteSchema)
@blp.response(200, BulkResultSchema)
def bulk_invite(data: dict):
    """Send a request for each row that can be sent (or, with dry_run, only say which)."""
    most = current_app.config["BULK_INVITE_MAX_ROWS"]
    if len(data["rows"]) > most:
        detail = f"At most {most} rows in one call; this one has {len(data['rows'])}."
        raise Problem(422, detail, "invalid-input", errors={"rows": [detail]})
    try:
        bulk_invites.spend_check(auth.user_id())
    except limits.OverLimit as over:
        raise auth.over_limit(over) from None
    rows = [bulk_invites.Row.of(n, **row) for n, row in enumerate(data["rows"], start=1)]
    user_id = auth.user_id()
    if data["dry_run"]:
        verdicts = bulk_invites.plan(user_id, rows)
    else:
        verdicts = bulk_invites.send(user_id, rows)
    return {
        "dry_run": data["dry_run"],
        "sent": sum(v.sent for v in verdicts),
        "results": [_result(v) for v in verdicts],
    }
