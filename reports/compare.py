"""`seatrial compare OLD NEW`: benchmark medians of two runs, per metric and engine, with a gate.

A metric regressed when its median slowed by more than the gate AND the bootstrap interval of
new/old lies above 1: a slowdown the noise could explain is shown as inconclusive, not failed
(the machine is noisy; DESIGN.md says benchmarks are read with their intervals).
"""

from __future__ import annotations

import json
import re
import sys
from typing import TextIO

from seatrial.reports.numbers import interval, ratio
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
        rows.append(
            {
                "scenario": key[0],
                "metric": key[1],
                "engine": key[2],
                "unit": g_old["unit"].iloc[0],
                "old": median_interval(a),
                "new": median_interval(b),
                "ratio": r,
                "verdict": verdict,
            }
        )
    return rows


WIDTH = 100  # the widest line compare prints: fits a terminal, a CI log, a review comment


def _row_json(r: dict) -> dict:
    o, n, q = r["old"], r["new"], r["ratio"]
    return {
        "scenario": r["scenario"],
        "metric": r["metric"],
        "engine": r["engine"],
        "unit": r["unit"],
        "old": {"median": o.estimate, "low": o.low, "high": o.high},
        "new": {"median": n.estimate, "low": n.low, "high": n.high},
        "ratio": {"estimate": q.estimate, "low": q.low, "high": q.high},
        "verdict": r["verdict"],
    }


def compare_lines(rows: list[dict], gate: float) -> list[str]:
    """The table, grouped by scenario/metric, one line per engine, no line wider than WIDTH."""
    cells = [
        (
            r["engine"],
            interval(r["old"].estimate, r["old"].low, r["old"].high, r["unit"]),
            interval(r["new"].estimate, r["new"].low, r["new"].high, r["unit"]),
            ratio(r["ratio"].estimate, r["ratio"].low, r["ratio"].high),
            r["verdict"],
        )
        for r in rows
    ]
    header = ("engine", "old median (95% CI)", "new median (95% CI)", "new/old (95% CI)", "verdict")
    widths = [max(len(c[i]) for c in [header, *cells]) for i in range(5)]
    fixed = 2 + sum(widths[1:]) + 2 * 4
    widths[0] = min(widths[0], max(8, WIDTH - fixed))

    def line(values) -> str:
        text = "  " + "  ".join(v[:w].ljust(w) for v, w in zip(values, widths))
        return text.rstrip()[:WIDTH]

    lines = [line(header)]
    group = None
    for r, c in zip(rows, cells):
        if (r["scenario"], r["metric"]) != group:
            group = (r["scenario"], r["metric"])
            lines.append(f"{r['scenario']}/{r['metric']}"[:WIDTH])
        lines.append(line(c))
    regressed = sum(r["verdict"] == "REGRESSION" for r in rows)
    lines.append(f"{regressed} regression{'' if regressed == 1 else 's'} past the {gate:.0%} gate")
    return lines


def compare_command(old: str, new: str, fail_over: str, out: TextIO, *, as_json: bool = False) -> int:
    """Print the comparison; 4 when any metric regressed past the gate, 2 on bad input, else 0."""
    try:
        gate = parse_gate(fail_over)
        rows = compare([old], [new], gate)
    except (ValueError, FileNotFoundError) as exc:
        print(f"compare: {exc}", file=sys.stderr if as_json else out)
        return 2
    if not rows:
        print("compare: no benchmark metric is in both runs", file=sys.stderr if as_json else out)
        return 2
    regressed = [r for r in rows if r["verdict"] == "REGRESSION"]
    if as_json:
        json.dump({"gate": gate, "regressions": len(regressed), "rows": [_row_json(r) for r in rows]}, out, indent=2)
        out.write("\n")
    else:
        for text in compare_lines(rows, gate):
            print(text, file=out)
    return 4 if regressed else 0
