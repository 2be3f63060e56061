"""What the API reads and writes, as marshmallow schemas: the OpenAPI document is made from them.
Answers carry ids, statuses and times, never a secret (no link, no token, no code)."""

from collections.abc import Callable
from datetime import UTC
from functools import partial

import marshmallow as ma
from marshmallow import fields, validate

from core import field_rules, marketplaces
from core.accounts import Membership
from vocabulary.statuses import ConnectionState, InvitationState, RequestState
from web.api.pagination import MAX_ID, PageArgs

COUNTRIES = sorted(marketplaces.BY_COUNTRY)


class Time(fields.DateTime):
    """A moment in UTC, in RFC 3339 with its offset (the database keeps naive UTC)."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return super()._serialize(value, attr, obj, **kwargs)


# The forms' rules (core.field_rules) check each value; these patterns state them in the
# document: one line with no control characters (these reach email headers), or text whose only
# control characters are line breaks and tabs; something besides spaces where a value is needed.
ONE_LINE = r"^[^\x00-\x1f]*[^\s\x00-\x1f][^\x00-\x1f]*$"
TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f]*$"


def _rules(*rules: Callable[[str], str]) -> Callable[[str], None]:
    """A marshmallow validator of field_rules' checks: what each says is wrong, if anything."""

    def check(value: str) -> None:
        if problems := [message for rule in rules if (message := rule(value))]:
            raise ma.ValidationError(problems)

    return check


class Strict(ma.Schema):
    """Input schemas refuse fields they do not know (a typo is an error, not ignored)."""

    class Meta:
        unknown = ma.RAISE


def _text(max_length: int, *, one_line: bool = True, required: bool = True, **kw) -> fields.String:
    rules = [
        partial(field_rules.too_long, limit=max_length),
        field_rules.not_single_line if one_line else field_rules.control_characters,
        *([field_rules.blank] if required else []),
    ]
    stated = {"pattern": ONE_LINE if one_line else TEXT, "maxLength": max_length}
    kw.setdefault("metadata", {}).update(stated, **({"minLength": 1} if required else {}))
    return fields.String(required=required, validate=_rules(*rules), **kw)


def _country(**kw) -> fields.String:
    return fields.String(
        validate=validate.OneOf(COUNTRIES, error="Not one of Amazon's marketplaces: {input}."),
        metadata={"description": "The marketplace's country code.", "enum": COUNTRIES},
        **kw,
    )


class WholeNumber(fields.Integer):
    """A JSON integer: 7 or 7.0, as JSON Schema's `integer` has it, but never "7" or true."""

    def _validated(self, value):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return super()._validated(value)


def _id(strict: bool = True, **kw) -> fields.Integer:
    """A row id: a JSON integer in a body, digits in a query (strict=False); ids fit a 32-bit
    integer column on every database, so larger ones name nothing."""
    return WholeNumber(strict=strict, validate=validate.Range(1, MAX_ID), **kw)


def _email() -> fields.Email:
    return fields.Email(required=True, validate=validate.Length(max=field_rules.EMAIL_MAX))


# --- accounts


class ConnectionBriefSchema(ma.Schema):
    id = fields.Integer(required=True)
    marketplace = fields.String(required=True)
    status = fields.String(required=True, metadata={"enum": [s.value for s in ConnectionState]})


