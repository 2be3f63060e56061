"""Latency figures: percentiles, a summary per series, and the report's table rows."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass


def percentile(ordered: list[float], q: float) -> float:
    """The q-th percentile of sorted values, linearly interpolated (numpy's default)."""
    if not ordered:
        return math.nan
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass
class Summary:
    """Latency figures in milliseconds."""

    n: int
    p50: float
    p99: float
    mean: float
    max: float

    @classmethod
    def of(cls, seconds: list[float]) -> Summary:
        ms = sorted(s * 1000 for s in seconds)
        if not ms:
            return cls(0, math.nan, math.nan, math.nan, math.nan)
        return cls(len(ms), percentile(ms, 50), percentile(ms, 99), statistics.fmean(ms), ms[-1])


def row(label: str, s: Summary, goal: str = "") -> str:
    """One line of a latency table: n, p50, p99, mean and max in milliseconds."""
    return (
        f"  {label:<58} {s.n:>5} {s.p50:>9.1f} {s.p99:>9.1f} {s.mean:>9.1f} {s.max:>9.1f}  {goal}"
    )


def header(title: str) -> list[str]:
    """A latency table's title and column heads, for `row`'s lines."""
    return [
        "",
        title,
        f"  {'':<58} {'n':>5} {'p50 ms':>9} {'p99 ms':>9} {'mean ms':>9} {'max ms':>9}",
    ]


def split(total: int, rounds: int) -> list[int]:
    """`total` in `rounds` near-equal parts, the larger ones first."""
    return [total // rounds + (1 if i < total % rounds else 0) for i in range(rounds)]
