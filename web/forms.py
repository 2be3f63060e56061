"""Validators shared by every form."""

from wtforms.validators import ValidationError


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
