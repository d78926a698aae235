"""The stack step against docker-compose: the same Compose file through both, compared.

seatrial carries out stacks itself, through the adapter, so that every engine runs the same
stack; this test checks that what it does is what Compose does with the same file (start order
and the resulting state), where docker-compose is installed. Everything carries a session label
and is removed in `finally`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

COMPOSE = Path("/usr/bin/docker-compose")
ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "scenarios" / "stack" / "start-order.yaml"
LABEL = f"seatrial.session=e2e-compose-{os.getpid()}"


def docker_available() -> bool:
    from seatrial.engines.docker import DockerEngine

    return DockerEngine().info().is_available


pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(not COMPOSE.is_file(), reason="docker-compose is not installed"),
    pytest.mark.skipif(not docker_available(), reason="docker is not available here"),
]


def compose_file(base: str) -> dict:
    """The scenario's Compose subset as a Compose file, with `{{ base }}` and labels filled in."""
    from seatrial.harness.loader import load_scenario

    body = load_scenario(SCENARIO).steps[0].stack.compose
    data = json.loads(body.model_dump_json(exclude_defaults=True))
    key, _, value = LABEL.partition("=")
    for service in data["services"].values():
        service["image"] = service["image"].replace("{{ base }}", base)
        service["labels"] = {key: value}
    data["volumes"] = {name: {"labels": {key: value}} for name in data.get("volumes", {})}
    data["networks"] = {"default": {"labels": {key: value}}}
    return data


def labelled() -> list[str]:
    found = []
    for kind in (["ps", "-a", "-q"], ["network", "ls", "-q"], ["volume", "ls", "-q"]):
        out = subprocess.run(["docker", *kind, "--filter", f"label={LABEL}"], capture_output=True, text=True)
        found += out.stdout.split()
    return found


def seatrial_order(tmp_path: Path) -> str:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "seatrial.harness.cli",
            "run",
            str(SCENARIO),
            "--engine",
            "docker",
            "--results-dir",
            str(tmp_path / "results"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [events] = (tmp_path / "results").glob("*/events.jsonl")
    steps = [json.loads(line) for line in events.read_text().splitlines()]
    return next(s["stdout"] for s in steps if s["type"] == "step" and s["kind"] == "exec")


def test_docker_compose_starts_the_same_file_in_the_same_order(tmp_path):
    from seatrial.engines.docker import DockerEngine
    from seatrial.harness.baseimage import base_archive, ensure_loaded

    base = ensure_loaded(DockerEngine(), base_archive())
    path = tmp_path / "compose.yaml"
    path.write_text(yaml.safe_dump(compose_file(base), sort_keys=False))
    project = f"st-e2e-{os.getpid()}"
    compose = [str(COMPOSE), "-p", project, "-f", str(path)]
    try:
        up = subprocess.run([*compose, "up", "-d"], capture_output=True, text=True, timeout=300)
        assert up.returncode == 0, up.stderr
        assert len(labelled()) == 5, "three containers, the network and the volume carry the label"
        container = subprocess.run([*compose, "ps", "-q", "last"], capture_output=True, text=True).stdout.strip()
        order = ""
        for _ in range(100):
            order = subprocess.run(
                ["docker", "exec", container, "cat", "/log/order"], capture_output=True, text=True
            ).stdout
            if order.count("\n") == 3:
                break
            time.sleep(0.2)
        assert order == "first\nmiddle\nlast\n"
        assert seatrial_order(tmp_path) == order
    finally:
        subprocess.run([*compose, "down", "-v", "--timeout", "0"], capture_output=True, timeout=300)
    assert labelled() == []
