"""Benchmarks in pytest-benchmark's JSON: seatrial writes what pytest-benchmark reads, and reads
what pytest-benchmark writes (with the raw times)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from seatrial.harness.cli import Exit, main
from seatrial.reports.results import kept_samples, load_results

RESULTS = Path(__file__).resolve().parent / "fixtures" / "results"


def exported(tmp_path) -> Path:
    assert main(["report", "-q", str(RESULTS / "machine-a"), "-o", str(tmp_path / "report")], out=io.StringIO()) == 0
    return tmp_path / "report" / "pytest-benchmark"


def test_pytest_benchmark_compare_reads_a_seatrial_run_one_row_per_engine(tmp_path):
    files = sorted(exported(tmp_path).glob("*.json"))
    assert [f.name for f in files] == ["docker.json", "podman.json"]
    proc = subprocess.run(
        [sys.executable, "-m", "pytest_benchmark", "compare", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "start-to-exit-none[docker]" in proc.stdout and "start-to-exit-none[podman]" in proc.stdout


def test_export_keeps_the_kept_samples_and_their_median(tmp_path):
    original = kept_samples(load_results([RESULTS / "machine-a"]))
    docker = json.loads((exported(tmp_path) / "docker.json").read_text())
    [bench] = [b for b in docker["benchmarks"] if b["name"] == "start-to-exit-none[docker]"]
    want = original[(original["column"] == "docker") & (original["metric"] == "start-to-exit-none")]
    assert sorted(bench["stats"]["data"]) == sorted(want["value"].tolist())
    assert bench["stats"]["median"] == pytest.approx(want["value"].median())
    assert docker["machine_info"]["seatrial_engine"] == "docker"


def test_a_pytest_benchmark_file_reads_back_as_the_same_samples(tmp_path):
    files = list(exported(tmp_path).glob("*.json"))
    again = kept_samples(load_results(files))
    original = kept_samples(load_results([RESULTS / "machine-a"]))
    original = original[original["unit"] == "s"]
    key = ["column", "scenario", "metric"]
    assert again.groupby(key)["value"].median().to_dict() == pytest.approx(
        original.groupby(key)["value"].median().to_dict()
    )


def test_compare_takes_pytest_benchmark_files_of_another_project(tmp_path):
    def saved(name: str, times: list[float]) -> Path:
        path = tmp_path / f"{name}.json"
        path.write_text(
            json.dumps(
                {
                    "machine_info": {"node": "ci"},
                    "commit_info": {},
                    "version": "5.2.3",
                    "datetime": "2026-11-30T10:00:00+00:00",
                    "benchmarks": [
                        {
                            "name": "test_parse",
                            "fullname": "tests/test_x.py::test_parse",
                            "group": None,
                            "stats": {"data": times},
                        }
                    ],
                }
            )
        )
        return path

    old = saved("0001_old", [0.010 + i * 1e-5 for i in range(30)])
    new = saved("0002_new", [0.020 + i * 1e-5 for i in range(30)])
    out = io.StringIO()
    assert main(["compare", "--json", str(old), str(new), "--fail-over", "10%"], out=out) == Exit.REGRESSION
    [row] = json.loads(out.getvalue())["rows"]
    assert row["scenario"] == "tests/test_x.py" and row["metric"] == "test_parse" and row["verdict"] == "REGRESSION"


def test_a_summary_without_raw_times_is_refused_with_the_option_that_keeps_them(tmp_path):
    path = tmp_path / "0001_summary.json"
    path.write_text(
        json.dumps(
            {
                "machine_info": {},
                "commit_info": {},
                "version": "5.2.3",
                "datetime": "",
                "benchmarks": [{"name": "test_a", "fullname": "t.py::test_a", "stats": {"median": 0.1, "rounds": 5}}],
            }
        )
    )
    out = io.StringIO()
    assert main(["report", str(path), "-o", str(tmp_path / "r")], out=out) == 2
    assert "--benchmark-save-data" in out.getvalue() and "test_a" in out.getvalue()
