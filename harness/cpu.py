"""CPU and memory per process and thread, read from /proc."""

from __future__ import annotations

import contextlib
import logging
import math
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("bench")

_TICK = os.sysconf("SC_CLK_TCK")


def _cpu_of(stat: Path) -> tuple[str, float]:
    """(comm, user + system CPU seconds) from a /proc/<pid>[/task/<tid>]/stat file."""
    text = stat.read_text()
    comm = text[text.index("(") + 1 : text.rindex(")")]
    after = text[text.rindex(")") + 2 :].split()  # from field 3 (state) on
    return comm, (int(after[11]) + int(after[12])) / _TICK


# name -> (process CPU seconds, {tid: (thread label, CPU seconds)})
Snapshot = dict[str, tuple[float, dict[int, tuple[str, float]]]]


def cpu_snapshot(pids: dict[str, int]) -> Snapshot:
    found: Snapshot = {}
    for name, pid in pids.items():
        try:
            command, total = _cpu_of(Path(f"/proc/{pid}/stat"))
        except (OSError, ValueError, IndexError):
            continue
        threads: dict[int, tuple[str, float]] = {}
        for stat in Path(f"/proc/{pid}/task").glob("*/stat"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                tid = int(stat.parent.name)
                comm, seconds = _cpu_of(stat)
                label = "main thread" if tid == pid else comm
                threads[tid] = ("other threads" if label == command else label, seconds)
        found[name] = (total, threads)
    return found


ENDED = "threads that ended"


@dataclass
class CpuUse:
    """CPU over stretches of wall time, per process and, within each, per thread name.

    Python 3.11 does not name its threads for the kernel, so a process's threads other than
    the main one show as "other threads", except the Temporal SDK's native ones (tokio-*).
    Threads that ended during a stretch (werkzeug's one thread per request) are known only as
    the process's total minus its live threads.
    """

    wall: float = 0.0
    seconds: dict[str, float] = field(default_factory=dict)
    threads: dict[str, dict[str, float]] = field(default_factory=dict)

    @contextlib.contextmanager
    def measure(self, pids: dict[str, int]) -> Iterator[None]:
        before, wall = cpu_snapshot(pids), time.perf_counter()
        try:
            yield
        finally:
            after = cpu_snapshot(pids)
            self.wall += time.perf_counter() - wall
            for name, (total, threads) in after.items():
                if name not in before:
                    continue
                total_before, threads_before = before[name]
                spent = total - total_before
                self.seconds[name] = self.seconds.get(name, 0.0) + spent
                by_thread = self.threads.setdefault(name, {})
                live = 0.0
                for tid, (label, seconds) in threads.items():
                    delta = seconds - threads_before.get(tid, (label, 0.0))[1]
                    live += delta
                    by_thread[label] = by_thread.get(label, 0.0) + delta
                by_thread[ENDED] = by_thread.get(ENDED, 0.0) + max(spent - live, 0.0)

    def cores(self, name: str) -> float:
        return self.seconds.get(name, 0.0) / self.wall if self.wall else math.nan

    def describe(self, per: int, unit: str) -> list[str]:
        """One line per process: cores busy on average, CPU ms per `unit`, busiest threads."""
        if not self.wall:
            return ["    not measured"]
        lines = []
        for name, seconds in self.seconds.items():
            threads = sorted(self.threads.get(name, {}).items(), key=lambda kv: -kv[1])
            busiest = ", ".join(
                f"{label} {value / self.wall:.2f}" for label, value in threads[:4] if value > 0
            )
            lines.append(
                f"    {name:<26} {seconds / self.wall:5.2f} cores"
                f"  {seconds / max(per, 1) * 1000:6.1f} ms per {unit}   ({busiest})"
            )
        total = sum(self.seconds.values())
        lines.append(
            f"    {'all of them':<26} {total / self.wall:5.2f} cores"
            f"  {total / max(per, 1) * 1000:6.1f} ms per {unit}   (of {os.cpu_count()} cores)"
        )
        return lines

    def as_json(self, per: int) -> dict[str, Any]:
        return {
            "wall_seconds": self.wall,
            "cores": {name: self.cores(name) for name in self.seconds},
            "cpu_ms_each": {name: s / max(per, 1) * 1000 for name, s in self.seconds.items()},
            "thread_cores": {
                name: {label: s / self.wall for label, s in threads.items()}
                for name, threads in self.threads.items()
            }
            if self.wall
            else {},
        }


# --- child processes ---------------------------------------------------------------------------


def at_rest(pids: dict[str, int], seconds: float) -> CpuUse:
    """CPU while nothing is asked of any part: what each uses by itself."""
    log.info("CPU at rest: %.0f s with nothing asked of any part", seconds)
    rest = CpuUse()
    with rest.measure(pids):
        time.sleep(seconds)
    return rest


def rss_mb(pid: int) -> float:
    """VmRSS of a process in MB (10^6 bytes), from /proc/<pid>/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024 / 1e6
    return float("nan")
