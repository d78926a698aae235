"""What `seatrial run` prints and writes besides its matrix, on the reference runtime (fast, no
daemon): the benchmark table at the end of `--bench`, one JUnit flavour (`--junitxml` as
`seatrial report` writes it), and the JSON summary (`--json`) alone on stdout."""

from __future__ import annotations

import json
import os
import re
from xml.etree import ElementTree as ET

import pytest
from test_cli import FIXTURES, engine_available, seatrial

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(not engine_available("reference"), reason="reference is not available here"),
]


def test_run_bench_ends_with_medians_intervals_and_ratios(tmp_path):
    proc = (
        seatrial(
            "run",
            "--bench",
            str(FIXTURES / "bench"),
            "--engine",
            "reference",
            "--engine",
            "docker",
            "--results-dir",
            str(tmp_path),
            cwd=tmp_path,
        )
        if engine_available("docker")
        else None
    )
    if proc is None:
        pytest.skip("docker is not available here: a ratio needs two engines")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    table = proc.stdout[proc.stdout.index("benchmarks: median (95% CI)") :]
    assert "quick-start/start-to-exit-none" in table
    docker = next(line for line in table.splitlines() if line.strip().startswith("docker"))
    # n, a median with its interval and unit, and the ratio to reference with its interval
    assert re.search(r"docker\s+5\s+[\d.]+ \([\d.]+–[\d.]+\) m?s\s+[\d.]+ \([\d.]+–[\d.]+\)", docker), docker
    assert "1 item" not in proc.stdout.splitlines()[0] and "2 items" in proc.stdout.splitlines()[0]
    assert "2 items: 2 held" in proc.stdout


def test_run_junitxml_is_the_report_junit_and_json_is_alone_on_stdout(tmp_path):
    from seatrial.engines import base
    from seatrial.engines.reference.adapter import ReferenceEngine

    root = tmp_path / "reference-root"  # private, with a dead session's volume for the reaper to say it removed
    ReferenceEngine(root).volume_create(base.VolumeSpec("left", labels={"seatrial.session": "deadbeef"}))
    junit = tmp_path / "junit.xml"
    proc = seatrial(
        "run",
        str(FIXTURES / "good"),
        "--engine",
        "reference",
        "--results-dir",
        str(tmp_path / "r"),
        "--junitxml",
        str(junit),
        "--json",
        cwd=tmp_path,
        env={**os.environ, "SEATRIAL_REFERENCE_ROOT": str(root)},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "deadbeef" in proc.stderr  # the reaper's line, kept off stdout
    summary = json.loads(proc.stdout)
    [item] = summary["items"]
    assert (item["scenario"], item["engine"], item["outcome"]) == ("echo", "reference", "passed")
    assert item["duration"] > 0 and "scenario x engine" in proc.stderr
    report = seatrial("report", summary["events"], "-o", str(tmp_path / "report"), cwd=tmp_path)
    assert report.returncode == 0, report.stdout + report.stderr
    from_run = ET.parse(junit).getroot()
    from_report = ET.parse(tmp_path / "report" / "junit-reference.xml").getroot()
    assert ET.tostring(from_run) == ET.tostring(from_report)
    [case] = from_run.iter("testcase")
    assert float(case.get("time")) == pytest.approx(item["duration"], abs=0.001)
