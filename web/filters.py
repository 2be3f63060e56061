"""Template filters: statuses and times in words."""

from datetime import datetime

from flask import Flask
from markupsafe import Markup

from core.clock import utcnow

STATUS_LABELS = {
    "sent": "Sent",
    "opened": "Opened",
    "consent_started": "Went to Amazon",
    "reminded": "Reminded",
    "connected": "Connected",
    "expired": "Expired",
    "cancelled": "Withdrawn",
    "failed": "Failed",
    "closed": "Closed by operations",
    "pending": "Pending",
    "accepted": "Accepted",
}


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, status.replace("_", " ").capitalize())


def ago(moment: datetime | None, now: datetime | None = None) -> str:
    """'just now', '5 minutes ago', '3 days ago', or 'in 2 days' for the future."""
    if moment is None:
        return ""
    seconds = ((now or utcnow()) - moment).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = round(seconds / size)
            words = f"{n} {unit}{'s' if n != 1 else ''}"
            return f"in {words}" if future else f"{words} ago"
    return "in a moment" if future else "just now"


def local_time(moment: datetime | None, relative: bool = False) -> Markup:
    """A <time> for a page: UTC in its text and title until static/times.js rewrites the text
    into the viewer's own zone (relative ones, "5 minutes ago", keep their words and get the
    local time on hover). `moment` is naive UTC, as every column holds it."""
    if moment is None:
        return Markup("")
    utc = f"{moment:%Y-%m-%d %H:%M} UTC"
    return Markup('<time datetime="{}" title="{}" data-local{}>{}</time>').format(
        f"{moment:%Y-%m-%dT%H:%M:%S}Z",
        utc,
        Markup(" data-relative") if relative else "",
        ago(moment) if relative else utc,
    )


def register_filters(app: Flask) -> None:
    app.add_template_filter(status_label)
    app.add_template_filter(ago)
    app.add_template_filter(local_time)
