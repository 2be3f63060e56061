"""Validators shared by every form."""

from wtforms import EmailField
from wtforms.validators import DataRequired, Email, Length, ValidationError

from core import field_rules


def single_line(form, field) -> None:
    """Reject line breaks and control characters: these values end up in email headers."""
    if message := field_rules.not_single_line(field.data):
        raise ValidationError(message)


def strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


def no_control_characters(form, field) -> None:
    """Line breaks and tabs are fine in a note; other control characters are not."""
    if message := field_rules.control_characters(field.data):
        raise ValidationError(message)


def email_field(label: str, description: str = "") -> EmailField:
    """An email address that may reach a mail header: required, valid, one line."""
    return EmailField(
        label,
        filters=[strip],
        validators=[
            DataRequired(),
            Email(message="Enter a valid email address."),
            Length(max=254),
            single_line,
        ],
        description=description,
    )
