"""The printed report of `bench/connections_scale.py`: its figures as a table."""

from __future__ import annotations

from typing import Any

from harness.parts import STAND_IN, TEMPORAL, WORKER


def _loads(values) -> str:
    return "/".join(f"{x:.2f}" for x in values)


def _rss(mb: dict[str, float]) -> str:
    return f"{mb[WORKER]:.1f} / {mb[TEMPORAL]:.1f}"


def _line(label: str, value: str) -> str:
    return f"  {label:<66} {value}"


def report(f: dict[str, Any]) -> None:
    n = f["connections"]
    cpu = f["round_cpu_s"]
    wall = f["round_wall_s"]
    checks = max(f["checks"], 1)
    rr = f["rss_round_mb"]
    sample = f["round_sample"]
    lr_n = f.get("long_run", {}).get("connections", 0)
    lines = [
        "",
        f"Connections scale bench: {n} ConnectionWorkflows, one worker (python worker.py), the"
        " Amazon stand-in (python -m sandbox), Temporal dev server (SQLite file, WAL)",
        f"  os.cpu_count() = {f['cpu_count']}; Python {f['python']}; load average (1/5/15 min)"
        f" before {_loads(f['load_before'])}, after the round {_loads(f['load_after_round'])},"
        f" at the end {_loads(f.get('load_end', f['load_after_round']))}",
        "",
        _line(
            f"{n + lr_n} real authorizations at the stand-in (s)",
            f"{f['authorize_s']:.1f}",
        ),
        _line(
            "start_workflow calls, wall (s); starts per second",
            f"{f['start_wall_s']:.1f}; {f['starts_per_s']:.1f}",
        ),
        _line(
            "start call p50 / p99 (ms)",
            f"{f['start_call']['p50']:.1f} / {f['start_call']['p99']:.1f}",
        ),
        "",
        f"  one round of health checks, every {f['check_every_s']} s (first checks spread over"
        " the first interval):",
        _line("round: first start -> every row checked (s)", f"{wall:.1f}"),
        _line("first look at the rows, after the starts (s)", f"{f['first_check_after_s']:.1f}"),
        _line(
            "checks at the stand-in during it (Sellers API calls / refresh grants)",
            f"{f['checks']} / {f['refresh_grants']}",
        ),
        _line(
            "checks per second over the round (all checks / its wall time)",
            f"{f['checks_per_s']:.1f}",
        ),
    ]
    for name in (WORKER, TEMPORAL, STAND_IN):
        seconds = cpu.get(name, float("nan"))
        lines.append(
            _line(
                f"CPU over the round: {name} (s; cores; ms per check)",
                f"{seconds:.1f}; {seconds / wall:.2f}; {seconds / checks * 1000:.1f}",
            )
        )
    start_cpu = f["start_cpu"]["cpu_ms_each"]
    lines.append(
        _line(
            "  of which the start calls: worker / Temporal server (CPU ms per start)",
            f"{start_cpu.get(WORKER, 0):.1f} / {start_cpu.get(TEMPORAL, 0):.1f}",
        )
    )
    v = f["verdicts"]
    lines += [
        _line(
            "worker cache: hits / misses (replays) / forced evictions",
            " / ".join(f"{f['cache'][k]:.0f}" for k in ("hits", "misses", "forced evictions")),
        ),
        _line(
            "rows checked / healthy, right after the round",
            f"{v['checked']} / {v.get('status healthy', 0)} of {v['rows']}",
        ),
    ]
    if "verdicts_end" in f:
        e = f["verdicts_end"]
        lines.append(
            _line(
                "rows checked / healthy at the end",
                f"{e['checked']} / {e.get('status healthy', 0)} of {e['rows']}",
            )
        )
    lines += [
        "",
        f"  per check, from {sample['histories']} histories read after the round"
        f" ({sample['checks_read']} checks): p50 / p99 (ms)",
    ]
    for key, label in (
        ("timer_late", "timer fired after it was due"),
        ("activity_queued", "check_connection queued (scheduled -> started)"),
        ("activity_run", "check_connection ran (refresh, Sellers API, row)"),
        ("check_whole", "timer fired -> next timer started"),
    ):
        s = sample[key]
        lines.append(_line(label, f"{s['p50']:.1f} / {s['p99']:.1f}"))
    lines += [
        "",
        "  history each connection keeps:",
        _line(
            "events / bytes per check (median)",
            f"{sample['events_per_check']:.0f} / {sample['bytes_per_check']:.0f}",
        ),
        _line(
            "events / bytes of a run after its first check (median)",
            f"{sample['events_now']:.0f} / {sample['bytes_now']:.0f}",
        ),
    ]
    if "long_run" in f:
        lr = f["long_run"]
        lines += [
            _line(
                f"runs to continue-as-new ({lr['connections']} connections), checks each",
                ", ".join(map(str, lr["checks_per_run"])),
            ),
            _line(
                "  events of the run just before continue-as-new",
                ", ".join(map(str, lr["run_events"])),
            ),
            _line(
                "  its history size (bytes, the server's count)",
                ", ".join(map(str, lr["run_bytes"])),
            ),
            _line(
                "  events before the first check's timer; events / bytes per check",
                f"{lr['events_to_first_timer']:.0f};"
                f" {lr['events_per_check']:.0f} / {lr['bytes_per_check']:.0f}",
            ),
        ]
    holding = f"{n} ConnectionWorkflows"
    lines += [
        "",
        "  RSS (MB): worker / Temporal server",
        _line("idle, before any workflow", _rss(f["rss_idle_mb"])),
    ]
    if "requests" in f:
        req, rq = f["requests"], f["rss_held_requests_mb"]
        holding += f" + {req['start_call']['n']} open ConnectionRequestWorkflows"
        lines += [
            _line(
                f"holding {req['start_call']['n']} open requests, before the connections,"
                f" median of {rq[WORKER]['n']}",
                f"{rq[WORKER]['median']:.1f} / {rq[TEMPORAL]['median']:.1f}",
            ),
            _line(
                "  their starts: wall (s); starts/s; then all waiting, worker idle after (s)",
                f"{req['start_wall_s']:.1f}; {req['starts_per_s']:.1f};"
                f" {req['settled_after_starts_s']:.1f}",
            ),
        ]
    rh = f["rss_held_after_round_mb"]
    w = rh[WORKER]["median"]
    lines += [
        _line(
            f"during the round, median of {rr[WORKER]['n']} samples",
            f"{rr[WORKER]['median']:.1f} / {rr[TEMPORAL]['median']:.1f}",
        ),
        _line("during the round, max", f"{rr[WORKER]['max']:.1f} / {rr[TEMPORAL]['max']:.1f}"),
        _line(
            f"after the round, median of {rh[WORKER]['n']}",
            f"{w:.1f} / {rh[TEMPORAL]['median']:.1f}"
            f"  (worker goal < 500: {'met' if w < 500 else 'not met'})",
        ),
        f"    (holding {holding})",
    ]
    print("\n".join(lines), flush=True)
