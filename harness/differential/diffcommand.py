"""`seatrial diff`: run corpus cases on several engines (and recorded ones), judge every pair
against the baseline (the first column), print the divergences side by side and the agreement
table, and save the whole as `<results>/<run-id>/diff.json` for `seatrial report`.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from seatrial.harness.differential import recordings
from seatrial.harness.differential.corpuscase import Case, load_cases, load_engine_rules
from seatrial.harness.differential.divergence import PairResult, agreement_table, judge, table_markdown
from seatrial.harness.problem import ScenarioError


@dataclass
class DiffOptions:
    """What `seatrial diff` was asked for (cli.py fills it from the arguments)."""

    paths: list[Path]
    engines: list[str] = field(default_factory=list)
    use_recorded: bool = False
    record: bool = False
    match: str | None = None
    results_dir: Path = Path("results")
    as_json: bool = False
    markdown: bool = False


def diff_command(options: DiffOptions, out: TextIO) -> int:
    """Exit 0 when every pair agrees or differs for a documented reason, 1 on an unexplained
    divergence, 2 on bad input, 3 when an engine is unavailable."""
    log = sys.stderr if options.as_json else out
    try:
        cases = [c for c in load_cases(options.paths) if not options.match or options.match in c.name]
    except ScenarioError as exc:
        print(exc, file=sys.stderr)
        return 2
    if not cases:
        print(
            f"diff: no case in {', '.join(map(str, options.paths))}"
            + (f" matches {options.match!r}" if options.match else ""),
            file=sys.stderr,
        )
        return 2
    observations: dict[str, dict[str, Any]] = {c.name: {} for c in cases}
    columns: list[str] = []
    if options.use_recorded:
        for name, found in recordings.read_recorded(cases).items():
            observations[name].update(found)
        columns += recordings.recorded_engines(cases)
    versions: dict[str, str] = {}
    if options.engines:
        from seatrial.harness.differential.livebench import run_live

        code = run_live(cases, options.engines, observations, versions, log)
        if code:
            return code
        columns += list(options.engines)
    if len(columns) < 2 and not options.record:
        print("diff: give two engines or more (--engine, repeatable), or one with --recorded", file=sys.stderr)
        return 2
    if options.record:
        for path in recordings.write_recorded(cases, observations, versions):
            print(f"recorded {path}", file=log)
    rules = load_engine_rules(options.paths)
    results = [
        judge(case, columns[0], other, observations[case.name], rules) for case in cases for other in columns[1:]
    ]
    table = agreement_table(results)
    saved = save(options.results_dir, cases, columns, results, table, observations)
    if options.as_json:
        out.write(
            json.dumps({"columns": columns, "table": table, "results": [r.to_json() for r in results]}, indent=1) + "\n"
        )
    else:
        print_divergences(cases, results, out)
        out.write(table_markdown(table) if options.markdown else table_text(table))
        print(f"saved {saved}", file=out)
    return 1 if any(r.verdict == "diverged" for r in results) else 0


def save(
    results_dir: Path,
    cases: list[Case],
    columns: list[str],
    results: list[PairResult],
    table: list[dict],
    observations: dict,
) -> Path:
    """Write diff.json into a new run folder; the HTML report reads it (reports/diffsection.py)."""
    folder = Path(results_dir) / time.strftime("%Y%m%d-%H%M%S-diff", time.gmtime())
    folder.mkdir(parents=True, exist_ok=True)
    where = {c.name: {"where": c.where, "doc": c.doc, "summary": c.summary} for c in cases}
    doc = {
        "type": "diff",
        "time": time.time(),
        "columns": columns,
        "table": table,
        "cases": where,
        "results": [r.to_json() for r in results],
        # raw, as hyperfine keeps its times: anyone can judge again without the engines
        "observations": observations,
    }
    path = folder / "diff.json"
    path.write_text(json.dumps(doc, indent=1) + "\n")
    return path


def print_divergences(cases: list[Case], results: list[PairResult], out: TextIO) -> None:
    """Each pair that differs: the verdict, the case's place, and each difference side by side."""
    where = {c.name: c.where for c in cases}
    for result in results:
        if result.verdict not in ("diverged", "documented", "stale"):
            continue
        print(
            f"{result.verdict.upper()}: {result.case} ({where[result.case]}): {result.left} vs {result.right}", file=out
        )
        if result.reason:
            print(f"  reason: {result.reason}", file=out)
        for found in result.differences[:12]:
            print(
                f"  {found.aspect}:\n    {result.left}: {_short(found.left)}\n    {result.right}: {_short(found.right)}",
                file=out,
            )
        if len(result.differences) > 12:
            print(f"  ... and {len(result.differences) - 12} more differences", file=out)


def table_text(table: list[dict]) -> str:
    """The agreement table for a terminal."""
    rows = [("engines", "cases", "agree", "documented", "unexplained", "stale")]
    rows += [
        (
            f"{r['left']} vs {r['right']}",
            str(r["cases"]),
            str(r["agree"]),
            str(r["documented"]),
            str(r["diverged"]),
            str(r["stale"]),
        )
        for r in table
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "".join(
        "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths))) + "\n"
        for row in rows
    )


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 200 else text[:197] + "..."
