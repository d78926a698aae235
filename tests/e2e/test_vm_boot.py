"""`seatrial vm` for real: a Debian 12 VM boots, provisions from nothing, runs a scenario on every
engine inside, its results come back labelled with the VM's hostname, and `seatrial vm down`
leaves nothing in libvirt. Minutes long (over ten without KVM), so it runs only when asked:
SEATRIAL_E2E_VM=1 (.ci/vm-smoke runs the same path with a larger subset)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from seatrial.harness import vm, vmhost

SEATRIAL = [sys.executable, "-m", "seatrial.harness.cli"]
PROJECT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(
        os.environ.get("SEATRIAL_E2E_VM") != "1",
        reason="boots a real VM for minutes; set SEATRIAL_E2E_VM=1 (or run .ci/vm-smoke)",
    ),
]


def test_vm_run_brings_results_back_and_down_leaves_nothing(tmp_path):
    done = subprocess.run(
        [*SEATRIAL, "vm", "run", "--down", "--results-dir", str(tmp_path), "--", "-k", "shared-kernel"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=3 * 3600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    runs = [p for p in tmp_path.iterdir() if "-debian12-" in p.name]
    assert len(runs) == 1, list(tmp_path.iterdir())
    records = [json.loads(line) for line in (runs[0] / "events.jsonl").read_text().splitlines()]
    start = next(r for r in records if r["type"] == "run_start")
    assert start["host"]["hostname"] == "seatrial-debian12"
    engines = {e["name"] for e in start["engines"] if e.get("is_available")}
    assert {"docker", "podman", "reference"} <= engines
    assert any(r["type"] == "run_end" for r in records)
    env = vm.vagrant_env(dict(os.environ), vmhost.libvirt_driver(vmhost.HostView.probe()))
    assert vm.leftovers(vm.Vagrant(PROJECT / "vagrant", env, open(os.devnull, "w"))) == []
