"""Validators shared by every form."""

from wtforms import EmailField
from wtforms.validators import DataRequired, Email, Length, ValidationError


def single_line(form, field) -> None:
    """Reject line breaks and control characters: these values end up in email headers."""
    value = field.data or ""
    if any(ch in value for ch in "\r\n") or any(ord(ch) < 32 for ch in value):
        raise ValidationError("Use a single line without line breaks.")


def strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


def no_control_characters(form, field) -> None:
    """Line breaks and tabs are fine in a note; other control characters are not."""
    if any(ord(ch) < 32 and ch not in "\r\n\t" for ch in field.data or ""):
        raise ValidationError("Remove the invisible control characters from this text.")


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
