"""A worker's own counters, read from its Prometheus endpoint (`WORKER_METRICS_ADDRESS`)."""

from __future__ import annotations

import requests

# The small-cache worker's own count of its cache (WORKER_METRICS_ADDRESS, Prometheus text):
# workflow tasks that found their workflow in the cache or not (a miss is a replay from the
# whole history), and workflows pushed out to make room.
CACHE_METRICS = {
    "temporal_sticky_cache_hit": "hits",
    "temporal_sticky_cache_miss": "misses",
    "temporal_sticky_cache_total_forced_eviction": "forced evictions",
}


def cache_counts(metrics_address: str) -> dict[str, float]:
    """The worker's cache counters now, summed over their label sets."""
    text = requests.get(f"http://{metrics_address}/metrics", timeout=30).text
    counts = dict.fromkeys(CACHE_METRICS.values(), 0.0)
    for line in text.splitlines():
        name = line.split("{", 1)[0].split(" ", 1)[0]
        if name in CACHE_METRICS:
            counts[CACHE_METRICS[name]] += float(line.rsplit(" ", 1)[1])
    return counts
