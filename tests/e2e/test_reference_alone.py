"""On a host with neither Docker nor Podman, `seatrial run` (the README's main job) runs the whole
scenario library on the bundled reference runtime alone, and it passes.

The host is simulated in a private mount namespace (unshare(1)) in which every engine client is
hidden under /dev/null, which is neither a file nor executable: what the adapters see on a
machine where docker.io and podman were never installed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
CLIENTS = ("/usr/bin/docker", "/usr/local/bin/docker", "/usr/bin/podman", "/usr/local/bin/podman")

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(
        os.geteuid() != 0 or not shutil.which("unshare"), reason="needs root and unshare(1) for a mount namespace"
    ),
]


def test_seatrial_run_without_docker_or_podman_runs_every_scenario_on_the_reference_runtime(tmp_path):
    hide = "".join(f"mount --bind /dev/null {client} && " for client in CLIENTS if os.path.exists(client))
    script = f"{hide}exec {sys.executable} -m seatrial.harness.cli run --results-dir {tmp_path}"
    proc = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    [events_file] = tmp_path.glob("*/events.jsonl")
    ends = [e for e in map(json.loads, events_file.read_text().splitlines()) if e["type"] == "item_end"]
    assert {e["engine"] for e in ends} == {"reference"}
    scenarios = {p.stem for p in (ROOT / "scenarios").rglob("*.yaml")}
    assert {e["scenario"] for e in ends} == scenarios
    outcomes = {e["scenario"]: e["outcome"] for e in ends}
    assert outcomes.pop("rootless") == "skipped"  # the reference runtime has no user namespaces yet
    assert set(outcomes.values()) == {"passed"}, {s: o for s, o in outcomes.items() if o != "passed"}
    # The default bridge the run made (default-bridge.yaml) goes with it, as its containers did,
    # unless a container of another run on the same root (another xdist worker's) holds an
    # address on it now: the bridge is the root's, shared by design.
    # Only this run's state root's bridge: another root (another checkout's run) may have its own.
    from seatrial.engines.reference.network import Networks, default_bridge_name
    from seatrial.engines.reference.state import StateRoot, default_root, read_json

    root = default_root()
    bridge = default_bridge_name(root)
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    if [line for line in links.splitlines() if f": {bridge}:" in line]:
        session = json.loads(events_file.read_text().splitlines()[0])["session"]
        endpoints = (Networks(StateRoot(root)).get("bridge") or {}).get("endpoints", {})
        holders = [read_json(root / "containers" / cid / "config.json") or {} for cid in endpoints]
        holders = [h for h in holders if h]
        assert holders, f"{bridge} is left with no container on it:\n{links}"
        assert all(h["labels"].get("seatrial.session") != session for h in holders), "this run's containers stayed"
