"""Forms of the bookkeeper's connect flow."""

from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, ValidationError

from core import marketplaces
from web.forms import email_field, no_control_characters, single_line, strip


def marketplace_choices() -> list[SelectChoice]:
    """Every marketplace, grouped by region for the select box."""
    return [
        SelectChoice(m.country, m.label, optgroup=region.name)
        for region, members in marketplaces.grouped()
        for m in members
    ]


class AtMost(Length):
    """At most `max` characters, said with the count, so a long value is refused and never cut.

    Being a Length, it also renders the field's maxlength attribute."""

    def __init__(self, max: int) -> None:
        super().__init__(max=max)

    def __call__(self, form, field) -> None:
        length = len(field.data or "")
        if length > self.max:
            raise ValidationError(
                f"Too long: up to {self.max:,} characters, this one has {length:,}."
            )


def unix_newlines(value: str | None) -> str | None:
    # Browsers count a line break as one character against maxlength but submit it as CRLF.
    return value.replace("\r\n", "\n") if isinstance(value, str) else value


def known_marketplace(form, field) -> None:
    if field.data not in marketplaces.BY_COUNTRY:
        raise ValidationError("Choose one of Amazon's marketplaces from the list.")


class MarketplaceForm(FlaskForm):
    marketplace = SelectField(
        "Marketplace",
        choices=marketplace_choices,
        validate_choice=False,
        validators=[DataRequired(message="Choose a marketplace."), known_marketplace],
    )


class ConnectRequestForm(MarketplaceForm):
    client_name = StringField(
        "Client name",
        filters=[strip],
        validators=[DataRequired(), AtMost(120), single_line],
        description="Up to 120 characters.",
    )
    client_email = email_field(
        "Client email",
        "The email of the person who owns the Amazon seller account. Up to 254 characters.",
    )
    note = TextAreaField(
        "Personal note (optional)",
        filters=[unix_newlines, strip],
        validators=[AtMost(1000), no_control_characters],
        description="Added to the email, in your words. Up to 1,000 characters.",
        render_kw={"data-counter": ""},
    )


class ChangeEmailForm(FlaskForm):
    client_email = email_field("New email")
