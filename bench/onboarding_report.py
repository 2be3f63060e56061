"""The onboarding bench's report: its figures as JSON and as the table it prints."""

from __future__ import annotations

import statistics
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from harness.stats import Summary

if TYPE_CHECKING:
    from bench.onboarding import CallbackSet, Round


def round_json(r: Round) -> dict[str, Any]:
    return {
        "path": r.path,
        "workers": r.workers,
        "n": r.n,
        "ok": r.ok,
        "wall_s": r.wall,
        "per_s": r.rate,
        "latency_ms": asdict(r.latency),
        "failures": r.failures[:5],
        "failure_count": len(r.failures),
        "cpu": r.cpu.as_json(max(r.ok, 1)),
        "rss_mb": r.rss_mb,
    }


def callbacks_json(c: CallbackSet) -> dict[str, Any]:
    ok = [r for r in c.results if r.connected]
    tasks = [t for t in c.tasks if t]
    return {
        "label": c.label,
        "evicted": c.evicted,
        "concurrency": c.concurrency,
        "callback_ms": asdict(Summary.of([r.seconds for r in ok])),
        "connected": len(ok),
        "failures": [r.error for r in c.results if not r.connected][:5],
        "failure_count": sum(1 for r in c.results if not r.connected),
        "finishing_pages": sum(1 for r in c.results if r.refreshes),
        "accepting_task_sticky": sum(1 for t in tasks if t.get("sticky")),
        "accepting_task_normal": sum(1 for t in tasks if not t.get("sticky")),
        "accepting_task_in_worker_ms": asdict(Summary.of([t["in_worker"] for t in tasks])),
        "events_before_update": statistics.median([t["events_before"] for t in tasks])
        if tasks
        else None,
        "cpu": c.cpu.as_json(max(len(ok), 1)),
        "worker_cache_during_callbacks": c.cache,
    }


def summarise(figures: dict[str, Any], pairs: list[tuple[Round, Round]], web: list[Round]) -> None:
    def median(values: list[float]) -> float:
        return statistics.median(values) if values else float("nan")

    real = median([r.rate for r, _ in pairs])
    noop = median([n.rate for _, n in pairs])
    one = median([r.rate for r in web if r.workers == 1])
    two = median([r.rate for r in web if r.workers == 2])
    figures["medians"] = {
        "real_client_per_s": real,
        "noop_client_per_s": noop,
        "ratio_real_noop": real / noop,
        "round_ratios": [r.rate / n.rate for r, n in pairs],
        "web_1_worker_per_s": one,
        "web_2_workers_per_s": two,
        "ratio_web_noop": one / noop,
        "ratio_two_one": two / one,
    }


