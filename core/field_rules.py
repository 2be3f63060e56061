"""What the values a bookkeeper types must be, said in words: the forms' validators
(web/forms.py, web/connect/forms.py) and the bulk upload (services/bulk_invites.py) apply these
same rules. Each returns what is wrong, or "" when nothing is."""

import email_validator

# The columns' sizes (core.requests.AskedOf, core.accounts.ClientAccount).
NAME_MAX = 120
EMAIL_MAX = 254
NOTE_MAX = 1000


def blank(value: str | None) -> str:
    """Nothing but spaces where something is needed (as the forms' DataRequired, after strip)."""
    return "" if (value or "").strip() else "This field is required."


def too_long(value: str | None, limit: int) -> str:
    """Refused and never cut, said with the count."""
    length = len(value or "")
    if length > limit:
        return f"Too long: up to {limit:,} characters, this one has {length:,}."
    return ""


def not_single_line(value: str | None) -> str:
    """Line breaks and control characters: these values end up in email headers."""
    value = value or ""
    if any(ch in value for ch in "\r\n") or any(ord(ch) < 32 for ch in value):
        return "Use a single line without line breaks."
    return ""


def control_characters(value: str | None) -> str:
    """Line breaks and tabs are fine in a note; other control characters are not."""
    if any(ord(ch) < 32 and ch not in "\r\n\t" for ch in value or ""):
        return "Remove the invisible control characters from this text."
    return ""


def not_an_email(value: str | None) -> str:
    """As WTForms' Email() checks it (no DNS look-up)."""
    try:
        email_validator.validate_email(value or "", check_deliverability=False)
    except email_validator.EmailNotValidError:
        return "Enter a valid email address."
    return ""
