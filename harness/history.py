"""Walks over workflows' histories: where a request's time went, by the server's own clock.

The server's event times and this process's `time.time()` share the host's clock, so a client
timing lines up with the events of the workflow it started or updated.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from temporalio.api.enums.v1 import EventType, TaskQueueKind
from temporalio.client import Client

from harness.stats import Summary

if TYPE_CHECKING:
    from harness.drivers import CallbackResult, Timing
    from harness.parts import Parts


def timestamp_seconds(timestamp) -> float:
    return timestamp.seconds + timestamp.nanos / 1e9


async def gather(calls: list[Awaitable[Any]], limit: int = 16) -> list[Any]:
    gate = asyncio.Semaphore(limit)

    async def one(call: Awaitable[Any]) -> Any:
        async with gate:
            return await call

    return await asyncio.gather(*(one(call) for call in calls))


async def _started_at(client: Client, workflow_id: str) -> float | None:
    """When the server recorded the workflow's start (its first history event)."""
    events = client.get_workflow_handle(workflow_id).fetch_history_events(page_size=1)
    async for event in events:
        return timestamp_seconds(event.event_time)
    return None


def start_breakdown(parts: Parts, timings: list[Timing]) -> dict[str, Summary]:
    """Client-side send/return around the server's WorkflowExecutionStarted (same host clock)."""
    started = parts.loop.run(
        gather([_started_at(parts.client, t.workflow_id) for t in timings]), timeout=300
    )
    before, after = [], []
    for timing, at in zip(timings, started, strict=True):
        if at is not None:
            before.append(at - timing.sent_at)
            after.append(timing.received_at - at)
    return {
        "call -> workflow started (server's history)": Summary.of(before),
        "workflow started -> answer in the client": Summary.of(after),
    }


async def update_timeline(client: Client, workflow_id: str) -> dict[str, float]:
    """From the workflow's history: the update's accepting workflow task, accepted/completed,
    each activity's run and the workflow tasks between them (queued, then in the worker)."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    found: dict[str, float] = {}
    scheduled: dict[int, tuple[str, float]] = {}
    started: dict[int, float] = {}
    task_scheduled: dict[int, float] = {}
    task_started: dict[int, float] = {}
    last_task: tuple[float, float, float] | None = None  # the latest completed workflow task

    def during_update() -> bool:
        return "accepted" in found and "completed" not in found

    for event in history.events:
        at = timestamp_seconds(event.event_time)
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            found["accepted"] = at
            if last_task is not None:  # the workflow task that ran the update's validator
                found["accepting scheduled"], found["accepting started"] = last_task[:2]
                found["accepting completed"] = last_task[2]
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
            found["completed"] = at
        elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
            task_scheduled[event.event_id] = at
        elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
            task_started[event.workflow_task_started_event_attributes.scheduled_event_id] = at
        elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            task = event.workflow_task_completed_event_attributes.scheduled_event_id
            scheduled_at = task_scheduled.get(task, at)
            started_at = task_started.get(task, scheduled_at)
            last_task = (scheduled_at, started_at, at)
            if during_update():
                found["tasks"] = found.get("tasks", 0.0) + 1
                found["tasks queued"] = found.get("tasks queued", 0.0) + started_at - scheduled_at
                found["tasks in worker"] = found.get("tasks in worker", 0.0) + at - started_at
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            name = event.activity_task_scheduled_event_attributes.activity_type.name
            scheduled[event.event_id] = (name, at)
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            started[event.activity_task_started_event_attributes.scheduled_event_id] = at
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            attributes = event.activity_task_completed_event_attributes
            name, scheduled_at = scheduled[attributes.scheduled_event_id]
            started_at = started.get(attributes.scheduled_event_id, scheduled_at)
            if during_update():
                # Activities start eagerly (handed back with the workflow task's answer), so
                # scheduled-to-started is ~0; what is not spent in them is workflow tasks.
                found[f"run {name}"] = at - started_at
                found["activities"] = found.get("activities", 0.0) + at - scheduled_at
    return found


async def what_happened(client: Client, workflow_id: str) -> str:
    """Why a workflow sent no invitation, from its history: the first failed activity, if any."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    activities: dict[int, str] = {}
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            attributes = event.activity_task_scheduled_event_attributes
            activities[event.event_id] = attributes.activity_type.name
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED:
            attributes = event.activity_task_failed_event_attributes
            name = activities.get(attributes.scheduled_event_id, "an activity")
            return f"{name} failed: {attributes.failure.message}"
    last = EventType.Name(history.events[-1].event_type) if history.events else "none"
    return f"no activity failed; {len(history.events)} events, the last {last}"


def explain_missing(parts: Parts, missing: list[tuple[str, str]], limit: int = 5) -> list[str]:
    reasons = parts.loop.run(
        gather([what_happened(parts.client, workflow) for _, workflow in missing[:limit]]),
        timeout=60,
    )
    return [
        f"{workflow}: {reason}"
        for (_, workflow), reason in zip(missing[:limit], reasons, strict=True)
    ]