def report(f: dict[str, Any]) -> None:
    m = f["medians"]
    a = f["args"]
    ev = f["eviction"]
    lines = [
        "",
        "Onboarding bench: full onboardings per second, two workers, callbacks after eviction",
        f"  os.cpu_count() = {f['cpu_count']}; Python {f['python']}; load average (1/5/15 min):"
        + "; ".join(f" {k} {'/'.join(str(x) for x in v)}" for k, v in f["load"].items()),
        f"  --rounds {a['rounds']} x (--real-per-round {a['real_per_round']},"
        f" --noop-per-round {a['noop_per_round']}), --concurrency {a['concurrency']};"
        f" --web-rounds {a['web_rounds']} x 2 x --web-per-round {a['web_per_round']},"
        f" --web-concurrency {a['web_concurrency']}; --cache {a['cache']},"
        f" --fillers {a['fillers']}, --evicted-sellers {a['evicted_sellers']},"
        f" --cached-sellers {a['cached_sellers']}, --evict-concurrency {a['evict_concurrency']}",
        "",
        "1. Onboardings driven through the Temporal client (start, update submit_authorization,"
        " result)",
        f"  {'round':<8} {'real /s':>9} {'no-op /s':>9} {'ratio':>7}   real p50/p99 ms"
        "     no-op p50/p99 ms   failures real/no-op",
    ]
    for i, pair in enumerate(f["client_rounds"], 1):
        r, n = pair["real"], pair["noop"]
        lines.append(
            f"  {i:<8} {r['per_s']:>9.1f} {n['per_s']:>9.1f} {r['per_s'] / n['per_s']:>7.2f}"
            f"   {r['latency_ms']['p50']:>6.0f} / {r['latency_ms']['p99']:<6.0f}"
            f"     {n['latency_ms']['p50']:>6.0f} / {n['latency_ms']['p99']:<6.0f}"
            f"     {r['failure_count']} / {n['failure_count']}"
        )
    ratio = m["ratio_real_noop"]
    lines += [
        f"  median: real {m['real_client_per_s']:.1f} /s, no-op {m['noop_client_per_s']:.1f} /s,"
        f" ratio {ratio:.2f} (goal >= 0.5: {'MET' if ratio >= 0.5 else 'NOT MET'})",
        "  CPU per onboarding (ms), last round pair:",
    ]
    last = f["client_rounds"][-1]
    for path in ("real", "noop"):
        cpu = last[path]["cpu"]
        lines.append(
            f"    {path:<6} "
            + ", ".join(f"{k} {v:.1f}" for k, v in cpu["cpu_ms_each"].items())
            + "  (cores: "
            + ", ".join(f"{k} {v:.2f}" for k, v in cpu["cores"].items())
            + ")"
        )
    for failure in [x for p in f["client_rounds"] for x in p["real"]["failures"]][:3]:
        lines.append(f"    real failure: {failure}")
    lines += [
        "",
        "2. Full onboardings through the web app (send, invitation, landing, consent,"
        " callback, result)",
        f"  {'round':<8} {'workers':>7} {'ok/n':>9} {'per s':>7}  p50/p99 ms   RSS MB per worker"
        "   worker cores",
    ]
    for i, r in enumerate(f["web_rounds"], 1):
        rss = ", ".join(f"{k} {v:.0f}" for k, v in r["rss_mb"].items() if k.startswith("worker"))
        cores = ", ".join(
            f"{k} {v:.2f}" for k, v in r["cpu"]["cores"].items() if k.startswith("worker")
        )
        lines.append(
            f"  {i:<8} {r['workers']:>7} {r['ok']:>4}/{r['n']:<4} {r['per_s']:>7.2f}"
            f"  {r['latency_ms']['p50']:>5.0f}/{r['latency_ms']['p99']:<5.0f}  {rss}   {cores}"
        )
        for failure in r["failures"][:2]:
            lines.append(f"    failure: {failure}")
    lines.append(
        f"  median: 1 worker {m['web_1_worker_per_s']:.2f} /s, 2 workers"
        f" {m['web_2_workers_per_s']:.2f} /s (ratio {m['ratio_two_one']:.2f});"
        f" web / no-op client {m['ratio_web_noop']:.2f}"
    )
    for i, counts in enumerate(f.get("two_worker_tasks", []), 1):
        lines.append(
            f"  two-worker round {i}: "
            + "; ".join(
                f"{kind}: " + ", ".join(f"{who} {n}" for who, n in sorted(c.items()))
                for kind, c in counts.items()
            )
        )
    lines += [
        "",
        f"3. Callback -> Connected (GET /amazon/callback until the Connected page), worker"
        f" cache {ev['cache']}; {ev['fillers']} newer requests woke between the evicted sellers'"
        f" consent and their return; oldest code {ev['oldest_code_seconds']:.0f} s",
        f"  {'':<24} {'at once':>7} {'n':>4} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}"
        "  update's workflow task: in worker p50/p99 ms, sticky/normal queue",
    ]
    for s in ev["sets"]:
        c = s["callback_ms"]
        t = s["accepting_task_in_worker_ms"]
        goal = ""
        if s["evicted"]:
            goal = f"  goal p99 < 1000: {'MET' if c['p99'] < 1000 else 'NOT MET'}"
        lines.append(
            f"  {s['label']:<24} {s['concurrency']:>7} {c['n']:>4} {c['p50']:>8.1f}"
            f" {c['p99']:>8.1f} {c['max']:>8.1f}  {t['p50']:.1f}/{t['p99']:.1f},"
            f" {s['accepting_task_sticky']}/{s['accepting_task_normal']};"
            f" failures {s['failure_count']}, finishing {s['finishing_pages']}{goal}"
        )
        cores = s["cpu"]["cores"]
        lines.append("      cores: " + ", ".join(f"{k} {v:.2f}" for k, v in cores.items()))
        cache = s["worker_cache_during_callbacks"]
        lines.append(
            "      the worker's cache during the callbacks (its metrics): "
            + ", ".join(f"{k} {v:.0f}" for k, v in cache.items())
        )
    print("\n".join(lines), flush=True)
