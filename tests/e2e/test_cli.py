"""`seatrial run` end to end on a real engine: exit codes, the matrix, events.jsonl, cleanup,
and the reaper after a run killed with SIGKILL or interrupted with SIGINT."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
SEATRIAL = [sys.executable, "-m", "seatrial.harness.cli"]
ENGINE = os.environ.get("SEATRIAL_E2E_ENGINE", "docker")


def engine_available(name: str) -> bool:
    from seatrial.engines.discovery import load_engines

    try:
        return load_engines([name])[0].info().is_available
    except Exception:
        return False


pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(not engine_available(ENGINE), reason=f"{ENGINE} is not available here"),
]


def seatrial(*args, cwd: Path, timeout=600, **kwargs):
    return subprocess.run([*SEATRIAL, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, **kwargs)


def labelled(label: str) -> list[str]:
    """What carries `label` in the engine, through the adapter's own listing."""
    from seatrial.engines.discovery import load_engines

    return [f"{r.kind} {r.handle}" for r in load_engines([ENGINE])[0].resources(label)]


def events_of(results: Path) -> list[dict]:
    [path] = results.glob("*/events.jsonl")
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_run_with_a_failing_scenario_exits_1_and_records_both(tmp_path):
    proc = seatrial("run", str(FIXTURES / "bad"), "--engine", ENGINE, "--results-dir", str(tmp_path), cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "expected 'expected-output\\n', got 'actual-output\\n'" in proc.stdout
    # The failing step as its author counts it (the second), its kind and where it is written.
    assert f"step 2 (run, {FIXTURES / 'bad' / 'must-fail.yaml'}:6): stdout equals" in proc.stdout
    matrix = proc.stdout[proc.stdout.index("scenario x engine") :]
    assert "echo" in matrix and "held" in matrix
    assert "must-fail" in matrix and "FAILED" in matrix
    events = events_of(tmp_path)
    kinds = [e["type"] for e in events]
    assert kinds[0] == "run_start" and kinds[-1] == "run_end"
    outcomes = {e["scenario"]: e["outcome"] for e in events if e["type"] == "item_end"}
    assert outcomes == {"echo": "passed", "must-fail": "failed"}
    session = events[0]["session"]
    assert events[-1]["leaks"] == {}
    assert labelled(f"seatrial.session={session}") == []


def test_run_where_everything_holds_exits_0(tmp_path):
    proc = seatrial("run", str(FIXTURES / "good"), "--engine", ENGINE, "--results-dir", str(tmp_path), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "[1/1] echo[" in proc.stdout


def test_run_of_an_invalid_scenario_exits_2_and_touches_no_engine(tmp_path):
    proc = seatrial("run", str(FIXTURES / "invalid"), "--engine", ENGINE, "--results-dir", str(tmp_path), cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "typo.yaml:5:" in proc.stdout + proc.stderr
    assert "comand" in proc.stdout + proc.stderr
    assert not list(tmp_path.glob("*/events.jsonl"))


def test_unknown_engine_is_a_usage_error(tmp_path):
    proc = seatrial("run", str(FIXTURES / "good"), "--engine", "dockr", cwd=tmp_path)
    assert proc.returncode == 2
    assert "did you mean 'docker'" in proc.stdout + proc.stderr


def _start_and_wait_for_sleeper(tmp_path: Path) -> tuple[subprocess.Popen, str]:
    # As from a terminal, SIGINT at its default even when this suite runs as a background job
    # (whose shell ignores SIGINT; Python then installs no KeyboardInterrupt handler).
    proc = subprocess.Popen(
        [*SEATRIAL, "run", str(FIXTURES / "slow"), "--engine", ENGINE, "--results-dir", str(tmp_path)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        return _wait_for_sleeper(proc, tmp_path)
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        raise


def _wait_for_sleeper(proc: subprocess.Popen, tmp_path: Path) -> tuple[subprocess.Popen, str]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        events = list(tmp_path.glob("*/events.jsonl"))
        lines = events[0].read_text().splitlines() if events else []
        # The item has started (after the engine check, whose containers carry the session's
        # label too) and its container is up.
        if lines and any(json.loads(line).get("type") == "item_start" for line in lines[1:] if line.endswith("}")):
            session = json.loads(lines[0])["session"]
            if any(ref.startswith("container") for ref in labelled(f"seatrial.session={session}")):
                time.sleep(1.0)  # well inside the 60 s exec of the last step
                return proc, session
        time.sleep(0.5)
    raise AssertionError("the slow fixture never started its container")


def test_reaper_removes_what_a_run_killed_with_sigkill_left(tmp_path):
    proc, session = _start_and_wait_for_sleeper(tmp_path)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    left = labelled(f"seatrial.session={session}")
    assert {ref.split()[0] for ref in left} >= {"container", "network", "volume"}, left
    following = tmp_path / "next"
    following.mkdir()
    run = seatrial("run", str(FIXTURES / "good"), "--engine", ENGINE, "--results-dir", str(following), cwd=following)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "removed" in run.stdout and session in run.stdout, run.stdout
    assert labelled(f"seatrial.session={session}") == []


def test_interrupted_run_exits_130_and_leaves_nothing(tmp_path):
    proc, session = _start_and_wait_for_sleeper(tmp_path)
    os.kill(proc.pid, signal.SIGINT)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, output
    assert output.rstrip().splitlines()[-1].startswith("interrupted: the run stopped early"), output
    assert labelled(f"seatrial.session={session}") == []
    events = events_of(tmp_path)
    assert events[-1]["type"] == "run_end" and events[-1]["interrupted"] is True


def test_named_engine_that_is_not_installed_exits_3_with_how_to_install(tmp_path):
    env = {**os.environ, "SEATRIAL_PODMAN": "/nonexistent/podman"}
    proc = seatrial("run", str(FIXTURES / "good"), "--engine", "podman", cwd=tmp_path, env=env)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "/nonexistent/podman not found" in proc.stderr and "provision.sh" in proc.stderr


def test_engines_lists_versions_runtime_and_storage(tmp_path):
    proc = seatrial("engines", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    from seatrial.engines.discovery import load_engines

    info = load_engines([ENGINE])[0].info()
    row = next(line for line in proc.stdout.splitlines() if f" {ENGINE} " in line)
    for value in (info.server_version, info.oci_runtime, info.storage_driver):
        assert value in row


@pytest.mark.skipif(not engine_available("docker-buildkit"), reason="docker-buildkit is not available here")
def test_build_cache_of_an_earlier_run_never_leaks_into_a_first_build(tmp_path):
    """BuildKit keeps its cache after the images are removed: a scenario expecting a cold first
    build must still see one when the same scenario ran before."""
    scenario = Path(__file__).parents[2] / "scenarios" / "build" / "cache-reuse.yaml"
    for attempt in range(2):
        proc = seatrial(
            "run", str(scenario), "--engine", "docker-buildkit", "--results-dir", str(tmp_path), cwd=tmp_path
        )
        assert proc.returncode == 0, f"attempt {attempt}: " + proc.stdout + proc.stderr


def test_run_of_a_folder_outside_the_project_collects_its_build_subfolder(tmp_path):
    # pytest skips folders named build by default; only the project's own pyproject.toml lifts it.
    library = tmp_path / "library"
    for folder, name in (("build", "in-build"), ("dist", "in-dist"), ("", "at-top")):
        (library / folder).mkdir(parents=True, exist_ok=True)
        (library / folder / f"{name}.yaml").write_text((FIXTURES / "good" / "echo.yaml").read_text())
    proc = seatrial("run", str(library), "--engine", ENGINE, "--results-dir", str(tmp_path / "results"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    outcomes = {e["scenario"]: e["outcome"] for e in events_of(tmp_path / "results") if e["type"] == "item_end"}
    assert outcomes == {"in-build": "passed", "in-dist": "passed", "at-top": "passed"}


APP_SCENARIO = """\
schema_version: 1
summary: An app's own check, with no claim of the project's.
tags: [{tag}, app]
steps:
  - run: {{image: "{{{{ base }}}}", command: [echo, {tag}]}}
    expect: {{stdout: {{equals: "{tag}\\n"}}}}
"""


def test_own_scenarios_need_no_claim_are_selected_by_tag_and_stay_out_of_the_claims_table(tmp_path):
    library = tmp_path / "app"
    library.mkdir()
    for tag in ("web", "db"):
        (library / f"app-{tag}.yaml").write_text(APP_SCENARIO.format(tag=tag))
    results = tmp_path / "results"
    proc = seatrial("run", str(library), "-m", "web", "--engine", ENGINE, "--results-dir", str(results), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ends = [e for e in events_of(results) if e["type"] == "item_end"]
    assert [(e["scenario"], e["outcome"]) for e in ends] == [("app-web", "passed")]
    claims = seatrial("claims", str(results), cwd=tmp_path)
    assert claims.returncode == 0, claims.stderr
    assert "app-web" not in claims.stdout and "C08" in claims.stdout
