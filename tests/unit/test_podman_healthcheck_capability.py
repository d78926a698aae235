"""Podman has the healthcheck capability only where systemd is init (it schedules checks with
systemd timers); builds are always in docker format. Decisions only: the real engines are in
tests/engines/test_healthcheck.py."""

from pathlib import Path

from seatrial.engines.base import BuildSpec, EngineInfo
from seatrial.engines.podman import PodmanEngine


def test_without_systemd_podman_lacks_healthcheck_with_the_reason(tmp_path):
    engine = PodmanEngine()
    engine.systemd_booted = tmp_path / "no-such-dir"
    missing = engine._missing_capabilities(EngineInfo("podman", True))
    assert "systemd timers" in missing["healthcheck"] and str(tmp_path / "no-such-dir") in missing["healthcheck"]
    engine.systemd_booted = tmp_path
    assert "healthcheck" not in engine._missing_capabilities(EngineInfo("podman", True))


def test_podman_builds_in_docker_format_with_layers():
    args = PodmanEngine()._build_args(BuildSpec(tag="t", context=Path("/ctx")), Path("/tmp/iid"))
    assert args[args.index("--format") + 1] == "docker" and "--layers" in args
    assert args[-2:] == ["--", "/ctx"]
