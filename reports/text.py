"""Markdown (a CI job summary), JUnit XML per engine and the JSON summary, from the same tables.

The JSON summary's shape is documented by reports/summary.schema.json (draft-07), and a test
validates every rendered summary against it.
"""

from __future__ import annotations

import json
from xml.etree import ElementTree as ET

from seatrial.harness.claimcatalog import CLAIMS
from seatrial.reports import tables
from seatrial.reports.html import LABELS
from seatrial.reports.numbers import num as _num
from seatrial.reports.numbers import ratio as _ratio
from seatrial.reports.numbers import sig
from seatrial.reports.results import Results, latest_items

SUMMARY_VERSION = 1


def render_markdown(results: Results, baseline: str | None = None) -> str:
    """Claims and scenarios by engine, divergences, and the timing medians with intervals."""
    columns = results.columns
    headings = [results.label(c) for c in columns]
    lines = ["# seatrial report", ""]
    for run in results.incomplete_runs:
        lines.append(f"> **Run {run.run_id} is incomplete** (no run_end record).")
    lines += [
        "",
        "## Conformance by claim",
        "",
        "| claim | " + " | ".join(headings) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for r in tables.claim_matrix(results):
        cells = [LABELS.get(r["cells"][c]["outcome"], "") if c in r["cells"] else "" for c in columns]
        lines.append(f"| {r['claim']} {r['title']} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "## Scenario × engine",
        "",
        "| scenario | " + " | ".join(headings) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for r in tables.matrix(results):
        cells = [LABELS.get(r["cells"][c]["outcome"], "") if c in r["cells"] else "" for c in columns]
        lines.append(f"| {r['scenario']} | " + " | ".join(cells) + " |")
    warned = [
        (r["scenario"], c, w)
        for r in tables.matrix(results)
        for c, v in r["cells"].items()
        for w in v.get("warnings", [])
    ]
    if warned:  # an engine ignored part of what it was asked: the outcome alone does not say so
        lines += ["", "## Warnings", ""] + [f"- **{s}** on {c}: {w[:200]}" for s, c, w in warned]
    lines += _markdown_environment(results) + _markdown_across_versions(results)
    found = tables.divergences(results)
    lines += ["", "## Divergences", ""] + (
        ["none"]
        if not found
        else [
            f"- **{r['scenario']}**: "
            + "; ".join(
                f"{results.label(c)}: {v['outcome']}" + (f" ({v['reason'][:160]})" if v["reason"] else "")
                for c, v in r["cells"].items()
            )
            for r in found
        ]
    )
    rows = tables.timings(results, baseline)
    if rows:
        lines += [
            "",
            "## Timings (median, 95% CI)",
            "",
            f"| scenario | metric | engine | n | median | 95% CI | {tables.baseline_heading(rows, results.label)} "
            "| warnings |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in rows:
            ratio = _ratio(r["ratio"], r["ratio_low"], r["ratio_high"]) or tables.baseline_mark(r, rows)
            lines.append(
                f"| {r['scenario']} | {r['metric']} | {results.label(r['engine'])} | {r['n']} "
                f"| {_num(r['median'], r['unit'])} "
                f"| {_num(r['ci_low'], r['unit'])} – {_num(r['ci_high'], r['unit'])} | {ratio} | "
                f"{'; '.join(r['warnings'])} |"
            )
    ratios = tables.metric_ratios(results)
    if ratios:
        lines += ["", "## Ratios", "", "| ratio | engine | estimate | 95% CI |", "|---|---|---|---|"]
        lines += [
            f"| {r['ratio']} | {r['engine']} | {sig(r['estimate'])} | {sig(r['low'])} – {sig(r['high'])} |"
            for r in ratios
        ]
    return "\n".join(lines) + "\n"


def _markdown_environment(results: Results) -> list[str]:
    """Each engine on each machine with its versions: what the columns above ran."""
    rows = tables.environment(results)
    if not rows:
        return []
    lines = ["", "## Engines and machines", "", "| host | engine | version | client | runtime | cgroup | rootless |"]
    lines.append("|---|---|---|---|---|---|---|")
    lines += [
        f"| {r['host']} | {r['engine']} | {r['server']} | {r['client']} | {r['runtime']} | {r['cgroup']} "
        f"| {'yes' if r['rootless'] else 'no'} |"
        for r in rows
    ]
    return lines


def _markdown_across_versions(results: Results) -> list[str]:
    """One table per engine seen at several versions or hosts: its claims, then its medians."""
    lines = []
    for row in tables.across_versions(results):
        points = row["points"]
        lines += ["", f"## {row['engine']} across versions", "", "| claim or timing | " + " | ".join(points) + " |"]
        lines.append("|---|" + "---|" * len(points))
        for c in row["claims"]:
            cells = [LABELS.get(c["cells"].get(p, ""), "") for p in points]
            lines.append(f"| {c['claim']} {CLAIMS.get(c['claim'], '')} | " + " | ".join(cells) + " |")
        for t in row["timings"]:
            cells = [_num(t["medians"][p], t["unit"]) if p in t["medians"] else "" for p in points]
            lines.append(f"| {t['metric']} (median) | " + " | ".join(cells) + " |")
    return lines


# One JUnit flavour for `seatrial report` (junit-<engine>.xml) and `seatrial run --junitxml`:
# <testsuites> of one <testsuite> per engine column, a <testcase> per scenario with its duration.
# CI tools count diverged as skipped (a documented difference is not a pass), errors apart.
JUNIT_TAGS = {
    "failed": "failure",
    "incomplete": "error",
    "error": "error",
    "interrupted": "error",
    "skipped": "skipped",
    "diverged": "skipped",
}


def _junit_suite(column: str, group) -> ET.Element:
    tags = [JUNIT_TAGS.get(o) for o in group["outcome"]]
    suite = ET.Element(
        "testsuite",
        name=f"seatrial.{column}",
        tests=str(len(group)),
        failures=str(tags.count("failure")),
        errors=str(tags.count("error")),
        skipped=str(tags.count("skipped")),
        time=f"{float(group['duration'].sum()):.3f}",
    )
    for r in group.sort_values("scenario").itertuples():
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"seatrial.{column}",
            name=r.scenario,
            file=r.file,
            time=f"{float(r.duration):.3f}",
        )
        properties = ET.SubElement(case, "properties")
        properties.append(ET.Element("property", name="outcome", value=r.outcome))
        for warning in r.warnings:
            properties.append(ET.Element("property", name="warning", value=warning[:500]))
        tag = JUNIT_TAGS.get(r.outcome)
        if tag:
            reason = r.reason or r.outcome
            message = f"diverged: {reason}" if r.outcome == "diverged" else reason
            detail = "\n".join([r.reason, *r.failed_checks]).strip()
            ET.SubElement(case, tag, message=message[:500]).text = (detail or None) if tag != "skipped" else None
    return suite


def _junit_document(suites: list[ET.Element]) -> str:
    totals = {k: str(sum(int(s.attrib[k]) for s in suites)) for k in ("tests", "failures", "errors", "skipped")}
    seconds = f"{sum(float(s.attrib['time']) for s in suites):.3f}"
    root = ET.Element("testsuites", {"name": "seatrial", **totals, "time": seconds})
    root.extend(suites)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def render_junit(results: Results) -> dict[str, str]:
    """One JUnit XML document per engine column: a testcase per scenario (latest run)."""
    latest = latest_items(results)
    return {
        str(column): _junit_document([_junit_suite(str(column), group)])
        for column, group in latest.groupby("column", sort=True)
    }


def render_junit_all(results: Results) -> str:
    """Every engine column in one document (`seatrial run --junitxml`), the same structure."""
    latest = latest_items(results)
    return _junit_document([_junit_suite(str(column), group) for column, group in latest.groupby("column", sort=True)])


def summary(results: Results, baseline: str | None = None) -> dict:
    """The JSON summary (schema: reports/summary.schema.json)."""
    return {
        "version": SUMMARY_VERSION,
        "columns": results.columns,
        "labels": {c: results.label(c) for c in results.columns},
        **{name: section(results) for name, section in tables.SECTIONS.items() if name != "timings"},
        "timings": tables.timings(results, baseline),
    }


def render_json(results: Results, baseline: str | None = None) -> str:
    return json.dumps(summary(results, baseline), indent=2, sort_keys=True, default=float) + "\n"
