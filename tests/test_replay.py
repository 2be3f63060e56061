"""Every saved history still replays on today's workflow code (no non-determinism)."""

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from workflows.registry import WORKFLOWS

HISTORIES = sorted((Path(__file__).parent / "histories").rglob("*.json"))


def test_there_are_histories_of_every_path():
    names = " ".join(p.name for p in HISTORIES)
    for path in (
        "connects",
        "expires",
        "withdrawn",
        "resend",
        "change-email",
        "wrong-seller",
        "undoes-the-connection",
        "ask-for-a-new-one",
        "joins-and-connects",
        "expired-and-withdrawn-invitations",
        "password-reset",
        "ops-request-cancellation-withdraws-the-request",
        "terminated-request-closes",
        "reset-request-carries-on",
        "consent-from-a-replaced-link",
        "scheduled-run-closes",
    ):
        assert path in names, f"no saved history for {path}: run `make histories`"


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_saved_history_replays(path, loop):
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    replayer = Replayer(workflows=WORKFLOWS)
    result = loop.run(replayer.replay_workflow(history, raise_on_replay_failure=False))
    assert result.replay_failure is None, f"{path}: {result.replay_failure}"
