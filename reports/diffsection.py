"""The HTML report's differential section: per `seatrial diff` run, the agreement table per
pair of engines, then each case where a pair differs, every difference side by side.

It reads only the saved diff.json (harness/differential/diffcommand.py writes it), never the
runner's objects, like every other part of the report.
"""

from __future__ import annotations

import json
from html import escape

from seatrial.reports.results import Results

VERDICT_CLASS = {"agree": "passed", "stale": "passed", "documented": "diverged", "diverged": "failed"}
VERDICT_LABEL = {
    "agree": "agree",
    "stale": "agree (stale reason)",
    "documented": "documented divergence",
    "diverged": "UNEXPLAINED divergence",
}
MAX_DIFFERENCES = 20


def section_differential(results: Results, out_dir=None) -> str | None:
    """The section's HTML, or None when these results hold no differential run."""
    if not results.diffs:
        return None
    return "".join(_run(diff) for diff in results.diffs)


def _run(diff: dict) -> str:
    rows = "".join(
        f"<tr><td>{escape(r['left'])} vs {escape(r['right'])}</td><td class=num>{r['cases']}</td>"
        f"<td class=num>{r['agree']}</td><td class=num>{r['documented']}</td>"
        f"<td class='num{' failed' if r['diverged'] else ''}'>{r['diverged']}</td><td class=num>{r['stale']}</td></tr>"
        for r in diff.get("table", [])
    )
    table = (
        "<table><tr><th>engines</th><th>cases</th><th>agree</th><th>documented</th>"
        f"<th>unexplained</th><th>stale reasons</th></tr>{rows}</table>"
    )
    cases = diff.get("cases", {})
    shown = [r for r in diff.get("results", []) if r["verdict"] in ("diverged", "documented", "stale")]
    shown.sort(key=lambda r: (r["verdict"] != "diverged", r["case"]))
    return (
        f"<h3>{escape(diff.get('path', 'diff'))}: {escape(', '.join(diff.get('columns', [])))}</h3>{table}"
        + "".join(_case(r, cases.get(r["case"], {})) for r in shown)
    )


def _case(result: dict, case: dict) -> str:
    verdict = result["verdict"]
    reason = f"<div class='reason'>{escape(result['reason'])}</div>" if result["reason"] else ""
    rows = "".join(
        f"<tr><td><code>{escape(d['aspect'])}</code></td><td>{_value(d['left'])}</td><td>{_value(d['right'])}</td></tr>"
        for d in result["differences"][:MAX_DIFFERENCES]
    )
    more = len(result["differences"]) - MAX_DIFFERENCES
    rows += f"<tr><td colspan=3>... and {more} more</td></tr>" if more > 0 else ""
    head = f"<tr><th>aspect</th><th>{escape(result['left'])}</th><th>{escape(result['right'])}</th></tr>"
    return (
        f"<h4 class='{VERDICT_CLASS[verdict]}'>{escape(result['case'])}: {VERDICT_LABEL[verdict]}"
        f" <span class='reason'>{escape(case.get('where', ''))}</span></h4>"
        f"<p>{escape(case.get('summary', ''))}</p>{reason}" + (f"<table>{head}{rows}</table>" if rows else "")
    )


def _value(value) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return f"<code>{escape(text[:600])}</code>"
