"""A failed step no longer hides the steps after it that do not depend on it: `seatrial run` on a
real engine reports every independent failed check with its step and line, and says which
dependent step did not run and why (harness/dependence.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURE = Path(__file__).parent / "fixtures" / "independent" / "every-failure.yaml"
SEATRIAL = [sys.executable, "-m", "seatrial.harness.cli"]
ENGINES = ("reference", os.environ.get("SEATRIAL_E2E_ENGINE", "docker"))


def engine_available(name: str) -> bool:
    from seatrial.engines.discovery import load_engines

    try:
        return load_engines([name])[0].info().is_available
    except Exception:
        return False


@pytest.mark.root
@pytest.mark.parametrize("engine", ENGINES)
def test_every_independent_failure_is_reported_and_dependent_steps_are_named(engine, tmp_path):
    if not engine_available(engine):
        pytest.skip(f"{engine} is not available here")
    proc = subprocess.run(
        [*SEATRIAL, "run", str(FIXTURE), "--engine", engine, "--results-dir", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert f"step 1 (run, {FIXTURE}:4): stdout equals: expected 'expected-output\\n'" in out
    assert f"step 2 (run, {FIXTURE}:6): exit code: expected 3" in out
    assert f"step 4 (run, {FIXTURE}:9): stdout equals: expected 'something else\\n'" in out
    assert "step 3 did not run: it uses container 'idle', made by step 2, which failed" in out
    [events] = tmp_path.glob("*/events.jsonl")
    records = [json.loads(line) for line in events.read_text().splitlines()]
    assert [r["index"] for r in records if r["type"] == "step"] == [0, 1, 3, 4]
    assert [r["index"] for r in records if r["type"] == "step_hidden"] == [2]
    [end] = [r for r in records if r["type"] == "item_end"]
    assert end["outcome"] == "failed"  # not an error: the teardown left nothing behind
