"""Reading results: one or many events.jsonl (runs, machines) merged into typed tables.

Reports read only these files, never the runner's objects (DESIGN.md, Runs, results). A run
without its `run_end` record is incomplete, and an item without `item_end` has the outcome
`incomplete`: shown as such, never guessed. Columns of the matrix are engines, or `engine@host`
when the results come from more than one machine, so that merged runs stay apart; an engine that
a run drove on another machine (`docker@vm1`, engines/remote.py) is always its own column.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from seatrial.reports.benchjson import is_pytest_benchmark, samples_of
from seatrial.reports.engineversions import column_labels, engine_version
from seatrial.reports.eventfiles import Runs, event_files, read_events

ITEM_COLUMNS = [
    "run_id",
    "host",
    "column",
    "scenario",
    "engine",
    "version",
    "claims",
    "file",
    "outcome",
    "reason",
    "failed_checks",
    "warnings",
    "time",
    "duration",
]
SAMPLE_COLUMNS = [
    "run_id",
    "host",
    "column",
    "scenario",
    "engine",
    "version",
    "metric",
    "round",
    "value",
    "unit",
    "warmup",
    "time",
]


@dataclass
class Run:
    """One run: where and when, which engines (their environment), and whether it finished."""

    run_id: str
    host: dict
    engines: list[dict]
    started: float
    is_complete: bool
    path: str
    counts: dict = field(default_factory=dict)


@dataclass
class Results:
    """Everything the renderers need, as plain tables."""

    runs: list[Run]
    items: pd.DataFrame  # one row per item (scenario x engine x run)
    samples: pd.DataFrame  # one row per benchmark sample, warm-ups included (flagged)
    benchmarks: dict[str, dict]  # scenario -> its benchmark spec (ratios, params)
    diffs: list[dict] = field(default_factory=list)  # `seatrial diff` runs (diff.json), oldest first
    labels: dict[str, str] = field(default_factory=dict)  # column -> heading with the version (engineversions)

    def label(self, column: str) -> str:
        """The heading of a column: `docker 26.1.5 @ debian13` with several hosts, else the column."""
        return self.labels.get(column, column)

    @property
    def columns(self) -> list[str]:
        seen = list(dict.fromkeys(self.items["column"])) if len(self.items) else []
        return seen + [c for c in dict.fromkeys(self.samples["column"]) if c not in seen]

    @property
    def floors(self) -> set[str]:
        """Engines that are a runtime floor (engines/bundle.py: their recorded info says
        extra.floor): the bare OCI runtime that timings are best compared with."""
        return {
            e.get("name", "") for run in self.runs for e in run.engines if (e.get("extra") or {}).get("floor") == "true"
        }

    @property
    def incomplete_runs(self) -> list[Run]:
        return [r for r in self.runs if not r.is_complete]


def find_diff_files(paths) -> list[Path]:
    """diff.json files (written by `seatrial diff`) named directly or found under folders."""
    found = [
        p
        for path in map(Path, paths)
        for p in (sorted(path.rglob("diff.json")) if path.is_dir() else [path] if path.name == "diff.json" else [])
    ]
    return list(dict.fromkeys(found))


def load_results(paths) -> Results:
    """Read and merge the events of every run found under `paths`, and the differential runs."""
    diffs = [json.loads(p.read_text()) | {"path": str(p)} for p in find_diff_files(paths)]
    files = [f for f in event_files(paths, Runs.ALL) if f.name != "diff.json"]
    if not files and not diffs:
        raise FileNotFoundError(f"no events.jsonl under {', '.join(map(str, paths))}")
    runs, items, samples, benchmarks = [], [], [], {}
    hosts = {}
    for path in files:
        if path.suffix == ".json":  # pytest-benchmark's format (reports/benchjson.py)
            run, rows = foreign_run(path)
            runs.append(Run(run["run_id"], run["host"], run["engines"], run["started"], True, run["path"]))
            hosts[run["run_id"]] = run["host"].get("hostname", "")
            versions = {e.get("name"): engine_version(e) for e in run["engines"]}
            samples += [{**r, "version": versions.get(r["engine"], "")} for r in rows]
            continue
        records = read_events(path)
        start = next((r for r in records if r["type"] == "run_start"), None)
        if start is None:
            continue
        host = start.get("host", {}).get("hostname", "")
        hosts[start["run_id"]] = host
        end = next((r for r in records if r["type"] == "run_end"), None)
        runs.append(
            Run(
                start["run_id"],
                start.get("host", {}),
                start.get("engines", []),
                start["time"],
                end is not None,
                str(path),
                (end or {}).get("counts", {}),
            )
        )
        versions = {e.get("name"): engine_version(e) for e in start.get("engines", [])}
        items += [{**row, "version": versions.get(row["engine"], "")} for row in _items(records, host)]
        samples += [
            {**{k: r.get(k) for k in SAMPLE_COLUMNS}, "host": host, "version": versions.get(r.get("engine"), "")}
            for r in records
            if r["type"] == "sample"
        ]
        for r in records:
            if r["type"] == "item_start" and r.get("benchmark") is not None:
                benchmarks[r["scenario"]] = r["benchmark"]
    many_hosts = len(set(hosts.values())) > 1
    for row in items + samples:
        # An engine on another machine is named `engine@host` by the run (engines/remote.py):
        # that is its column, and its host is that machine, not the one seatrial ran on.
        remote_host = (row["engine"] or "").partition("@")[2]
        if remote_host:
            row["host"] = remote_host
        row["column"] = row["engine"] if remote_host or not many_hosts else f"{row['engine']}@{row['host']}"
    runs.sort(key=lambda r: r.started)
    item_frame = pd.DataFrame(items, columns=ITEM_COLUMNS)
    sample_frame = pd.DataFrame(samples, columns=SAMPLE_COLUMNS)
    return Results(
        runs,
        item_frame,
        sample_frame,
        benchmarks,
        sorted(diffs, key=lambda d: d.get("time", 0)),
        column_labels([item_frame, sample_frame], many_hosts),
    )


def foreign_run(path: Path) -> tuple[dict, list[dict]]:
    """A pytest-benchmark JSON file as a run and its samples; anything else is a ValueError."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not readable as JSON ({exc}); give events.jsonl or pytest-benchmark JSON") from None
    if not is_pytest_benchmark(document):
        raise ValueError(f"{path}: neither events.jsonl nor pytest-benchmark JSON (machine_info, benchmarks, version)")
    return samples_of(path, document)