# The spans of one callback, in the report's order: (label, from, to), points named by its
# workflow's history (update_timeline), the web process's marks (wsgi_*, temporal_*) and the
# client (sent, received). A span is left out where a point is missing. INSIDE_B stands for
# the spans inside b, from the history alone.
CALLBACK_SPANS = [
    ("a. client -> update accepted (HTTP, Flask, RPC, workflow task)", "sent", "accepted"),
    ("   a. client -> its workflow task scheduled", "sent", "accepting scheduled"),
    ("   a. that task queued (scheduled -> started)", "accepting scheduled", "accepting started"),
    (
        "   a. that task in the worker (started -> completed)",
        "accepting started",
        "accepting completed",
    ),
    ("b. accepted -> completed (in the workflow)", "accepted", "completed"),
    INSIDE_B := ("   b. (each activity's run, the workflow tasks between them)", "", ""),
    ("c. completed -> client has the page (RPC, Flask, HTTP)", "completed", "received"),
    ("in-process: client -> Flask starts (HTTP, werkzeug)", "sent", "wsgi_start"),
    ("in-process: Flask before the Temporal call", "wsgi_start", "temporal_start"),
    ("in-process: update sent -> accepted", "temporal_start", "accepted"),
    ("in-process: completed -> result back in Flask", "completed", "temporal_end"),
    ("in-process: Flask after (refresh, render)", "temporal_end", "wsgi_end"),
    ("in-process: Flask done -> client has the page", "wsgi_end", "received"),
]


def inside_update(timeline: dict[str, float]) -> dict[str, float]:
    """Where the update's time went in the workflow: each activity's run, the tasks between."""
    if "accepted" not in timeline or "completed" not in timeline:
        return {}
    inside = {name: seconds for name, seconds in timeline.items() if name.startswith("run ")}
    inside["workflow tasks between them"] = (
        timeline["completed"] - timeline["accepted"] - timeline.get("activities", 0.0)
    )
    if timeline.get("tasks"):
        inside["   queued (scheduled -> started)"] = timeline["tasks queued"]
        inside["   in the worker (started -> completed)"] = timeline["tasks in worker"]
    return inside


def callback_breakdown(parts: Parts, results: list[CallbackResult]) -> dict[str, Summary]:
    """Median spans of one callback (CALLBACK_SPANS) from its workflow's history and, with
    --in-process, the web process's marks."""
    timed = [r for r in results if r.connected and not r.refreshes]
    timelines = parts.loop.run(
        gather([update_timeline(parts.client, r.workflow_id) for r in timed]), timeout=300
    )
    spans: dict[str, list[float]] = {}
    for result, timeline in zip(timed, timelines, strict=True):
        marks = (parts.marks.get(result.bench_id) if parts.marks else None) or {}
        points = {"sent": result.sent_at, "received": result.received_at, **timeline, **marks}
        for row in CALLBACK_SPANS:
            label, start, end = row
            if row is INSIDE_B:
                for name, seconds in inside_update(timeline).items():
                    spans.setdefault(f"   b. {name}", []).append(seconds)
            elif start in points and end in points:
                spans.setdefault(label, []).append(points[end] - points[start])
    return {name: Summary.of(values) for name, values in spans.items()}


# --- report ----------------------------------------------------------------------------------


async def task_counts(client: Client, workflow_ids: list[str]) -> dict[str, Counter]:
    """Per worker identity: workflow tasks completed and activity tasks started."""
    counts: dict[str, Counter] = {"workflow tasks": Counter(), "activity tasks": Counter()}
    gate = asyncio.Semaphore(16)

    async def one(workflow_id: str) -> None:
        async with gate:
            history = await client.get_workflow_handle(workflow_id).fetch_history()
        for event in history.events:
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
                identity = event.workflow_task_completed_event_attributes.identity
                counts["workflow tasks"][identity] += 1
            elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
                identity = event.activity_task_started_event_attributes.identity
                counts["activity tasks"][identity] += 1

    await asyncio.gather(*(one(w) for w in workflow_ids))
    return counts


# --- callbacks after eviction (figure 3) ------------------------------------------------------


async def accepting_task(client: Client, workflow_id: str) -> dict[str, Any]:
    """The workflow task that accepted the update: which queue it was scheduled on (the worker's
    sticky queue or the normal one), and how long it took in the worker (started -> completed,
    which includes a replay when the workflow had been evicted)."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    scheduled: dict[int, tuple[int, float]] = {}
    started: dict[int, float] = {}
    last: dict[str, Any] = {}
    for event in history.events:
        at = timestamp_seconds(event.event_time)
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
            queue_kind = event.workflow_task_scheduled_event_attributes.task_queue.kind
            scheduled[event.event_id] = (queue_kind, at)
        elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
            started[event.workflow_task_started_event_attributes.scheduled_event_id] = at
        elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            task = event.workflow_task_completed_event_attributes.scheduled_event_id
            queue_kind, _ = scheduled.get(task, (0, at))
            last = {
                "sticky": queue_kind == TaskQueueKind.TASK_QUEUE_KIND_STICKY,
                "in_worker": at - started.get(task, at),
            }
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            return {**last, "events_before": event.event_id}
    return {}
