"""The scenario library's container commands do what their authors meant on every engine."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def run_commands(node):
    """Every `run` step's command list, also inside `measure` and other nested steps."""
    if isinstance(node, dict):
        run = node.get("run")
        if isinstance(run, dict) and isinstance(run.get("command"), list):
            yield run["command"]
        for value in node.values():
            yield from run_commands(value)
    elif isinstance(node, list):
        for value in node:
            yield from run_commands(value)


def test_no_container_runs_timeout_as_its_pid_1():
    # busybox's timeout execs its command in its own place and kills it with SIGTERM, which a
    # pid 1 without a handler ignores: `timeout 5 wget ...` as a container's command waits for
    # TCP to give up (about 2 minutes) where the packets are dropped, and the step then fails as
    # the engine's time-out instead of the command's non-zero exit.
    offenders = [
        f"{path.relative_to(ROOT)}: {command}"
        for folder in ("scenarios", "benchmarks")
        for path in sorted((ROOT / folder).rglob("*.yaml"))
        for command in run_commands(yaml.safe_load(path.read_text()))
        if command and command[0] == "timeout"
    ]
    assert not offenders, "\n".join(offenders)
