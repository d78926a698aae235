"""The runtime floors on the real runtimes: runc runs, execs and leaves no state behind; crun
either runs or says why it refuses this host. Timings are the benchmarks' business, not here's."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from seatrial.engines import base
from seatrial.engines.bundle import BundleEngine, CrunBundleEngine
from seatrial.harness.baseimage import base_archive

pytestmark = [pytest.mark.root, pytest.mark.skipif(shutil.which("runc") is None, reason="runc is not installed")]


@pytest.fixture
def runc_floor(tmp_path):
    engine = BundleEngine(tmp_path / "floor")
    yield engine
    engine.reap("floortest")


def _runc_list(engine: BundleEngine, session: str) -> list:
    listed = subprocess.run(
        ["runc", "--root", str(engine.sessions / session / ".state"), "list", "--format", "json"],
        capture_output=True,
        text=True,
    )
    return json.loads(listed.stdout or "null") or [] if listed.returncode == 0 else []


def test_runc_floor_runs_execs_and_reaps_to_nothing(runc_floor):
    tag = runc_floor.load(base_archive().path).name
    labels = {base.SESSION_LABEL: "floortest"}
    done = runc_floor.run(base.RunSpec(image=tag, name="", command=("sh", "-c", "echo hi; exit 3"), network="none",
                                       remove=True, labels=labels))  # fmt: skip
    assert (done.exit_code, done.stdout) == (3, "hi\n")
    box = runc_floor.run(base.RunSpec(image=tag, name="box", command=("sleep", "600"), network="none", detach=True,
                                      labels=labels))  # fmt: skip
    assert runc_floor.inspect(box.container)["state"] == "running"
    assert runc_floor.exec("box", ("hostname",)).stdout == box.container.id[:12] + "\n"  # in its uts namespace
    assert [r.name for r in runc_floor.resources("seatrial.session=floortest")] == ["box"]
    [state] = _runc_list(runc_floor, "floortest")
    lines = runc_floor.reap("floortest")  # as for a session that died with its container running
    assert any("runc container" in line for line in lines)
    assert runc_floor.resources("seatrial.session=floortest") == []
    assert not (runc_floor.sessions / "floortest").exists()
    # Killed: gone, or a zombie until the host's init reaps it (a detached runc container has no
    # shim to wait for it; this machine's init reaps orphans late)
    try:
        left = Path(f"/proc/{state['pid']}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        left = "gone"
    assert left in ("gone", "Z"), f"the container's process outlived the reap (state {left})"


def test_crun_floor_runs_or_says_why_not(tmp_path):
    engine = CrunBundleEngine(tmp_path / "floor")
    if not engine.info().is_available:
        assert "crun" in engine.info().unavailable_reason
        return
    caps = engine.capabilities()
    if not caps.has("network.none"):
        assert caps.reason("network.none").startswith("crun refuses this host: ")
        assert caps.reason("network.none") != "crun refuses this host: "
    assert not caps.has("network.bridge") and "bare OCI runtime" in caps.reason("network.bridge")
    assert not (tmp_path / "floor" / "crun-bundle" / "probe").exists()  # the probe's bundle is gone
