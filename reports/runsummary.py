"""What `seatrial run` adds after its matrix, read back from the run's own events file:
the benchmark medians (`--bench`), the JUnit file (`--junitxml`) and the JSON summary (`--json`).

Read from events.jsonl like every report, so the numbers printed at the end of a run are the ones
`seatrial report` renders later, and the JUnit of a run is the report's JUnit.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TextIO

from seatrial.reports import tables
from seatrial.reports.numbers import interval, ratio, sig
from seatrial.reports.results import Results, item_rows, latest_items, load_results

WIDTH = 100


def benchmark_lines(results: Results, baseline: str | None = None) -> list[str]:
    """Medians with 95% intervals and ratios to the baseline engine, grouped by scenario/metric;
    then the ratios benchmarks declare. No line wider than WIDTH."""
    rows = tables.timings(results, baseline)
    declared = tables.metric_ratios(results)
    if not rows and not declared:
        return []
    lines = []
    if rows:
        header = ("engine", "n", "median (95% CI)", f"{tables.baseline_heading(rows)} (95% CI)", "CV")
        cells = [
            (
                r["engine"],
                str(r["n"]),
                interval(r["median"], r["ci_low"], r["ci_high"], r["unit"]),
                ratio(r["ratio"], r["ratio_low"], r["ratio_high"]) or tables.baseline_mark(r, rows),
                f"{r['cv']:.0%}",
            )
            for r in rows
        ]
        widths = [max(len(c[i]) for c in [header, *cells]) for i in range(5)]
        lines.append("benchmarks: median (95% CI)")
        lines.append(_line(header, widths))
        group = None
        for r, c in zip(rows, cells):
            if (r["scenario"], r["metric"]) != group:
                group = (r["scenario"], r["metric"])
                lines.append(f"{r['scenario']}/{r['metric']}"[:WIDTH])
            lines.append(_line(c, widths))
            lines += [f"    warning: {w}"[:WIDTH] for w in r["warnings"]]
    if declared:
        lines.append("declared ratios (95% CI)")
        for r in declared:
            lines.append(f"  {r['ratio']} [{r['engine']}]: {ratio(r['estimate'], r['low'], r['high'])}"[:WIDTH])
    return lines


def _line(values, widths) -> str:
    return ("  " + "  ".join(v.ljust(w) for v, w in zip(values, widths))).rstrip()[:WIDTH]


def run_summary(results: Results, events_path: Path) -> dict:
    """The run as JSON: id, events file, counts, every item with outcome, reason and duration,
    and (for benchmarks) the timing and ratio tables of the report's JSON summary."""
    items = latest_items(results)
    rows: list[dict[str, Any]] = (
        [
            {
                "scenario": r.scenario,
                "engine": r.engine,
                "outcome": r.outcome,
                "reason": r.reason,
                "duration": float(r.duration),
                "failed_checks": list(r.failed_checks),
                "warnings": list(r.warnings),
            }
            for r in item_rows(items.sort_values(["scenario", "engine"]))
        ]
        if len(items)
        else []
    )
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["outcome"]] = counts.get(r["outcome"], 0) + 1
    run = results.runs[0] if results.runs else None
    return {
        "run_id": run.run_id if run else "",
        "events": str(events_path),
        "complete": bool(run and run.is_complete),
        "counts": counts,
        "items": rows,
        "timings": tables.timings(results),
        "ratios": tables.metric_ratios(results),
    }


def after_run(
    events_path: Path, *, junitxml: str | None, show_benchmarks: bool, as_json: bool, console, out: TextIO
) -> None:
    """Write the JUnit file, print the benchmark table and/or the JSON summary of one run."""
    from seatrial.reports.render import write_atomically
    from seatrial.reports.text import render_junit_all

    results = load_results([events_path])
    if junitxml:
        path = Path(junitxml)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, render_junit_all(results))
    if show_benchmarks:
        for text in benchmark_lines(results):
            console.print(text, markup=False, highlight=False)
    if as_json:
        out.write(json.dumps(run_summary(results, events_path), indent=2, default=float) + "\n")


__all__ = ["after_run", "benchmark_lines", "run_summary", "sig"]
