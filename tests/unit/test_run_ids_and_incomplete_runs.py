"""Faults around a run that need no engine: a reused run id, incomplete runs in `seatrial
report`, and the one-line reason of an engine that went away."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

from seatrial.engines.base import EngineInfo
from seatrial.harness.cli import Exit, main

RESULTS = Path(__file__).parent / "fixtures" / "results"
GOOD = Path(__file__).parents[1] / "e2e" / "fixtures" / "good"


def test_a_reused_run_id_is_refused_before_anything_runs(tmp_path):
    earlier = tmp_path / "results" / "nightly" / "events.jsonl"
    earlier.parent.mkdir(parents=True)
    earlier.write_text('{"type": "run_start", "run_id": "nightly", "time": 1}\n')  # killed: no run_end
    # `--engine reference` is never touched: the refusal comes before collection.
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "seatrial.harness.cli",
            "run",
            str(GOOD),
            "--engine",
            "reference",
            "--results-dir",
            str(tmp_path / "results"),
            "--run-id",
            "nightly",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == Exit.BAD_INPUT, proc.stdout + proc.stderr
    assert "run id 'nightly' is taken" in proc.stderr and "--run-id" in proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert earlier.read_text() == '{"type": "run_start", "run_id": "nightly", "time": 1}\n'


def test_report_lists_incomplete_runs_and_their_unfinished_items(tmp_path):
    out = io.StringIO()
    assert main(["report", str(RESULTS / "partial"), str(RESULTS / "full"), "-o", str(tmp_path)], out=out) == Exit.OK
    lines = [line for line in out.getvalue().splitlines() if line.startswith("incomplete:")]
    assert len(lines) == 1, out.getvalue()
    assert "has no run_end record" in lines[0] and "partial" in lines[0]
    assert "unfinished items: bind-mount" in lines[0]


class GoneEngine:
    name = "docker"

    def info(self):
        return EngineInfo(
            "docker",
            False,
            unavailable_reason=(
                "engine 'docker': the Docker daemon does not answer (Cannot connect to the Docker daemon\n"
                "at unix:///x.sock); start it"
            ),
        )


def test_an_engine_that_went_away_is_named_once_in_one_line():
    from seatrial.harness.availability import EngineHealth

    health = EngineHealth()
    reason = health.check(GoneEngine())
    assert reason == (
        "engine 'docker' became unavailable: the Docker daemon does not answer (Cannot "
        "connect to the Docker daemon at unix:///x.sock); start it"
    )
    assert health.reason(GoneEngine()) == reason


def test_a_run_id_taken_after_the_check_is_refused_when_the_events_file_is_made(tmp_path):
    import pytest

    from seatrial.harness.runstate import RunIdTaken, RunState

    taken = tmp_path / "results" / "nightly" / "events.jsonl"
    taken.parent.mkdir(parents=True)
    taken.write_text("")  # another run made it between --run-id's check and this run's start
    state = RunState(engines=[], results_dir=tmp_path / "results", run_id="nightly", log=lambda _: None)
    with pytest.raises(RunIdTaken, match="run id 'nightly' is taken"):
        state.start()
    state.finish()
    assert taken.read_text() == ""
    assert not list((tmp_path / "locks").glob("*.lock"))  # the session it started is closed
