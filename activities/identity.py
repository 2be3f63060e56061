"""What makes one logical email: the activity execution that sends it, the same across retries."""

from temporalio import activity


def email_identity() -> tuple[str, str, str]:
    """(workflow id, run id, activity id): stable when Temporal retries, new for every send."""
    info = activity.info()
    return info.workflow_id or "", info.workflow_run_id or "", info.activity_id


def message_key(public_id: str, reason: str) -> str:
    """The key of an emailed link's Message-ID: one per send, the same when Temporal retries."""
    _, run_id, activity_id = email_identity()
    return f"{public_id}.{reason}.{run_id[:8]}.{activity_id}"