class AccountSchema(ma.Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    role = fields.String(
        required=True,
        metadata={"enum": list(Membership.ROLES), "description": "Your role in the account."},
    )
    created_at = Time(required=True)
    connections = fields.List(fields.Nested(ConnectionBriefSchema), required=True)


class AccountCreateSchema(Strict):
    name = _text(field_rules.NAME_MAX, metadata={"description": "The client's business name."})


# --- connection requests


class TimelineLineSchema(ma.Schema):
    at = Time(required=True)
    kind = fields.String(required=True)
    actor = fields.String(required=True)
    detail = fields.String(required=True)


class ConnectionRequestSchema(ma.Schema):
    id = fields.String(required=True, attribute="public_id")
    account_id = fields.Integer(required=True)
    marketplace = fields.String(required=True)
    group_id = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "Requests for several regions sent together share it."},
    )
    purpose = fields.String(required=True, metadata={"enum": ["connect", "renew"]})
    kind = fields.String(required=True, metadata={"enum": ["invite", "direct"]})
    status = fields.String(required=True, metadata={"enum": [s.value for s in RequestState]})
    status_detail = fields.String(required=True)
    client_name = fields.String(required=True)
    client_email = fields.String(required=True)
    note = fields.String(required=True)
    reminders_sent = fields.Integer(required=True)
    created_at = Time(required=True)
    updated_at = Time(required=True)
    expires_at = Time(required=True, allow_none=True)
    connection_id = fields.Integer(
        required=True, allow_none=True, metadata={"description": "The connection it stored."}
    )


class ConnectionRequestDetailSchema(ConnectionRequestSchema):
    timeline = fields.List(fields.Nested(TimelineLineSchema), required=True, attribute="events")


class ConnectionRequestCreateSchema(Strict):
    account_id = _id(required=True)
    marketplace = _country(required=True)
    also = fields.List(
        _country(),
        load_default=list,
        validate=validate.Length(max=2),
        metadata={"description": "Up to two more marketplaces, each of another region."},
    )
    client_name = _text(
        field_rules.NAME_MAX, metadata={"description": "The seller account's owner."}
    )
    client_email = _email()
    note = _text(field_rules.NOTE_MAX, one_line=False, required=False, load_default="")


class RequestFilterSchema(PageArgs):
    """A page of the list, narrowed by status and account."""

    status = fields.String(validate=validate.OneOf([s.value for s in RequestState]))
    account_id = _id(strict=False)


class ChangeEmailSchema(Strict):
    client_email = _email()


# --- connections


class ConnectionSchema(ma.Schema):
    id = fields.Integer(required=True)
    account_id = fields.Integer(required=True)
    marketplace = fields.String(required=True)
    status = fields.String(required=True, metadata={"enum": [s.value for s in ConnectionState]})
    selling_partner_id = fields.String(required=True)
    store_name = fields.String(required=True)
    covers = fields.List(
        fields.String(),
        required=True,
        attribute="covered",
        metadata={"description": "The region's marketplaces this authorization serves too."},
    )
    connected_at = Time(required=True)
    checked_at = Time(required=True, allow_none=True)
    authorized_at = Time(required=True, allow_none=True)
    request_id = fields.String(
        required=True,
        attribute="request.public_id",
        metadata={"description": "The connection request that stored it."},
    )


class ConnectionFilterSchema(PageArgs):
    """A page of the list, narrowed by status and account."""

    status = fields.String(validate=validate.OneOf([s.value for s in ConnectionState]))
    account_id = _id(strict=False)


# --- user invitations


class InvitationSchema(ma.Schema):
    id = fields.String(required=True, attribute="public_id")
    account_id = fields.Integer(required=True)
    email = fields.String(required=True)
    role = fields.String(required=True, metadata={"enum": list(Membership.ROLES)})
    status = fields.String(required=True, metadata={"enum": [s.value for s in InvitationState]})
    reminders_sent = fields.Integer(required=True)
    created_at = Time(required=True)
    expires_at = Time(required=True, allow_none=True)


class InvitationCreateSchema(Strict):
    account_id = _id(required=True)
    email = _email()
    role = fields.String(
        load_default=Membership.MEMBER,
        validate=validate.OneOf(Membership.ROLES),
        metadata={"enum": list(Membership.ROLES)},
    )


class InvitationFilterSchema(PageArgs):
    """A page of the list, narrowed by status and account."""

    status = fields.String(validate=validate.OneOf([s.value for s in InvitationState]))
    account_id = _id(strict=False)
