"""The HTML report: one self-contained page (inline CSS, inline SVG plots, no script, no network).

Read top to bottom it answers, in order: did the runs finish; which engine passes what (by claim,
then by scenario, with reasons on hover and below); where engines disagree and why; on what
(environment); and how fast, with intervals and the warnings that say when not to conclude.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Collection
from html import escape

from seatrial.reports import plots, tables
from seatrial.reports.diffsection import section_differential
from seatrial.reports.numbers import num as _num
from seatrial.reports.numbers import ratio as _ratio
from seatrial.reports.numbers import sig
from seatrial.reports.results import Results

CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1200px;color:#222;padding:0 1em}
h1{font-size:1.6em}h2{margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #ddd;padding:3px 8px;vertical-align:top}
th{background:#f4f4f4;text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}
.passed{background:#d9f2d9}.failed,.error{background:#f8d0d0}.skipped{background:#fff3c4}
.diverged{background:#ead7f5}.incomplete,.interrupted{background:#e0e0e0}
.reason{font-size:.8em;color:#555;max-width:22em}.warn{color:#a15c00;font-size:.85em}
.banner{padding:.6em 1em;background:#fff3c4;border:1px solid #e0c060;margin:.5em 0}
.plots{display:flex;flex-wrap:wrap;gap:1em}.plots svg{max-width:100%;height:auto}
code{background:#f4f4f4;padding:0 3px}
.warning{color:#8a5a00;font-size:90%}
"""
LABELS = {
    "passed": "held",
    "failed": "FAILED",
    "error": "ERROR",
    "skipped": "skipped",
    "diverged": "diverged",
    "incomplete": "incomplete",
    "interrupted": "INTERRUPTED",
    "measured": "measured",
}


def _cell(cell: dict | None, extra: str = "") -> str:
    if cell is None:
        return "<td></td>"
    outcome = cell["outcome"]
    detail = cell.get("reason") or "; ".join(cell.get("failed_checks", [])) or extra
    shown = f'<div class="reason">{escape(detail[:240])}</div>' if detail and outcome != "passed" else ""
    # What the engine said it ignored (HEALTHCHECK in OCI format, say), whatever the outcome.
    warned = "".join(f'<div class="warning">warning: {escape(w[:240])}</div>' for w in cell.get("warnings", []))
    return f'<td class="{outcome}" title="{escape(detail)}"><b>{LABELS.get(outcome, outcome)}</b>{shown}{warned}</td>'


def _link(path: str, out_dir: str | None) -> str:
    if not path:
        return ""
    href = os.path.relpath(path, out_dir) if out_dir and os.path.isabs(path) else path
    return f'<a href="{escape(href)}">{escape(os.path.basename(path))}</a>'


