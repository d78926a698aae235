"""Markdown (a CI job summary), JUnit XML per engine and the JSON summary, from the same tables.

The JSON summary's shape is documented by reports/summary.schema.json (draft-07), and a test
validates every rendered summary against it.
"""
from __future__ import annotations

import json
from xml.etree import ElementTree as ET

from seatrial.reports import tables
from seatrial.reports.html import LABELS, _num
from seatrial.reports.results import Results, latest_items

SUMMARY_VERSION = 1


def render_markdown(results: Results, baseline: str | None = None) -> str:
    """Claims and scenarios by engine, divergences, and the timing medians with intervals."""
    columns = results.columns
    lines = ["# seatrial report", ""]
    for run in results.incomplete_runs:
        lines.append(f"> **Run {run.run_id} is incomplete** (no run_end record).")
    lines += ["", "## Conformance by claim", "", "| claim | " + " | ".join(columns) + " |",
              "|---|" + "---|" * len(columns)]
    for r in tables.claim_matrix(results):
        cells = [LABELS.get(r["cells"][c]["outcome"], "") if c in r["cells"] else "" for c in columns]
        lines.append(f"| {r['claim']} {r['title']} | " + " | ".join(cells) + " |")
    lines += ["", "## Scenario × engine", "", "| scenario | " + " | ".join(columns) + " |",
              "|---|" + "---|" * len(columns)]
    for r in tables.matrix(results):
        cells = [LABELS.get(r["cells"][c]["outcome"], "") if c in r["cells"] else "" for c in columns]
        lines.append(f"| {r['scenario']} | " + " | ".join(cells) + " |")
    found = tables.divergences(results)
    lines += ["", "## Divergences", ""] + (["none"] if not found else [
        f"- **{r['scenario']}**: " + "; ".join(f"{c}: {v['outcome']}" + (f" ({v['reason'][:160]})" if v["reason"] else "")
                                             for c, v in r["cells"].items()) for r in found])
    rows = tables.timings(results, baseline)
    if rows:
        lines += ["", "## Timings (median, 95% CI)", "", "| scenario | metric | engine | n | median | 95% CI | "
                  f"ratio to {rows[0]['baseline']} | warnings |", "|---|---|---|---|---|---|---|---|"]
        for r in rows:
            ratio = "" if r["ratio"] is None else f"{r['ratio']:.2f} ({r['ratio_low']:.2f}–{r['ratio_high']:.2f})"
            lines.append(f"| {r['scenario']} | {r['metric']} | {r['engine']} | {r['n']} | {_num(r['median'], r['unit'])} "
                         f"| {_num(r['ci_low'], r['unit'])} – {_num(r['ci_high'], r['unit'])} | {ratio} | "
                         f"{'; '.join(r['warnings'])} |")
    ratios = tables.metric_ratios(results)
    if ratios:
        lines += ["", "## Ratios", "", "| ratio | engine | estimate | 95% CI |", "|---|---|---|---|"]
        lines += [f"| {r['ratio']} | {r['engine']} | {r['estimate']:.3f} | {r['low']:.3f} – {r['high']:.3f} |" for r in ratios]
    return "\n".join(lines) + "\n"


def render_junit(results: Results) -> dict[str, str]:
    """One JUnit XML document per engine column: a testcase per scenario (latest run)."""
    out = {}
    latest = latest_items(results)
    for column, group in latest.groupby("column", sort=True):
        suite = ET.Element("testsuite", name=f"seatrial.{column}", tests=str(len(group)),
                           failures=str(int((group["outcome"].isin(["failed", "incomplete"])).sum())),
                           errors=str(int((group["outcome"].isin(["error", "interrupted"])).sum())),
                           skipped=str(int((group["outcome"] == "skipped").sum())))
        for r in group.sort_values("scenario").itertuples():
            case = ET.SubElement(suite, "testcase", classname=f"seatrial.{column}", name=r.scenario, file=r.file)
            detail = "\n".join([r.reason, *r.failed_checks]).strip()
            tag = {"failed": "failure", "incomplete": "failure", "error": "error", "interrupted": "error",
                   "skipped": "skipped"}.get(r.outcome)
            if r.outcome == "diverged":
                ET.SubElement(case, "properties").append(ET.Element("property", name="diverged", value=r.reason))
            elif tag:
                ET.SubElement(case, tag, message=(r.reason or r.outcome)[:500]).text = detail or None
        ET.indent(suite)
        out[column] = '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"
    return out


def summary(results: Results, baseline: str | None = None) -> dict:
    """The JSON summary (schema: reports/summary.schema.json)."""
    return {"version": SUMMARY_VERSION, "columns": results.columns,
            **{name: section(results) for name, section in tables.SECTIONS.items() if name != "timings"},
            "timings": tables.timings(results, baseline)}


def render_json(results: Results, baseline: str | None = None) -> str:
    return json.dumps(summary(results, baseline), indent=2, sort_keys=True, default=float) + "\n"
