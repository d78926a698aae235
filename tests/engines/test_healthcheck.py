"""HEALTHCHECK, health, user and engine warnings through every engine's adapter (docker,
docker-buildkit, podman, reference): what `expect.inspect` and item warnings rely on.

Health is checked where the engine has the `healthcheck` capability (Podman schedules checks
with systemd timers: without systemd it is skipped with that reason)."""

from __future__ import annotations

import time

import pytest
from test_contract import write_context

from seatrial.engines.base import BuildSpec, PortMapping, ResourceRef, RunSpec

pytestmark = pytest.mark.root

HEALTHCHECK = "HEALTHCHECK --interval=1s --timeout=3s --retries=2 CMD test -e /tmp/ok || { echo missing; exit 1; }"


def settled(engine, name: str, timeout: float = 20.0, leave: str = "starting") -> dict:
    """The container's health once it is no longer `leave`, or the last one seen at `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        health = engine.inspect(ResourceRef("container", "", name))["health"]
        if health is None or health["status"] != leave or time.monotonic() > deadline:
            return health
        time.sleep(0.2)


def test_healthcheck_is_kept_in_the_image_config_as_docker_keeps_it(
    engine, base_tag, labels, unique, tmp_path, requires
):
    requires("build")
    ctx = write_context(tmp_path / "hc", f"FROM {base_tag}\nWORKDIR /app\nUSER 65534\n{HEALTHCHECK}\n")
    built = engine.build(BuildSpec(tag=unique("hc"), context=ctx, labels=labels))
    config = engine.inspect(built.image)["config"]
    assert config["Healthcheck"] == {
        "Test": ["CMD-SHELL", "test -e /tmp/ok || { echo missing; exit 1; }"],
        "Interval": 10**9,
        "Timeout": 3 * 10**9,
        "Retries": 2,
    }
    assert (config["WorkingDir"], config["User"]) == ("/app", "65534")
    # Podman builds in docker format: nothing of the Dockerfile was dropped, nothing to warn about
    assert built.warnings == (), built.log
    child = write_context(tmp_path / "child", f"FROM {built.image.name}\nHEALTHCHECK NONE\n")
    off = engine.build(BuildSpec(tag=unique("off"), context=child, labels=labels))
    assert engine.inspect(off.image)["config"]["Healthcheck"]["Test"] == ["NONE"]


def test_health_is_unhealthy_after_retries_then_healthy_and_user_is_the_images(
    engine, base_tag, labels, unique, tmp_path, requires
):
    requires("build", "exec", "healthcheck")
    ctx = write_context(tmp_path / "hc", f"FROM {base_tag}\nUSER 65534\n{HEALTHCHECK}\n")
    image = engine.build(BuildSpec(tag=unique("hc"), context=ctx, labels=labels)).image.name
    name = unique("web")
    engine.run(RunSpec(image, name, command=("sleep", "120"), network="none", detach=True, labels=labels))
    doc = engine.inspect(ResourceRef("container", "", name))
    assert doc["user"] == "65534"
    assert doc["health"]["status"] == "starting"
    health = settled(engine, name)
    assert (health["status"], health["failing_streak"]) == ("unhealthy", 2), health
    assert health["log"][-1]["exit_code"] == 1 and health["log"][-1]["output"] == "missing\n"
    engine.exec(name, ("touch", "/tmp/ok"))
    health = settled(engine, name, leave="unhealthy")
    assert (health["status"], health["failing_streak"]) == ("healthy", 0), health
    engine.stop(name, timeout=1)
    assert engine.inspect(ResourceRef("container", "", name))["health"]["status"] == "unhealthy"


def test_a_container_without_healthcheck_has_no_health_and_run_user_overrides(engine, base_tag, labels, unique):
    name = unique("plain")
    engine.run(
        RunSpec(base_tag, name, command=("sleep", "120"), user="1000", network="none", detach=True, labels=labels)
    )
    doc = engine.inspect(ResourceRef("container", "", name))
    assert (doc["health"], doc["user"]) == (None, "1000")
    assert doc["image_id"] == engine.inspect(ResourceRef("image", "", base_tag))["id"]


def test_ports_on_the_host_network_are_discarded_with_a_warning(engine, base_tag, labels, unique, requires):
    requires("network.host", "ports.publish")
    result = engine.run(
        RunSpec(
            base_tag,
            unique("hostports"),
            command=("true",),
            network="host",
            ports=(PortMapping(80, 18080),),
            remove=True,
            labels=labels,
        )
    )
    assert result.exit_code == 0
    assert any("discarded" in w for w in result.warnings), result.stderr
