"""How fast 'Send Request to Connect' answers, and how fast a returning seller sees "Connected".

Starts, all on loopback and stopped again at exit, the parts as `make run` runs them: the
Temporal dev server (SQLite file in WAL mode, the Procfile's flags), the Amazon stand-in
(`python -m sandbox`), the worker (`python worker.py`) and the web app (`flask --app web run`),
each a process of its own configured by environment variables only, sharing one SQLite app
database; the SMTP sink (the mail catcher's stand-in) stays in this process. Then it measures
from the client side:

1. the POST that sends a connection request (the preview's Send), against a bare
   `client.start_workflow` on the same server and task queue, interleaved step by step (with a
   static file as the HTTP path's floor) so machine noise lands on all of them;
2. the seller's return from Amazon (GET /amazon/callback) until the "Connected" page, with
   several sellers returning at once.

The workflows' histories then say where each request's time went, and /proc what CPU each
process used. `--in-process` keeps the older topology (web app, worker and stand-in in this
process, one GIL) for its in-process marks and `--profile`.

Run: `.venv/bin/python -m bench.connect_latency` (see bench/README.md for the options).
"""

# ruff: noqa: E402  (the sys.path line below must precede the project's imports)

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/connect_latency.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import contextlib
import json
import logging
import math
import os
import platform
import time
import typing
import uuid
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any

from harness.cpu import CpuUse, at_rest
from harness.drivers import Bookkeeper, CallbackResult, Timing, expect, fire, prepare_sellers
from harness.history import callback_breakdown, explain_missing, start_breakdown
from harness.in_process import write_profile
from harness.mail import await_invitations
from harness.parts import Parts, start_parts
from harness.processes import HTTP_TIMEOUT
from harness.run import configure_logging, positive, stop_by_itself
from harness.stats import Summary, header, percentile, row, split
from vocabulary.messages import ConnectionRequestInput
from workflows.connection_request import ConnectionRequestWorkflow

IDLE_SECONDS = 3.0  # CPU at rest is measured this long before anything is asked

log = logging.getLogger("bench")


# --- 1 and 2: the send view against a bare start ---------------------------------------------


def baseline_input() -> ConnectionRequestInput:
    """A workflow input for no request row (the bare starts are never run: see bare_start).

    Built from the dataclass's fields, so the bench keeps working as the input grows fields.
    """
    dummies = {int: 0, bool: False, str: "bench", float: 0.0}
    hints = typing.get_type_hints(ConnectionRequestInput)
    values: dict[str, Any] = {
        spec.name: dummies.get(hints[spec.name])
        for spec in fields(ConnectionRequestInput)
        if spec.default is MISSING and spec.default_factory is MISSING
    }
    values.update(request_id=0, send_invite=False)
    if "expires_after_seconds" in values:
        values["expires_after_seconds"] = 86400
    return ConnectionRequestInput(**values)


def bare_start(parts: Parts) -> Timing:
    """Start the workflow as plainly as possible; time it from the calling thread.

    On the same server, but on a task queue no worker polls: the start call does the same work
    (the server records the workflow and queues its first task without waiting for a worker),
    and the workflows never run. Run, a workflow whose request row does not exist waits for it,
    retrying an activity for a minute, which would load the worker and the server under the
    figures being measured.
    """
    client = parts.baseline_client
    input = baseline_input()
    workflow_id = f"bench-baseline-{uuid.uuid4().hex}"

    async def start() -> None:
        await client.start_workflow(
            ConnectionRequestWorkflow.run, input, id=workflow_id, task_queue=parts.bare_task_queue
        )

    sent_at = time.time()
    started = time.perf_counter()
    parts.baseline_loop.run(start(), timeout=30)
    elapsed = time.perf_counter() - started
    return Timing(elapsed, workflow_id, sent_at, time.time())


@dataclass
class SendResults:
    send: list[Timing] = field(default_factory=list)
    baseline: list[Timing] = field(default_factory=list)
    floor: list[float] = field(default_factory=list)  # a static file over the same HTTP path
    bench_ids: list[str] = field(default_factory=list)
    invited: list[tuple[str, str]] = field(default_factory=list)  # (client email, workflow id)
    missing: list[tuple[str, str]] = field(default_factory=list)  # no invitation email came
    round_ratios: list[float] = field(default_factory=list)  # per round: p50 send / p50 baseline
    cpu: CpuUse = field(default_factory=CpuUse)

    @property
    def steps(self) -> int:
        return len(self.send)


