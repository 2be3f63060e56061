"""Forms of the bookkeeper's connect flow."""

from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, ValidationError

from web import marketplaces
from web.forms import email_field, no_control_characters, single_line, strip


def marketplace_choices() -> list[SelectChoice]:
    """Every marketplace, grouped by region for the select box."""
    return [
        SelectChoice(m.country, m.label, optgroup=region.name)
        for region, members in marketplaces.grouped()
        for m in members
    ]


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
        "Client name", filters=[strip], validators=[DataRequired(), Length(max=120), single_line]
    )
    client_email = email_field(
        "Client email", "The email of the person who owns the Amazon seller account."
    )
    note = TextAreaField(
        "Personal note (optional)",
        filters=[strip],
        validators=[Length(max=1000), no_control_characters],
        description="Added to the email, in your words.",
    )


class ChangeEmailForm(FlaskForm):
    client_email = email_field("New email")
