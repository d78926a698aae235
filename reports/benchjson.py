"""Benchmark samples in pytest-benchmark's JSON format, written and read.

Written: `seatrial report` saves one file per engine column under `pytest-benchmark/`, each a
complete pytest-benchmark document (machine_info, commit_info, benchmarks with their stats and
raw `data`), so `pytest-benchmark compare report/pytest-benchmark/*.json` and its histograms work
on a seatrial run: one group per scenario and metric, one row per engine. The statistics are
pytest-benchmark's own (its Stats class), computed from the same samples seatrial keeps; only
seconds are written (image sizes and memory are not times). seatrial's own tables stay the better
reading: they interleave engines round by round and give intervals of the median.

Read: `seatrial report` and `seatrial compare` accept pytest-benchmark JSON files saved by other
projects (with `--benchmark-json`, or `--benchmark-save-data`: the raw times are needed, since an
interval cannot be computed from a summary). Each benchmark becomes a metric of a scenario named
by its test file; the column is the engine written in machine_info, else "pytest-benchmark".
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pandas as pd
from pytest_benchmark import __version__ as PYTEST_BENCHMARK_VERSION
from pytest_benchmark.stats import Stats

FOREIGN_COLUMN = "pytest-benchmark"


def is_pytest_benchmark(document: object) -> bool:
    """Whether a parsed JSON document is pytest-benchmark's (its three top-level keys)."""
    return isinstance(document, dict) and {"machine_info", "benchmarks", "version"} <= document.keys()


def export(results, kept: pd.DataFrame) -> dict[str, str]:
    """One pytest-benchmark document (as text) per column, from the kept (non-warm-up) samples."""
    documents: dict[str, str] = {}  # pandas types group keys loosely: the columns hold strings
    times = kept[kept["unit"] == "s"] if len(kept) else kept
    for column, samples in times.groupby("column", sort=True) if len(times) else ():
        run_ids = sorted(set(samples["run_id"]))
        runs = [r for r in results.runs if r.run_id in run_ids]
        engine: dict = next((e for r in runs for e in r.engines if e.get("name") == samples["engine"].iloc[0]), {})
        host = runs[-1].host if runs else {}
        benchmarks = [
            _benchmark(str(column), str(scenario), str(metric), group, results.benchmarks.get(scenario, {}))
            for (scenario, metric), group in samples.groupby(["scenario", "metric"], sort=True)
        ]
        started = runs[-1].started if runs else 0.0
        documents[str(column)] = (
            json.dumps(
                {
                    "machine_info": {
                        "node": host.get("hostname", ""),
                        "machine": host.get("machine", ""),
                        "system": "Linux",
                        "release": host.get("kernel", ""),
                        "cpu": {"count": host.get("cpus")},
                        "python_version": host.get("python", ""),
                        "seatrial_engine": column,
                        "seatrial_engine_info": engine,
                    },
                    "commit_info": {
                        "id": ",".join(run_ids),
                        "time": None,
                        "author_time": None,
                        "dirty": False,
                        "project": "seatrial",
                        "branch": None,
                    },
                    "benchmarks": benchmarks,
                    "datetime": datetime.fromtimestamp(started).astimezone().isoformat(),
                    "version": PYTEST_BENCHMARK_VERSION,
                },
                indent=2,
            )
            + "\n"
        )
    return documents


def _benchmark(column: str, scenario: str, metric: str, samples: pd.DataFrame, spec: dict) -> dict:
    stats = Stats()
    for value in samples.sort_values("round")["value"]:
        stats.update(float(value))
    summary = stats.as_dict()
    summary.update(data=list(stats.data), iterations=1)
    return {
        "group": f"{scenario} {metric}",
        "name": f"{metric}[{column}]",
        "fullname": f"{scenario}::{metric}[{column}]",
        "params": spec.get("params") or None,
        "param": None,
        "extra_info": {"seatrial": {"scenario": scenario, "metric": metric, "engine": column, "unit": "s"}},
        "options": {"timer": "time.perf_counter", "rounds": stats.rounds},
        "stats": summary,
    }


def samples_of(path: Path, document: dict) -> tuple[dict, list[dict]]:
    """A pytest-benchmark document as a run record and sample rows (the columns of
    results.SAMPLE_COLUMNS). A benchmark saved without its raw times is a ValueError that says
    which option keeps them."""
    machine = document.get("machine_info") or {}
    column = machine.get("seatrial_engine") or FOREIGN_COLUMN
    host = machine.get("node", "")
    started = _timestamp(document.get("datetime"))
    run_id = f"pytest-benchmark:{path.stem}"
    rows = []
    for bench in document["benchmarks"]:
        stats = bench.get("stats") or {}
        data = stats.get("data")
        if not data:
            raise ValueError(
                f"{path}: benchmark {bench.get('fullname') or bench.get('name')!r} has no raw times "
                "(stats.data); save with pytest --benchmark-json PATH or --benchmark-save-data"
            )
        own = (bench.get("extra_info") or {}).get("seatrial") or {}
        scenario = own.get("scenario") or str(bench.get("fullname", bench.get("name", ""))).split("::")[0]
        metric = own.get("metric") or bench.get("name", "")
        rows += [
            {
                "run_id": run_id,
                "host": host,
                "column": column,
                "scenario": scenario,
                "engine": column,
                "metric": metric,
                "round": n,
                "value": float(v),
                "unit": "s",
                "warmup": False,
                "time": started,
            }
            for n, v in enumerate(data)
        ]
    run = {
        "run_id": run_id,
        "host": {"hostname": host},
        "engines": [machine.get("seatrial_engine_info") or {}],
        "started": started,
        "path": str(path),
    }
    return run, rows


def _timestamp(text: object) -> float:
    try:
        return datetime.fromisoformat(str(text)).timestamp()
    except ValueError:
        return 0.0
