"""What a replay costs the worker: one saved history replayed under three workflow runners.

A workflow evicted from the worker's cache is replayed from its whole history when its next task
arrives (a seller coming back, a reminder); every new workflow also builds its sandbox once. This
script replays one saved history (`tests/histories/`, the workflows' real ones) many times with
Temporal's `Replayer` in this process, under:

- `sandboxed`: the SDK's default runner, which `worker.py` uses;
- `passthrough-all`: the sandbox with `SandboxRestrictions.with_passthrough_all_modules()`: no
  module is re-imported per run (the SDK calls this unsafe), the call restrictions stay;
- `unsandboxed`: `UnsandboxedWorkflowRunner`, no isolation or restrictions at all.

Each runner replays batches of copies of the history on one replay worker, one after another, as
a worker replays the evicted workflows it is handed (its workflow classes validated once per
batch, not per replay); the runners take turns batch by batch so machine noise hits each alike.
Figures: milliseconds per replay (p50, p90) and each p50's ratio to the unsandboxed one.

    .venv/bin/python -m bench.replay
    .venv/bin/python -m bench.replay --rounds 9 --history tests/histories/<set>/<name>.json
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from pathlib import Path

from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from harness.stats import percentile
from tests.test_replay import WORKFLOWS

ROOT = Path(__file__).resolve().parents[1]
# The happy path of option 1 (invite, consent, connect, confirm): the longest common history.
DEFAULT_HISTORY = "test-bookkeeper-invites-and-seller-connects-1.json"

RUNNERS: dict[str, WorkflowRunner] = {
    "sandboxed": SandboxedWorkflowRunner(),
    "passthrough-all": SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_all_modules()
    ),
    "unsandboxed": UnsandboxedWorkflowRunner(),
}


def newest_history(name: str) -> Path:
    found = sorted((ROOT / "tests" / "histories").glob(f"*/{name}"), key=os.path.getmtime)
    if not found:
        raise SystemExit(f"no saved history named {name}: run `make histories`")
    return found[-1]


async def replay_batch(replayer: Replayer, histories: list[WorkflowHistory]) -> list[float]:
    """Replay the histories one after another on one replay worker (as a worker replays evicted
    workflows: validated once, then one run each); the milliseconds each replay took."""

    async def feed():
        for history in histories:
            yield history

    took = []
    async with replayer.workflow_replay_iterator(feed()) as results:
        wall = time.perf_counter()
        async for result in results:
            if result.replay_failure:
                raise result.replay_failure
            now = time.perf_counter()
            took.append((now - wall) * 1000)
            wall = now
    return took


async def measure(text: str, rounds: int, per_round: int, warmup: int) -> dict[str, list[float]]:
    """Per runner, `rounds` batches of `per_round` measured replays, the runners taking turns."""
    times: dict[str, list[float]] = {name: [] for name in RUNNERS}
    for index in range(rounds):
        order = list(RUNNERS.items())
        if index % 2:
            order.reverse()
        for name, runner in order:
            histories = [
                WorkflowHistory.from_json(f"replay-{name}-{index}-{n}", text)
                for n in range(warmup + per_round)
            ]  # parsed before the clock starts; one workflow id each
            replayer = Replayer(workflows=WORKFLOWS, workflow_runner=runner)
            times[name].extend((await replay_batch(replayer, histories))[warmup:])
    return times


def report(path: Path, events: int, times: dict[str, list[float]]) -> None:
    print(f"history {path.relative_to(ROOT)}: {events} events")
    print(f"os.cpu_count() = {os.cpu_count()}, load average {os.getloadavg()}")
    base = statistics.median(times["unsandboxed"])
    print(f"{'runner':<16} {'n':>4} {'p50 ms':>8} {'p90 ms':>8}  p50 vs unsandboxed")
    for name, took in times.items():
        ordered = sorted(took)
        p50 = statistics.median(ordered)
        print(
            f"{name:<16} {len(ordered):>4} {p50:>8.1f} {percentile(ordered, 90):>8.1f}"
            f"  {p50 / base:.2f}x"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history", type=Path, help="a saved history (JSON)")
    parser.add_argument("--rounds", type=int, default=5, help="batches per runner, taking turns")
    parser.add_argument("--per-round", type=int, default=20, help="measured replays per batch")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured replays per batch")
    args = parser.parse_args(argv)
    path = (args.history or newest_history(DEFAULT_HISTORY)).resolve()
    text = path.read_text()
    times = asyncio.run(measure(text, args.rounds, args.per_round, args.warmup))
    report(path, len(WorkflowHistory.from_json(path.stem, text).events), times)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
