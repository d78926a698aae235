"""`seatrial run -n 2` on the reference runtime: every item runs once, in one events file, with
the same matrix, summary and exit code as the serial run, and no worker leaves anything behind.

Run with a state root of its own (SEATRIAL_REFERENCE_ROOT) when other runs share the machine.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter

import pytest

from seatrial.engines.discovery import load_engines
from seatrial.harness.session import lock_dir, scratch_root

pytestmark = pytest.mark.root
SEATRIAL = [sys.executable, "-m", "seatrial.harness.cli"]
SUBSET = "isolation or storage"


def run(tmp_path, run_id: str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*SEATRIAL, "run", "--engine", "reference", "-k", SUBSET, "--json", "--run-id", run_id, *extra]
        + ["--results-dir", str(tmp_path / "results")],
        capture_output=True,
        text=True,
        timeout=900,
    )


def matrix(stderr: str) -> list[str]:
    """The matrix block and the counts line, as printed (progress lines come before it)."""
    lines = stderr.splitlines()
    start = next(i for i, line in enumerate(lines) if "scenario x engine" in line and "items" not in line)
    end = next(i for i, line in enumerate(lines) if re.match(r"^\d+ items?: ", line))
    return lines[start : end + 1]


def progress(stderr: str) -> list[tuple[str, str]]:
    return re.findall(r"^\[(\d+)/\d+\] (\S+) ", stderr, re.M)


def test_two_workers_run_every_item_once_as_a_serial_run_does(tmp_path):
    serial = run(tmp_path, "serial")
    parallel = run(tmp_path, "parallel", "-n", "2")
    assert parallel.returncode == serial.returncode == 0, parallel.stderr[-3000:]

    summary, expected = json.loads(parallel.stdout), json.loads(serial.stdout)
    plain = [{k: v for k, v in item.items() if k != "duration"} for item in summary["items"]]
    assert plain == [{k: v for k, v in item.items() if k != "duration"} for item in expected["items"]]
    assert summary["complete"] and summary["counts"] == expected["counts"]
    assert len(summary["items"]) >= 6, "the subset should give both workers work"

    # The same matrix, and one progress line per item, numbered 1..N whatever finished first.
    assert matrix(parallel.stderr) == matrix(serial.stderr)
    lines = progress(parallel.stderr)
    assert [int(n) for n, _ in lines] == list(range(1, len(summary["items"]) + 1))
    assert sorted(name for _, name in lines) == sorted(name for _, name in progress(serial.stderr))

    # One events file: one run_start and run_end, every item started and ended exactly once.
    records = [json.loads(line) for line in (tmp_path / "results" / "parallel" / "events.jsonl").open()]
    types = Counter(r["type"] for r in records)
    assert types["run_start"] == types["run_end"] == 1
    assert records[0]["type"] == "run_start" and records[-1]["type"] == "run_end"
    starts = Counter((r["scenario"], r["engine"]) for r in records if r["type"] == "item_start")
    ends = Counter((r["scenario"], r["engine"]) for r in records if r["type"] == "item_end")
    assert starts == ends and set(starts.values()) == {1} and len(starts) == len(summary["items"])
    assert [r["engine"] for r in records if r["type"] == "engine_check"] == ["reference"], "checked once"

    # Each worker had its own session; none left a lock, a scratch folder or a resource.
    end = records[-1]
    workers = end["workers"]
    assert end["leaks"] == {} and len(workers) == 2 and records[0]["session"] not in workers
    [engine] = load_engines(["reference"])
    for session in [records[0]["session"], *workers]:
        assert not (lock_dir() / f"{session}.lock").exists()
        assert not (scratch_root() / session).exists()
        assert engine.resources(f"seatrial.session={session}") == []


def test_parallel_run_refuses_benchmarks(tmp_path):
    proc = subprocess.run(
        [*SEATRIAL, "run", "--bench", "-n", "2", "--results-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "a benchmark must have the machine to itself" in proc.stderr
    assert not any(tmp_path.iterdir()), "nothing ran"
