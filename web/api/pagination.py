"""Cursor pagination, newest first: `limit` items and a `next_cursor` for the rest, stable
while new rows arrive (unlike page numbers)."""

import marshmallow as ma

from core.extensions import db

# A position in the list: rows older than it follow (any such cursor is a valid position).
CURSOR_PREFIX = "after_"
CURSOR_PATTERN = r"^after_[0-9]{1,10}$"
MAX_ID = 2**31 - 1  # the largest id a 32-bit integer column holds
DEFAULT_LIMIT = 20
MAX_LIMIT = 100


class PageArgs(ma.Schema):
    cursor = ma.fields.String(
        validate=ma.validate.Regexp(
            CURSOR_PATTERN, error="Not a cursor: pass a page's next_cursor as it came."
        ),
        metadata={
            "description": "The `next_cursor` of the previous page; none for the first.",
            "pattern": CURSOR_PATTERN,
        },
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
    return f"{CURSOR_PREFIX}{row_id}"


def page(query, id_column, args: dict) -> dict:
    """One page of `query`'s rows, newest (highest id) first."""
    limit = args["limit"]
    if args.get("cursor"):
        after = int(args["cursor"].removeprefix(CURSOR_PREFIX))
        # Ids are 32-bit on every database: past the largest, every row comes after it.
        query = query.where(id_column < after if after <= MAX_ID else id_column <= MAX_ID)
    rows = db.session.scalars(query.order_by(id_column.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return {"data": rows, "has_more": more, "next_cursor": _encode(rows[-1].id) if more else None}