def _items(records: list[dict], host: str) -> list[dict]:
    """Items from item_start/step/item_end; an item that never ended is `incomplete`."""
    found: dict[tuple[str | None, str | None], dict] = {}  # (scenario, engine); records other than items have neither
    for r in records:
        key = (r.get("scenario"), r.get("engine"))
        if r["type"] == "item_start":
            found[key] = {
                "run_id": r["run_id"],
                "host": host,
                "scenario": key[0],
                "engine": key[1],
                "claims": list(r.get("claims", [])),
                "file": r.get("file", ""),
                "outcome": "incomplete",
                "reason": "the run ended before this item did",
                "failed_checks": [],
                "warnings": [],
                "time": r["time"],
                "duration": 0.0,
            }
        elif r["type"] == "step" and key in found:
            where = ", ".join(filter(None, (r["kind"], r.get("place"))))  # place: file:line, since 2026-11-30
            found[key]["failed_checks"] += [
                f"step {r['index'] + 1} ({where}): {c['what']}: expected {c['expected']}, got {c['actual']}"
                for c in r.get("checks") or []
                if not c["ok"]
            ]
        elif r["type"] == "warning" and key in found:  # the engine ignored something (runner.py)
            found[key]["warnings"].append(f"step {r['index'] + 1} ({r['kind']}): {r['message']}")
        elif r["type"] == "item_end" and key in found:
            found[key].update(
                outcome=r["outcome"], reason=r.get("reason", ""), duration=float(r.get("duration") or 0.0)
            )
    return list(found.values())


def latest_items(results: Results) -> pd.DataFrame:
    """Per scenario and column, the item of the latest run: what the matrix shows."""
    if results.items.empty:
        return results.items
    return results.items.sort_values("time").groupby(["scenario", "column"], as_index=False).last()


def item_rows(items: pd.DataFrame) -> Iterator[Any]:
    """The rows of an items frame as named tuples (DataFrame.itertuples), typed Any: pandas-stubs
    types every cell as a scalar, while items hold lists too (failed_checks, warnings)."""
    return items.itertuples()


def kept_samples(results: Results) -> pd.DataFrame:
    """Samples that statistics use: warm-ups left out."""
    s = results.samples
    return s[~s["warmup"].astype(bool)] if len(s) else s
