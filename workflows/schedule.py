"""The reminder schedule shared by connection requests and user invitations (deterministic)."""

from datetime import datetime, timedelta


def next_wake(
    sent_at: datetime,
    offsets_seconds: list[int],
    reminders_sent: int,
    deadline: datetime,
    paused_until: datetime | None = None,
) -> tuple[datetime, int]:
    """When to wake next: (time, reminder number), where reminder 0 means the deadline.

    Reminder n is due `offsets_seconds[n-1]` after sending, but not before `paused_until` (the
    seller is busy finishing); a reminder that would fall on or after the deadline is not sent.
    """
    if reminders_sent >= len(offsets_seconds):
        return deadline, 0
    due = sent_at + timedelta(seconds=offsets_seconds[reminders_sent])
    if paused_until is not None:
        due = max(due, paused_until)
    if due >= deadline:
        return deadline, 0
    return due, reminders_sent + 1
