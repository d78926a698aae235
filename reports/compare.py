"""`seatrial compare OLD NEW`: benchmark medians of two runs, per metric and engine, with a gate.

A metric regressed when its median slowed by more than the gate AND the bootstrap interval of
new/old lies above 1: a slowdown the noise could explain is shown as inconclusive, not failed
(the machine is noisy; DESIGN.md says benchmarks are read with their intervals).
"""
from __future__ import annotations

import re
from typing import TextIO

from seatrial.reports.html import _num
from seatrial.reports.results import kept_samples, load_results
from seatrial.reports.stats import median_interval, ratio_interval


def parse_gate(text: str) -> float:
    """'10%' or '10' -> 0.10."""
    found = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*%?\s*", text)
    if not found:
        raise ValueError(f"--fail-over: '{text}' is not a percentage such as 10%")
    return float(found.group(1)) / 100


def compare(old_paths, new_paths, gate: float) -> list[dict]:
    """One row per (scenario, metric, engine) present in both: medians, ratio, verdict."""
    old, new = kept_samples(load_results(old_paths)), kept_samples(load_results(new_paths))
    keys = ["scenario", "metric", "column"]
    rows = []
    new_groups = {k: g for k, g in new.groupby(keys, sort=True)}
    for key, g_old in old.groupby(keys, sort=True):
        g_new = new_groups.get(key)
        if g_new is None:
            continue
        a, b = g_old["value"].to_numpy(), g_new["value"].to_numpy()
        r = ratio_interval(b, a)
        if r.estimate > 1 + gate and r.low > 1:
            verdict = "REGRESSION"
        elif r.estimate > 1 + gate:
            verdict = "inconclusive"
        elif r.estimate < 1 - gate and r.high < 1:
            verdict = "faster"
        else:
            verdict = "same"
        rows.append({"scenario": key[0], "metric": key[1], "engine": key[2], "unit": g_old["unit"].iloc[0],
                     "old": median_interval(a), "new": median_interval(b), "ratio": r, "verdict": verdict})
    return rows


def compare_command(old: str, new: str, fail_over: str, out: TextIO) -> int:
    """Print the comparison; 4 when any metric regressed past the gate, 2 on bad input, else 0."""
    try:
        gate = parse_gate(fail_over)
        rows = compare([old], [new], gate)
    except (ValueError, FileNotFoundError) as exc:
        print(f"compare: {exc}", file=out)
        return 2
    if not rows:
        print("compare: no benchmark metric is in both runs", file=out)
        return 2
    print(f"{'scenario/metric':40} {'engine':16} {'old median (95% CI)':32} {'new median (95% CI)':32} "
          f"{'new/old (95% CI)':20} verdict", file=out)
    for r in rows:
        o, n, q = r["old"], r["new"], r["ratio"]
        unit = r["unit"]
        print(f"{r['scenario'] + '/' + r['metric']:40} {r['engine']:16} "
              f"{_num(o.estimate, unit) + ' (' + _num(o.low, unit) + '–' + _num(o.high, unit) + ')':32} "
              f"{_num(n.estimate, unit) + ' (' + _num(n.low, unit) + '–' + _num(n.high, unit) + ')':32} "
              f"{f'{q.estimate:.2f} ({q.low:.2f}–{q.high:.2f})':20} {r['verdict']}", file=out)
    regressed = [r for r in rows if r["verdict"] == "REGRESSION"]
    print(f"{len(regressed)} regression(s) past the {gate:.0%} gate", file=out)
    return 4 if regressed else 0
