"""SIGKILL during a reference RUN step leaves a layer that no image references (the first RUN's,
committed before the build was killed): the next run, or `seatrial clean`, removes it.

The reference runtime runs on a private state root (SEATRIAL_REFERENCE_ROOT), so that the layer
store holds this test's layers only and other sessions' builds are never judged.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from test_cli import FIXTURES, SEATRIAL, engine_available, seatrial

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(not engine_available("reference"), reason="reference is not available here"),
]


def orphans(root: Path) -> set[str]:
    """Layers in the store that no image references (none while the store is being made)."""
    if not (root / "layers").is_dir() or not (root / "images").is_dir():
        return set()
    referenced = {
        layer[7:]
        for path in (root / "images").glob("*.json")
        if path.name != "tags.json"
        for layer in json.loads(path.read_text())["layers"]
    }
    return {p.name for p in (root / "layers").iterdir()} - referenced


def running_build_step(root: Path) -> bool:
    """A RUN step's container (named build_...) has started."""
    for cdir in (root / "containers").glob("*"):
        config = cdir / "config.json"
        if (
            config.is_file()
            and json.loads(config.read_text()).get("name", "").startswith("build_")
            and (cdir / "started.json").is_file()
        ):
            return True
    return False


@pytest.mark.parametrize("cleaner", ["clean", "next run"])
def test_sigkill_during_a_run_step_leaves_no_orphan_layer_after_the_next_run_or_clean(tmp_path, cleaner):
    root = tmp_path / "reference"
    env = {**os.environ, "SEATRIAL_REFERENCE_ROOT": str(root)}
    proc = subprocess.Popen(
        [
            *SEATRIAL,
            "run",
            str(FIXTURES / "killed-build"),
            "--engine",
            "reference",
            "--results-dir",
            str(tmp_path / "results"),
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not (root.is_dir() and orphans(root) and running_build_step(root)):
            assert time.monotonic() < deadline, "the second RUN never started"
            time.sleep(0.1)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert orphans(root), "the first RUN's layer was not committed before the kill"
    if cleaner == "clean":
        done = seatrial("clean", cwd=tmp_path, env=env)
    else:
        done = seatrial(
            "run",
            str(FIXTURES / "good"),
            "--engine",
            "reference",
            "--results-dir",
            str(tmp_path / "next"),
            cwd=tmp_path,
            env=env,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    assert orphans(root) == set(), done.stdout
    assert "what no session owns: layer sha256:" in done.stdout, done.stdout
    assert [p.name for p in (root / "tmp").iterdir()] in ([], ["claims"])  # no work folder left
    claims = root / "tmp" / "claims"
    assert not claims.exists() or not any(claims.iterdir())  # the dead build's claim went