def measure_sends(parts: Parts, bookkeeper: Bookkeeper, args: argparse.Namespace) -> SendResults:
    results = SendResults()
    static_url = f"{parts.app_url}/static/style.css"

    def send(measured: bool) -> None:
        # A client account of its own each time: one open request per account and marketplace.
        account_id = bookkeeper.add_account(f"Send Bench {uuid.uuid4().hex[:6]}")
        data = bookkeeper.preview(account_id)
        bench_id = f"send-{uuid.uuid4().hex}"
        timing = bookkeeper.send(account_id, data, bench_id)
        if measured:
            results.send.append(timing)
            results.bench_ids.append(bench_id)
            results.invited.append((data["client_email"], timing.workflow_id))

    def baseline(measured: bool) -> None:
        timing = bare_start(parts)
        if measured:
            results.baseline.append(timing)

    def floor(measured: bool) -> None:
        started = time.perf_counter()
        response = bookkeeper.http.get(static_url, timeout=HTTP_TIMEOUT)
        elapsed = time.perf_counter() - started
        expect(response, 200, "static file")
        if measured:
            results.floor.append(elapsed)

    # Each step runs all three; every other step in reverse, so none always follows another's
    # background work (the send's invitation emails go out just after it answers).
    def step(index: int, measured: bool) -> None:
        order = (send, baseline, floor) if index % 2 == 0 else (floor, baseline, send)
        for measure in order:
            measure(measured)

    log.info("warm-up: %d sends and bare starts", args.warmup)
    for index in range(args.warmup):
        step(index, measured=False)

    for number, steps in enumerate(split(args.requests, args.rounds)):
        sends_before, baselines_before = len(results.send), len(results.baseline)
        with results.cpu.measure(parts.pids):
            for index in range(steps):
                step(number + index, measured=True)
        round_send = sorted(t.seconds for t in results.send[sends_before:])
        round_base = sorted(t.seconds for t in results.baseline[baselines_before:])
        ratio = percentile(round_send, 50) / percentile(round_base, 50)
        results.round_ratios.append(ratio)
        log.info(
            "round %d/%d: %d sends, p50 %.1f ms; bare start p50 %.1f ms; ratio %.2f",
            number + 1,
            args.rounds,
            steps,
            percentile(round_send, 50) * 1000,
            percentile(round_base, 50) * 1000,
            ratio,
        )
    _, results.missing = await_invitations(parts.mailbox, results.invited)
    return results


# --- 3: callback to "Connected" --------------------------------------------------------------


# --- 3: callback to "Connected" --------------------------------------------------------------


@dataclass
class CallbackRun:
    results: list[CallbackResult] = field(default_factory=list)
    batches: int = 0
    oldest_code_seconds: float = 0.0
    missing: list[tuple[str, str]] = field(default_factory=list)  # no invitation email came
    cpu: CpuUse = field(default_factory=CpuUse)  # while the measured callbacks were in flight


def measure_callbacks(
    parts: Parts, bookkeeper: Bookkeeper, args: argparse.Namespace
) -> CallbackRun:
    run = CallbackRun()
    warmup = min(args.concurrency, args.sellers)
    log.info("callback warm-up: %d sellers", warmup)
    fire(prepare_sellers(parts, bookkeeper, warmup, run.missing), args.concurrency)
    remaining = args.sellers
    while remaining > 0:
        size = min(args.batch, remaining)
        prepared_from = time.perf_counter()
        sellers = prepare_sellers(parts, bookkeeper, size, run.missing)
        log.info(
            "batch %d: %d sellers back from Amazon in %.1f s; firing %d at a time",
            run.batches + 1,
            size,
            time.perf_counter() - prepared_from,
            args.concurrency,
        )
        run.oldest_code_seconds = max(
            run.oldest_code_seconds, max(time.perf_counter() - s.consented_at for s in sellers)
        )
        if not sellers:
            raise RuntimeError("no invitation of the batch came: nothing to measure")
        with run.cpu.measure(parts.pids):
            run.results.extend(fire(sellers, args.concurrency))
        run.batches += 1
        remaining -= size
    return run


# --- where the time goes ---------------------------------------------------------------------


# --- where the time goes ---------------------------------------------------------------------


def send_marks_breakdown(parts: Parts, results: SendResults) -> dict[str, Summary]:
    """--in-process only: the send split at the Flask and Temporal-call marks."""
    if parts.marks is None:
        return {}
    spans: dict[str, list[float]] = {}
    for bench_id, timing in zip(results.bench_ids, results.send, strict=True):
        marks = parts.marks.get(bench_id)
        if "temporal_start" not in marks:
            continue
        wsgi = marks["wsgi_end"] - marks["wsgi_start"]
        pairs = {
            "HTTP + werkzeug (client total - Flask)": timing.seconds - wsgi,
            "Flask before start (CSRF, form, insert)": marks["temporal_start"]
            - marks["wsgi_start"],
            "temporal.run(start_workflow)": marks["temporal_end"] - marks["temporal_start"],
            "Flask after start (commit, flash, redirect)": marks["wsgi_end"]
            - marks["temporal_end"],
        }
        for name, seconds in pairs.items():
            spans.setdefault(name, []).append(seconds)
    return {name: Summary.of(values) for name, values in spans.items()}


