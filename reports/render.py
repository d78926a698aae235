"""`seatrial report`: every renderer into one folder, each file written atomically."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import TextIO

from seatrial.reports.benchjson import export as export_benchmarks
from seatrial.reports.html import render_html
from seatrial.reports.results import Results, kept_samples, load_results
from seatrial.reports.text import render_json, render_junit, render_markdown


def write_atomically(path: Path, text: str) -> None:
    """Write beside the target, then rename: a reader (a CI uploader, a browser) never sees half."""
    temporary = path.with_name(f".{path.name}.tmp")
    with open(temporary, "w", encoding="utf-8") as stream:
        stream.write(text)
        stream.flush()
        os.fsync(stream.fileno())
    os.replace(temporary, path)


def render_all(
    paths, out_dir: Path, *, baseline: str | None = None, generated: str | None = None, results: Results | None = None
) -> list[Path]:
    """Render the results under `paths` (or `results`, already read) into `out_dir`; return the
    files written."""
    results = results if results is not None else load_results(paths)
    out_dir.mkdir(parents=True, exist_ok=True)
    generated = generated if generated is not None else time.strftime("rendered %Y-%m-%d %H:%M:%S UTC", time.gmtime())
    outputs = {
        "index.html": render_html(results, str(out_dir.resolve()), baseline=baseline, generated=generated),
        "summary.md": render_markdown(results, baseline),
        "summary.json": render_json(results, baseline),
    }
    for column, xml in render_junit(results).items():
        outputs[f"junit-{re.sub(r'[^A-Za-z0-9_.-]', '_', column)}.xml"] = xml
    for column, document in export_benchmarks(results, kept_samples(results)).items():
        outputs[f"pytest-benchmark/{re.sub(r'[^A-Za-z0-9_.-]', '_', column)}.json"] = document
    written = []
    (out_dir / "pytest-benchmark").mkdir(exist_ok=True)
    for name, text in outputs.items():
        write_atomically(out_dir / name, text)
        written.append(out_dir / name)
    return written


def report_command(
    paths: list[str],
    out_dir: str | None,
    baseline: str | None,
    out: TextIO,
    *,
    quiet: bool = False,
    github_summary: str | None = None,
) -> int:
    """Render; print what was written and which runs were incomplete. 2 when nothing to read.
    With `github_summary` (the file GitHub Actions names in $GITHUB_STEP_SUMMARY), the Markdown
    summary is appended to it too, so it shows on the workflow run's page."""
    try:
        results = load_results(paths)
    except (FileNotFoundError, ValueError) as exc:
        print(f"report: {exc}", file=out)
        return 2
    if baseline and baseline not in results.columns:
        print(
            f"report: --baseline {baseline!r} is not an engine in these results; "
            f"engines: {', '.join(results.columns) or 'none'}",
            file=out,
        )
        return 2
    written = render_all(paths, Path(out_dir or "results/report"), baseline=baseline, results=results)
    for path in written if not quiet else ():
        print(f"wrote {path}", file=out)
    if github_summary:
        markdown = next(p for p in written if p.name == "summary.md").read_text(encoding="utf-8")
        with open(github_summary, "a", encoding="utf-8") as summary:  # other steps' summaries stay
            summary.write(markdown if markdown.endswith("\n") else markdown + "\n")
        if not quiet:
            print(f"appended the summary to {github_summary} (GitHub step summary)", file=out)
    for run in results.incomplete_runs:
        unfinished = results.items[
            (results.items["run_id"] == run.run_id) & (results.items["outcome"] == "incomplete")
        ]["scenario"].tolist()
        print(
            f"incomplete: run {run.run_id} ({run.path}) has no run_end record (killed, or still running)"
            + (f"; unfinished items: {', '.join(unfinished)}" if unfinished else ""),
            file=out,
        )
    return 0
