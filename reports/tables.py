"""The report's content as rows: every renderer (HTML, Markdown, JSON) draws the same tables.

A section is a function from Results to a list of dict rows; more sections (such as the
per-claim table of `seatrial claims`) plug in by adding a function, not by editing renderers.
"""

from __future__ import annotations

from collections.abc import Callable

from seatrial.harness.claimcatalog import CLAIMS
from seatrial.reports import engineversions
from seatrial.reports.claimstable import BENCHMARK_CLAIMS
from seatrial.reports.results import Results, item_rows, kept_samples, latest_items
from seatrial.reports.stats import inconclusive, ratio_interval, summarize

# Worst first: a claim or a scenario shows the worst outcome any of its items had.
SEVERITY = ["error", "failed", "interrupted", "incomplete", "diverged", "skipped", "passed"]


def worst(outcomes) -> str:
    outcomes = list(outcomes)
    return next((o for o in SEVERITY if o in outcomes), "")


def matrix(results: Results) -> list[dict]:
    """Scenario x engine: outcome, reason and failing checks of the latest item of each."""
    latest = latest_items(results)
    rows = []
    for scenario, group in latest.groupby("scenario", sort=True):
        cells = {
            r.column: {
                "outcome": r.outcome,
                "reason": r.reason,
                "failed_checks": list(r.failed_checks),
                "warnings": list(r.warnings),
            }
            for r in item_rows(group)
        }
        rows.append(
            {
                "scenario": scenario,
                "file": group["file"].iloc[0],
                "claims": list(group["claims"].iloc[0]),
                "cells": cells,
            }
        )
    return rows


def claim_matrix(results: Results) -> list[dict]:
    """Claim x engine: the worst outcome among the scenarios checking the claim, and which."""
    latest = latest_items(results).explode("claims")
    rows = []
    for claim, group in latest.dropna(subset=["claims"]).groupby("claims", sort=True):
        cells = {
            column: {
                "outcome": _claim_outcome(str(claim), worst(g["outcome"])),
                "scenarios": sorted(set(g["scenario"])),
            }
            for column, g in group.groupby("column")
        }
        rows.append({"claim": claim, "title": CLAIMS.get(str(claim), ""), "cells": cells})
    return rows


def _claim_outcome(claim: str, outcome: str) -> str:
    """Benchmark claims (C04-C06) are never held or failed by a timing: a benchmark that ran is
    "measured", and the numbers are in the timing tables for the reader to judge."""
    return "measured" if claim in BENCHMARK_CLAIMS and outcome == "passed" else outcome


def divergences(results: Results) -> list[dict]:
    """Scenarios where engines disagree, each engine's outcome, reason and failing checks."""
    return [
        row
        for row in matrix(results)
        if len({c["outcome"] for c in row["cells"].values() if c["outcome"] != "skipped"}) > 1
        or any(c["outcome"] == "diverged" for c in row["cells"].values())
    ]


def environment(results: Results) -> list[dict]:
    """Each engine on each machine: versions, runtime, storage, cgroups, rootless."""
    rows = {}
    for run in results.runs:
        for e in run.engines:
            key = (run.host.get("hostname", ""), e.get("name"))
            rows[key] = {
                "host": key[0],
                "kernel": run.host.get("kernel", ""),
                "engine": e.get("name"),
                "client": e.get("client_version", ""),
                "server": e.get("server_version", ""),
                "runtime": e.get("oci_runtime", ""),
                "storage": e.get("storage_driver", ""),
                "cgroup": e.get("cgroup_version", ""),
                "rootless": bool(e.get("is_rootless")),
                "available": bool(e.get("is_available", True)),
            }
    return list(rows.values())


def counts_text(counts: dict) -> str:
    """'4 items: 3 held, 1 FAILED' from a run_end's counts by outcome, with the matrix's words."""
    from seatrial.harness.console import counts_line

    return counts_line([outcome for outcome, n in counts.items() for _ in range(n)]) if counts else ""


def runs(results: Results) -> list[dict]:
    return [
        {
            "run_id": r.run_id,
            "host": r.host.get("hostname", ""),
            "started": r.started,
            "complete": r.is_complete,
            "counts": r.counts,
        }
        for r in results.runs
    ]