# --- report ----------------------------------------------------------------------------------


def report(
    args: argparse.Namespace,
    parts: Parts,
    idle: dict[str, CpuUse],
    sends: SendResults,
    callbacks: CallbackRun,
    spans: dict[str, dict[str, Summary]],
    missing: dict[str, list[str]],
) -> dict[str, Any]:
    send = Summary.of([t.seconds for t in sends.send])
    base = Summary.of([t.seconds for t in sends.baseline])
    floor = Summary.of(sends.floor)
    ratio_p50 = send.p50 / base.p50
    ratio_p99 = send.p99 / base.p99
    ok = [r for r in callbacks.results if r.connected]
    failures = [r for r in callbacks.results if not r.connected]
    finishing = [r for r in callbacks.results if r.refreshes]
    callback = Summary.of([r.seconds for r in callbacks.results])
    ratios_ok = ratio_p50 <= 1.5 and ratio_p99 <= 1.5
    callback_ok = callback.p99 < 1000 and not failures
    cpu = callbacks.cpu
    throughput = len(callbacks.results) / cpu.wall if cpu.wall else math.nan

    lines = [
        "",
        "Connect latency bench",
        f"  os.cpu_count() = {os.cpu_count()}  (a shared machine: other jobs add noise,"
        " so read ratios and medians of several runs)",
        f"  Python {platform.python_version()}; on loopback HTTP, " + " ".join(parts.topology[:1]),
        *(f"  {line}" for line in parts.topology[1:]),
        "  the Temporal dev server is a child process (SQLite file, WAL, synchronous=normal,"
        " transferProcessorMaxPollRPS=1000"
        + "".join(f", {v}" for v in args.temporal_config)
        + ").",
        f"  load average (1 min): {args.load_before:.2f} at the start,"
        f" {os.getloadavg()[0]:.2f} at the end",
        f"  --requests {args.requests} (after {args.warmup} warm-up steps), --rounds {args.rounds},"
        f" --sellers {args.sellers}, --concurrency {args.concurrency}, --batch {args.batch}",
    ]
    for when, rest in idle.items():
        lines.append(f"  CPU at rest, {IDLE_SECONDS:.0f} s with nothing asked, {when} the run:")
        lines += rest.describe(1, f"{IDLE_SECONDS:.0f} s")
    lines += header("1-2. 'Send Request to Connect' vs a bare start_workflow (interleaved)")
    lines.append(row("POST send (client side)", send))
    lines.append(row("bare client.start_workflow (same server)", base))
    lines.append(
        f"  {'ratio send / bare start':<58} {'':>5} {ratio_p50:>9.2f} {ratio_p99:>9.2f}"
        f" {'':>9} {'':>9}  goal <= 1.5 each: {'MET' if ratios_ok else 'NOT MET'}"
    )
    spread = sorted(sends.round_ratios)
    lines.append(
        f"  per-round p50 ratios: {', '.join(f'{r:.2f}' for r in sends.round_ratios)}"
        f"  (min {spread[0]:.2f}, max {spread[-1]:.2f})"
    )
    lines.append(row("for scale: GET a static file, same server", floor))
    lines.append(
        f"  invitation emails for the measured sends: {len(sends.invited) - len(sends.missing)}"
        f" of {len(sends.invited)} came"
    )
    lines += [f"    no invitation: {why}" for why in missing["send"]]
    lines.append("  CPU while measuring (a step = one send, one bare start, one static GET):")
    lines += sends.cpu.describe(sends.steps, "step")
    lines += header("   where the send's time goes (the workflow's start in its history)")
    lines += [row(f"send: {name}", s) for name, s in spans["send"].items()]
    lines += [row(f"bare: {name}", s) for name, s in spans["baseline"].items()]
    lines += [row(f"in-process: {name}", s) for name, s in spans["send_marks"].items()]

    lines += header(
        f"3. Callback -> 'Connected' page, {args.concurrency} sellers at once"
        f" ({callbacks.batches} batch(es); oldest code {callbacks.oldest_code_seconds:.0f} s old"
        " when fired)"
    )
    lines.append(
        row(
            "GET /amazon/callback until Connected",
            callback,
            f"goal p99 < 1000 ms, no failures: {'MET' if callback_ok else 'NOT MET'}",
        )
    )
    lines.append(
        f"  connected {len(ok)}, failures {len(failures)},"
        f" needed the 'finishing' page {len(finishing)}"
    )
    for failure in failures[:5]:
        lines.append(f"    failure: {failure.error}")
    if callbacks.missing:
        lines.append(
            f"  sellers left out because their invitation never came: {len(callbacks.missing)}"
        )
        lines += [f"    no invitation: {why}" for why in missing["callback"]]
    lines.append(f"  {throughput:.1f} callbacks/s; CPU while they were in flight:")
    lines += cpu.describe(len(callbacks.results), "callback")
    lines += header("   where a callback's time goes (the workflow's history)")
    lines += [row(name, s) for name, s in spans["callback"].items()]
    print("\n".join(lines), flush=True)

    return {
        "cpu_count": os.cpu_count(),
        "args": vars(args),
        "topology": " ".join(parts.topology),
        "send": asdict(send),
        "baseline": asdict(base),
        "static_file": asdict(floor),
        "ratio_p50": ratio_p50,
        "ratio_p99": ratio_p99,
        "round_ratios": sends.round_ratios,
        "send_invitations_missing": len(sends.missing),
        "callback_invitations_missing": len(callbacks.missing),
        "missing_invitations_why": missing,
        "idle_cpu": {when: rest.as_json(1) for when, rest in idle.items()},
        "send_cpu": sends.cpu.as_json(sends.steps),
        "callback": asdict(callback),
        "callback_connected": len(ok),
        "callback_failures": [f.error for f in failures],
        "callback_finishing": len(finishing),
        "callback_per_second": throughput,
        "callback_cpu": cpu.as_json(len(callbacks.results)),
        "spans": {
            part: {k: asdict(v) for k, v in summaries.items()} for part, summaries in spans.items()
        },
    }


