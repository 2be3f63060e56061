"""Cursor pagination, newest first: `limit` items and an opaque `next_cursor` for the rest,
stable while new rows arrive (unlike page numbers)."""

import base64
import binascii

import marshmallow as ma

from core.extensions import db
from web.api.problems import Problem

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


class PageArgs(ma.Schema):
    cursor = ma.fields.String(
        metadata={"description": "The `next_cursor` of the previous page; none for the first."}
    )
    limit = ma.fields.Integer(
        load_default=DEFAULT_LIMIT,
        validate=ma.validate.Range(1, MAX_LIMIT),
        metadata={"description": f"Items per page, 1 to {MAX_LIMIT}."},
    )


def page_schema(item: type[ma.Schema]) -> type[ma.Schema]:
    """The schema of a page of `item`s."""
    name = item.__name__.removesuffix("Schema") + "PageSchema"
    return ma.Schema.from_dict(
        {
            "data": ma.fields.List(ma.fields.Nested(item), required=True),
            "has_more": ma.fields.Boolean(required=True),
            "next_cursor": ma.fields.String(
                required=True,
                allow_none=True,
                metadata={"description": "Pass as `cursor` for the next page; null at the end."},
            ),
        },
        name=name,
    )


def _encode(row_id: int) -> str:
    return base64.urlsafe_b64encode(f"after:{row_id}".encode()).decode().rstrip("=")


def _decode(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, row_id = text.partition(":")
        if prefix != "after" or not row_id.isdigit():
            raise ValueError
        return int(row_id)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise Problem(
            400, "This cursor is not one we gave: pass a page's next_cursor.", "invalid-cursor"
        ) from None


def page(query, id_column, args: dict) -> dict:
    """One page of `query`'s rows, newest (highest id) first."""
    limit = args["limit"]
    if args.get("cursor"):
        query = query.where(id_column < _decode(args["cursor"]))
    rows = db.session.scalars(query.order_by(id_column.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return {"data": rows, "has_more": more, "next_cursor": _encode(rows[-1].id) if more else None}
