"""An engine adapter from outside seatrial's tree, registered only by its entry point, runs the
library: tests/fixtures/relay-engine is a package of its own (pyproject.toml with an entry point in
`seatrial.engines.v1`) whose adapter relays every call, through the public interface only, to the
Docker adapter. Installed onto a folder on PYTHONPATH with its dist-info (as an installer lays it
out), `seatrial engines` lists it, its functional check starts real containers, scenarios hold on
it and a scenario made to fail fails on it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from seatrial.engines.base import SESSION_LABEL
from seatrial.engines.docker import DockerEngine

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "tests" / "fixtures" / "relay-engine"
SEATRIAL = [sys.executable, "-m", "seatrial.harness.cli"]
# Scenarios that touch build cache, bind mounts, user-defined networks with names, and the
# adapter's declared documented_capabilities ({{ engine_default_caps }}).
SCENARIOS = ["cache-reuse", "bind-mount-shadowing", "user-network-names", "capabilities-seccomp"]


def docker_available() -> bool:
    return DockerEngine().info().is_available


pytestmark = [pytest.mark.root, pytest.mark.skipif(not docker_available(), reason="docker is not available here")]


def install(package: Path, site: Path) -> Path:
    """Lay `package` out in `site` as pip does for a pure-Python package: its modules, and a
    dist-info with METADATA and entry_points.txt, which is all importlib.metadata reads.
    (Building a wheel needs setuptools and wheel from an index, which a test must not reach.)"""
    project = tomllib.loads((package / "pyproject.toml").read_text())["project"]
    for module in tomllib.loads((package / "pyproject.toml").read_text())["tool"]["setuptools"]["py-modules"]:
        shutil.copy(package / f"{module}.py", site)
    dist_info = site / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n"
    )
    lines = [
        f"[{group}]\n" + "".join(f"{name} = {target}\n" for name, target in points.items())
        for group, points in project["entry-points"].items()
    ]
    (dist_info / "entry_points.txt").write_text("\n".join(lines))
    return site


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """The environment of a `seatrial` that finds the relay package on its path."""
    site = install(PACKAGE, tmp_path_factory.mktemp("site"))
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))}


def seatrial(*args, env, cwd: Path, timeout=900):
    return subprocess.run([*SEATRIAL, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def events_of(results: Path) -> list[dict]:
    [path] = results.glob("*/events.jsonl")
    return [json.loads(line) for line in path.read_text().splitlines()]


def left_in_docker(events: list[dict]) -> list:
    """What still carries the run's session label in Docker, where the relay put everything."""
    session = next(e for e in events if e["type"] == "run_start")["session"]
    return DockerEngine().resources(f"{SESSION_LABEL}={session}")


def test_seatrial_engines_lists_the_plugin_and_its_check_starts_real_containers(env, tmp_path):
    listed = seatrial("engines", "--json", "--quick", env=env, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    names = [e["name"] for e in json.loads(listed.stdout)]
    assert "relay" in names and "docker" in names
    # Without --quick the functional check builds, runs, networks and mounts through the adapter.
    checked = seatrial("engines", "--json", "--engine", "relay", env=env, cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    [relay] = json.loads(checked.stdout)
    assert (relay["name"], relay["status"], relay["broken"]) == ("relay", "available", {})
    assert relay["server_version"] and relay["oci_runtime"] == "runc"


def test_scenarios_hold_on_the_plugin_and_leave_nothing(env, tmp_path):
    proc = seatrial(
        "run", "--engine", "relay", "-k", " or ".join(SCENARIOS), "--results-dir", str(tmp_path), env=env, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    events = events_of(tmp_path)
    outcomes = {(e["scenario"], e["engine"]): e["outcome"] for e in events if e["type"] == "item_end"}
    assert outcomes == {(s, "relay"): "passed" for s in SCENARIOS}
    assert left_in_docker(events) == []


def test_a_scenario_made_to_fail_fails_on_the_plugin(env, tmp_path):
    proc = seatrial(
        "run",
        str(ROOT / "tests" / "e2e" / "fixtures" / "bad"),
        "--engine",
        "relay",
        "--results-dir",
        str(tmp_path),
        env=env,
        cwd=tmp_path,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "expected 'expected-output\\n', got 'actual-output\\n'" in proc.stdout
    outcomes = {e["scenario"]: e["outcome"] for e in events_of(tmp_path) if e["type"] == "item_end"}
    assert outcomes == {"echo": "passed", "must-fail": "failed"}
    assert left_in_docker(events_of(tmp_path)) == []