# --- main ------------------------------------------------------------------------------------


# --- main ------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.connect_latency",
        description="Latency of 'Send Request to Connect' and of the seller's return from Amazon.",
    )
    parser.add_argument("--requests", type=positive, default=200, help="measured sends (200)")
    parser.add_argument("--warmup", type=int, default=20, help="unmeasured send pairs first (20)")
    parser.add_argument(
        "--rounds", type=positive, default=5, help="rounds the sends are split into (5)"
    )
    parser.add_argument("--sellers", type=positive, default=50, help="measured callbacks (50)")
    parser.add_argument(
        "--concurrency", type=positive, default=10, help="sellers returning at once (10)"
    )
    parser.add_argument(
        "--batch",
        type=positive,
        default=50,
        help="sellers prepared per batch; Amazon's codes live 5 minutes (50)",
    )
    parser.add_argument(
        "--time-limit", type=positive, default=1800, help="stop after this many seconds (1800)"
    )
    parser.add_argument(
        "--temporal-config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="another dynamic config value for the dev server (repeatable), besides the ones"
        " `make run` sets",
    )
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="run the web app, the worker and the stand-in in this process (one GIL, not how"
        " `make run` runs them) to get the in-process Flask marks or --profile",
    )
    parser.add_argument("--json", type=Path, help="also write the figures here as JSON")
    parser.add_argument(
        "--profile",
        type=Path,
        help="with --in-process: cProfile the web thread of every measured request and write the"
        " stats here (slows the requests: compare figures only from runs without it)",
    )
    args = parser.parse_args(argv)
    if args.rounds > args.requests:
        parser.error("--rounds cannot exceed --requests")
    if args.profile and not args.in_process:
        parser.error("--profile needs --in-process (the web app must run in this process)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging()
    args.load_before = os.getloadavg()[0]
    with stop_by_itself(args.time_limit), contextlib.ExitStack() as stack:
        parts = start_parts(stack, args)
        if parts.marks is not None:
            parts.marks.profiling = args.profile is not None
        idle = {"before": at_rest(parts.pids, IDLE_SECONDS)}
        bookkeeper = Bookkeeper(parts.app_url, parts.sessions).sign_up(parts.mailbox)
        sends = measure_sends(parts, bookkeeper, args)
        callbacks = measure_callbacks(parts, bookkeeper, args)
        time.sleep(1)  # the last callbacks' confirmation emails
        idle["after"] = at_rest(parts.pids, IDLE_SECONDS)
        log.info("reading the workflows' histories")
        spans = {
            "send": start_breakdown(parts, sends.send),
            "baseline": start_breakdown(parts, sends.baseline),
            "send_marks": send_marks_breakdown(parts, sends),
            "callback": callback_breakdown(parts, callbacks.results),
        }
        missing = {
            "send": explain_missing(parts, sends.missing),
            "callback": explain_missing(parts, callbacks.missing),
        }
        figures = report(args, parts, idle, sends, callbacks, spans, missing)
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2, default=str))
        if args.profile and parts.marks is not None:
            write_profile(parts.marks, args.profile)
        log.info("stopping every part")
    return 0


if __name__ == "__main__":
    sys.exit(main())