def _table(headers: list[str], rows: list[list[str]], numeric: Collection[int] = frozenset()) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            (f'<td class="num">{c}</td>' if i in numeric else (c if c.startswith("<td") else f"<td>{c}</td>"))
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _code_spans(text: str) -> str:
    """Escaped text with `code spans` (claim titles: `RUN`, `CMD`) as <code>, not literal backticks."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", escape(text))


def _yes_no(value) -> str:
    return ("yes" if value else "no") if isinstance(value, bool) else str(value)


def section_runs(results: Results, out_dir) -> str:
    rows = [
        [
            escape(r["run_id"]),
            escape(r["host"]),
            time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(r["started"])),
            "complete" if r["complete"] else '<b class="warn">incomplete (no run_end)</b>',
            escape(tables.counts_text(r["counts"])),
        ]
        for r in tables.runs(results)
    ]
    banner = "".join(
        f'<div class="banner">Run {escape(r.run_id)} is incomplete: it has no end record '
        "(killed or still running); items without an end are shown as incomplete.</div>"
        for r in results.incomplete_runs
    )
    return banner + _table(["run", "host", "started (UTC)", "state", "items"], rows)


def section_claims(results: Results, out_dir) -> str:
    columns = results.columns
    rows = [
        [
            f"<b>{escape(r['claim'])}</b> {_code_spans(r['title'])}",
            *(
                _cell(r["cells"].get(c), "scenarios: " + ", ".join(r["cells"].get(c, {}).get("scenarios", [])))
                for c in columns
            ),
        ]
        for r in tables.claim_matrix(results)
    ]
    return _table(["claim", *map(results.label, columns)], rows)


def section_matrix(results: Results, out_dir) -> str:
    columns = results.columns
    rows = [
        [
            f"{_link(r['file'], out_dir)}<br><small>{escape(', '.join(r['claims']))}</small>",
            *(_cell(r["cells"].get(c)) for c in columns),
        ]
        for r in tables.matrix(results)
    ]
    return '<table id="matrix">' + _table(["scenario", *map(results.label, columns)], rows)[7:]


def section_divergences(results: Results, out_dir) -> str:
    found = tables.divergences(results)
    if not found:
        return "<p>Every engine that ran a scenario agrees on it.</p>"
    parts = []
    for r in found:
        cells = "".join(
            f'<td class="{c["outcome"]}"><b>{escape(results.label(col))}: {LABELS.get(c["outcome"], c["outcome"])}</b>'
            f'<div class="reason">{escape(c["reason"])}</div>'
            + "".join(f"<div><code>{escape(f)}</code></div>" for f in c["failed_checks"])
            + "</td>"
            for col, c in r["cells"].items()
        )
        parts.append(f"<h3>{_link(r['file'], out_dir)} ({escape(r['scenario'])})</h3><table><tr>{cells}</tr></table>")
    return "".join(parts)


def section_environment(results: Results, out_dir) -> str:
    keys = ["host", "kernel", "engine", "client", "server", "runtime", "storage", "cgroup", "rootless"]
    return _table(keys, [[escape(_yes_no(row[k])) for k in keys] for row in tables.environment(results)])


def section_timings(results: Results, out_dir, baseline: str | None = None) -> str:
    rows = tables.timings(results, baseline)
    if not rows:
        return "<p>No benchmark samples in these results (run <code>seatrial run --bench</code>).</p>"
    body = [
        [
            escape(r["scenario"]),
            escape(r["metric"]),
            escape(results.label(r["engine"])),
            str(r["n"]),
            _num(r["median"], r["unit"]),
            f"{_num(r['ci_low'], r['unit'])} – {_num(r['ci_high'], r['unit'])}",
            _num(r["p90"], r["unit"]),
            _num(r["p99"], r["unit"]),
            f"{r['cv']:.0%}",
            str(r["outliers"]),
            _ratio(r["ratio"], r["ratio_low"], r["ratio_high"]) or tables.baseline_mark(r, rows),
            "".join(f'<div class="warn">{escape(w)}</div>' for w in r["warnings"]),
        ]
        for r in rows
    ]
    table = _table(
        [
            "scenario",
            "metric",
            "engine",
            "n",
            "median",
            "95% CI of median",
            "p90",
            "p99",
            "CV",
            "outliers",
            f"{tables.baseline_heading(rows, results.label)} (95% CI)",
            "warnings",
        ],
        body,
        {3, 4, 5, 6, 7, 8, 9},
    )
    return table + '<div class="plots">' + "".join(plots.distributions(results).values()) + "</div>"


def section_ratios(results: Results, out_dir) -> str:
    rows = tables.metric_ratios(results)
    if not rows:
        return "<p>No declared ratios in these results.</p>"
    body = [
        [
            escape(r["ratio"]),
            escape(r["engine"]),
            sig(r["estimate"]),
            f"{sig(r['low'])} – {sig(r['high'])}",
            escape(r["summary"]),
        ]
        for r in rows
    ]
    return (
        _table(["ratio", "engine", "estimate", "95% CI", "what"], body, {2, 3})
        + '<div class="plots">'
        + plots.ratios(rows, "declared ratios (95% CI)", "estimate")
        + plots.ratios(tables.timings(results), "ratio to baseline engine (95% CI)", "ratio")
        + "</div>"
    )


def section_density(results: Results, out_dir) -> str:
    svg = plots.density_curve(tables.density(results))
    return svg or "<p>No density results (run <code>seatrial run --bench</code>; 50–200 with --bench-full).</p>"


def section_history(results: Results, out_dir) -> str:
    svg = plots.history(tables.history(results))
    shown = svg or "<p>History needs benchmark results from two runs or more.</p>"
    return shown + "".join(_across_versions(row) for row in tables.across_versions(results))


def _across_versions(row: dict) -> str:
    """One engine's claims and medians at each of its versions (and hosts), oldest first."""
    points = row["points"]
    body = [
        [
            f"<b>{escape(c['claim'])}</b>",
            *(_cell({"outcome": c["cells"][p]}) if p in c["cells"] else "" for p in points),
        ]
        for c in row["claims"]
    ] + [
        [escape(f"{t['metric']} (median)"), *(_num(t["medians"].get(p), t["unit"]) for p in points)]
        for t in row["timings"]
    ]
    return f"<h3>{escape(row['engine'])} across versions</h3>" + _table(["claim or timing", *points], body)


SECTIONS: list[tuple[str, str, Callable]] = [
    ("runs", "Runs", section_runs),
    ("claims", "Conformance by claim", section_claims),
    ("matrix", "Conformance by scenario × engine", section_matrix),
    ("divergences", "Divergences: where engines disagree", section_divergences),
    ("environment", "Engines and machines", section_environment),
    ("timings", "Timings", section_timings),
    ("ratios", "Ratios", section_ratios),
    ("density", "Density", section_density),
    ("history", "History across runs", section_history),
    ("differential", "Differential testing: the same Dockerfile on several engines", section_differential),
]


def render_html(
    results: Results, out_dir: str | None = None, *, baseline: str | None = None, generated: str = ""
) -> str:
    """The whole page as text."""
    parts = []
    for anchor, title, render in SECTIONS:
        content = render(results, out_dir, baseline) if anchor == "timings" else render(results, out_dir)
        if content is None:  # a section with nothing to show in any run (differential) is left out
            continue
        parts.append(f'<h2 id="{anchor}">{escape(title)}</h2>{content}')
    nav = " · ".join(f'<a href="#{a}">{escape(t)}</a>' for a, t, _ in SECTIONS if f'id="{a}"' in "".join(parts))
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>seatrial report</title>'
        f"<style>{CSS}</style></head><body><h1>seatrial report</h1><p>{escape(generated)}</p>"
        f"<nav>{nav}</nav>{''.join(parts)}</body></html>\n"
    )
