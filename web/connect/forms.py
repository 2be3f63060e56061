"""Forms of the bookkeeper's connect flow."""

from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, ValidationError

from core import field_rules, marketplaces
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
        if message := field_rules.too_long(field.data, self.max):
            raise ValidationError(message)


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
        validators=[DataRequired(), AtMost(field_rules.NAME_MAX), single_line],
    )
    client_email = email_field(
        "Client email",
        "The email of the person who owns the Amazon seller account. Up to 254 characters.",
    )
    note = TextAreaField(
        "Personal note (optional)",
        filters=[unix_newlines, strip],
        validators=[AtMost(field_rules.NOTE_MAX), no_control_characters],
        description="Added to the email, in your words.",
        render_kw={"data-counter": ""},
    )

    also_1 = SelectField(
        "Also in another region (optional)",
        choices=lambda: [SelectChoice("", "— none —"), *marketplace_choices()],
        validate_choice=False,
        description="The owner connects each region at Amazon in turn, from one email.",
    )
    also_2 = SelectField(
        "And a third region (optional)",
        choices=lambda: [SelectChoice("", "— none —"), *marketplace_choices()],
        validate_choice=False,
    )

    def validate_also_1(self, field) -> None:
        self._other_region(field)

    def validate_also_2(self, field) -> None:
        self._other_region(field, self.also_1.data)

    def _other_region(self, field, *also: str) -> None:
        """Another region than the marketplace's (and the other choice's): one Amazon
        authorization covers a whole region, so two marketplaces of one region are one."""
        if not field.data:
            return
        if field.data not in marketplaces.BY_COUNTRY:
            raise ValidationError("Choose one of Amazon's marketplaces from the list.")
        problem = marketplaces.same_region_problem(field.data, self.marketplace.data, *also)
        if problem:
            raise ValidationError(problem)

    @property
    def also(self) -> str:
        """The other regions' marketplaces, as a draft keeps them ("DE,JP")."""
        return ",".join(c for c in (self.also_1.data, self.also_2.data) if c)


class ChangeEmailForm(FlaskForm):
    client_email = email_field("New email")
