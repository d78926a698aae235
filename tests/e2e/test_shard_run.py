"""`seatrial run --shard I/N` on a real engine: the parts together run the library once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.root
SEATRIAL = [sys.executable, "-m", "seatrial.harness.cli"]
LIBRARY = Path(__file__).resolve().parents[2] / "scenarios"


def items_of(shard: str, tmp_path) -> list[tuple[str, str]]:
    proc = subprocess.run(
        [
            *SEATRIAL,
            "run",
            "--engine",
            "reference",
            "--shard",
            shard,
            "--json",
            "--results-dir",
            str(tmp_path / "results"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return [(item["scenario"], item["engine"]) for item in json.loads(proc.stdout)["items"]]


def test_three_shards_run_every_scenario_once_and_merge(tmp_path):
    parts = [items_of(f"{i}/3", tmp_path) for i in (1, 2, 3)]
    scenarios = [s for part in parts for s, _ in part]
    assert len(scenarios) == len(set(scenarios)), "a scenario ran in two shards"
    assert all(parts), "a shard was empty"
    assert set(scenarios) == {p.stem for p in LIBRARY.rglob("*.yaml")}
    # The three results folders merge into one claims table: C26 (start-order) ran in one shard.
    runs = sorted(str(p) for p in (tmp_path / "results").iterdir())
    assert len(runs) == 3
    report = subprocess.run([*SEATRIAL, "claims", "--json", *runs], capture_output=True, text=True, timeout=120)
    assert report.returncode == 0, report.stderr
    cells = {c["claim"]: c["cells"]["reference"] for c in json.loads(report.stdout)["claims"]}
    assert cells["C26"]["status"] == "held" and cells["C26"]["scenarios"] == ["start-order"]