def timings(results: Results, baseline: str | None = None) -> list[dict]:
    """Per scenario, metric and engine: the summary, and the ratio to the baseline engine (by
    default the runtime floor when it has samples of the metric, else the first engine)."""
    samples = kept_samples(results)
    floors = results.floors
    rows = []
    for (scenario, metric), group in samples.groupby(["scenario", "metric"], sort=True):
        by_column = {str(c): g["value"].to_numpy() for c, g in group.groupby("column", sort=False)}
        # Unless told otherwise, ratios are to the runtime floor where it ran: how far each engine is from it.
        floor = next((c for c in by_column if c.split("@")[0] in floors), None)
        base = baseline if baseline is not None and baseline in by_column else floor or next(iter(by_column))
        base_summary = summarize(by_column[base])
        for column, values in by_column.items():
            s = summarize(values)
            row = {
                "scenario": scenario,
                "metric": metric,
                "engine": column,
                "unit": group["unit"].iloc[0],
                "n": s.n,
                "median": s.median.estimate,
                "ci_low": s.median.low,
                "ci_high": s.median.high,
                "p90": s.p90,
                "p99": s.p99,
                "cv": s.cv,
                "outliers": len(s.outliers),
                "baseline": base,
                "warnings": s.warnings,
                "ratio": None,
                "ratio_low": None,
                "ratio_high": None,
            }
            if column != base:
                r = ratio_interval(values, by_column[base])
                row.update(ratio=r.estimate, ratio_low=r.low, ratio_high=r.high)
                row["warnings"] = row["warnings"] + [f"versus {base}: {w}" for w in inconclusive(s, base_summary)]
            rows.append(row)
    return rows


def baseline_heading(rows: list[dict], label: Callable[[str], str] = str) -> str:
    """The heading of the ratio column: "ratio to NAME" when every metric has the same baseline
    (NAME as `label` heads its column), else "ratio to baseline" (a runtime floor that ran some
    metrics only); then `baseline_mark` names each metric's baseline in its own row."""
    names = {r["baseline"] for r in rows}
    return f"ratio to {label(names.pop())}" if len(names) == 1 else "ratio to baseline"


def baseline_mark(row: dict, rows: list[dict]) -> str:
    """What the ratio cell of a baseline's own row says: nothing when the heading names it."""
    return "baseline" if row["engine"] == row["baseline"] and len({r["baseline"] for r in rows}) > 1 else ""


def metric_ratios(results: Results) -> list[dict]:
    """The ratios benchmark scenarios declare (C11 ordering, C15 saving, harness overhead)."""
    samples = kept_samples(results)
    rows = []
    for scenario, spec in sorted(results.benchmarks.items()):
        for ratio in spec.get("ratios", []):
            mine = samples[samples["scenario"] == scenario]
            for column, g in mine.groupby("column", sort=False):
                num = g[g["metric"] == ratio["numerator"]]["value"].to_numpy()
                den = g[g["metric"] == ratio["denominator"]]["value"].to_numpy()
                if len(num) and len(den):
                    r = ratio_interval(num, den)
                    rows.append(
                        {
                            "scenario": scenario,
                            "ratio": ratio["name"],
                            "engine": column,
                            "summary": ratio.get("summary") or "",
                            "estimate": r.estimate,
                            "low": r.low,
                            "high": r.high,
                        }
                    )
    return rows


def density(results: Results) -> list[dict]:
    """Containers up at once (the scenario's `containers` parameter) against time and memory."""
    rows = []
    for row in timings(results):
        params = results.benchmarks.get(row["scenario"], {}).get("params", {})
        if "containers" in params:
            rows.append({**row, "containers": params["containers"]})
    return sorted(rows, key=lambda r: (r["metric"], r["engine"], r["containers"]))


def history(results: Results) -> list[dict]:
    """Median of each metric and engine per run, in run order: drift and regressions over time."""
    samples = kept_samples(results)
    started = {r.run_id: r.started for r in results.runs}
    rows = [
        {
            "scenario": s,
            "metric": m,
            "engine": c,
            "run_id": run,
            "started": started.get(str(run), 0.0),
            "median": float(g["value"].median()),
            "unit": g["unit"].iloc[0],
            "version": str(g["version"].iloc[0] or ""),  # a host's engine upgraded between runs shows here
        }
        for (s, m, c, run), g in samples.groupby(["scenario", "metric", "column", "run_id"], sort=True)
    ]
    return sorted(rows, key=lambda r: (r["scenario"], r["metric"], r["engine"], r["started"]))


def across_versions(results: Results) -> list[dict]:
    """Each engine seen at more than one version or host: its claims and medians at each
    (engineversions.across_versions), oldest version first."""
    return engineversions.across_versions(results.items, results.samples)


SECTIONS = {
    "runs": runs,
    "environment": environment,
    "matrix": matrix,
    "claims": claim_matrix,
    "divergences": divergences,
    "timings": timings,
    "ratios": metric_ratios,
    "density": density,
    "history": history,
    "across_versions": across_versions,
}
