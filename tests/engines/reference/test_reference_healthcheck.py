"""HEALTHCHECK in the reference runtime on the real kernel: parsed into the image config as Docker
20.10 stores it, run in the container by a monitor that ends with the container."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time

import pytest
from reference_busybox import IMAGE

from seatrial.engines import base
from seatrial.engines.reference.procfs import alive
from seatrial.engines.reference.state import read_json


def build(engine, labels, tmp_path, dockerfile: str, tag: str = "hc") -> base.BuildResult:
    context = tmp_path / tag
    context.mkdir()
    (context / "Dockerfile").write_text(dockerfile)
    return engine.build(base.BuildSpec(tag=f"{labels['seatrial.session']}-{tag}", context=context, labels=labels))


def healthcheck_of(engine, result) -> dict | None:
    return engine.inspect(result.image)["config"].get("Healthcheck")


def start(engine, labels, tmp_path, healthcheck: str, stem: str, before: str = "") -> base.RunResult:
    """Build an image with `healthcheck` (a HEALTHCHECK line) and run it detached as `stem`."""
    image = build(engine, labels, tmp_path, f"FROM {IMAGE}\n{before}{healthcheck}\n", stem).image.name
    return engine.run(
        base.RunSpec(
            image=image,
            name=f"{labels['seatrial.session']}-{stem}",
            command=("sleep", "60"),
            network="none",
            detach=True,
            labels=labels,
        )
    )


def health_when_settled(engine, name: str, timeout: float = 15.0) -> dict:
    """inspect until health leaves `starting` (what `expect.inspect.wait` does)."""
    deadline = time.monotonic() + timeout
    while True:
        health = engine.inspect(base.ResourceRef("container", "", name))["health"]
        if health["status"] != "starting" or time.monotonic() > deadline:
            return health
        time.sleep(0.1)


def test_exec_form_shell_form_and_options_are_stored_as_docker_stores_them(engine, labels, tmp_path):
    exec_form = build(
        engine,
        labels,
        tmp_path,
        f"FROM {IMAGE}\nHEALTHCHECK --interval=1s --timeout=2s "
        '--start-period=1m30s --retries=2 CMD ["test", "-e", "/tmp/ok"]\n',
        "a",
    )
    assert healthcheck_of(engine, exec_form) == {
        "Test": ["CMD", "test", "-e", "/tmp/ok"],
        "Interval": 10**9,
        "Timeout": 2 * 10**9,
        "StartPeriod": 90 * 10**9,
        "Retries": 2,
    }
    shell_form = build(engine, labels, tmp_path, f"FROM {IMAGE}\nHEALTHCHECK CMD echo out; exit 3\n", "b")
    assert healthcheck_of(engine, shell_form) == {"Test": ["CMD-SHELL", "echo out; exit 3"]}


def test_healthcheck_is_inherited_and_none_turns_it_off_keeping_the_options(engine, labels, tmp_path):
    parent = build(engine, labels, tmp_path, f"FROM {IMAGE}\nHEALTHCHECK --interval=1s CMD true\n", "parent")
    child = build(engine, labels, tmp_path, f"FROM {parent.image.name}\nENV X=1\n", "child")
    assert healthcheck_of(engine, child) == {"Test": ["CMD-SHELL", "true"], "Interval": 10**9}
    off = build(engine, labels, tmp_path, f"FROM {parent.image.name}\nHEALTHCHECK NONE\n", "off")
    assert healthcheck_of(engine, off) == {"Test": ["NONE"], "Interval": 10**9}  # as Docker 20.10


@pytest.mark.parametrize(
    "line, message",
    [
        ("HEALTHCHECK --interval=0s CMD true", 'Interval "interval" cannot be less than 1ms'),
        ("HEALTHCHECK --interval=5 CMD true", 'time: missing unit in duration "5"'),
        ("HEALTHCHECK --interval=5x CMD true", 'time: unknown unit "x" in duration "5x"'),
        ("HEALTHCHECK --retries=0 CMD true", "--retries must be at least 1 (not 0)"),
        ("HEALTHCHECK --start-interval=1s CMD true", "Unknown flag: start-interval"),
        ("HEALTHCHECK NONE x", "HEALTHCHECK NONE takes no arguments"),
        ("HEALTHCHECK RUN true", 'Unknown type "RUN" in HEALTHCHECK (try CMD)'),
    ],
)
def test_a_healthcheck_docker_refuses_is_refused_with_its_line(engine, labels, tmp_path, line, message):
    with pytest.raises(base.EngineError, match="Dockerfile:2: ") as caught:
        build(engine, labels, tmp_path, f"FROM {IMAGE}\n{line}\n", "bad")
    assert message in str(caught.value)


def test_health_goes_unhealthy_after_retries_then_healthy_and_keeps_a_log(engine, labels, tmp_path):
    name = start(
        engine,
        labels,
        tmp_path,
        "HEALTHCHECK --interval=1s --timeout=2s --retries=2 CMD test -e /tmp/ok || { echo missing; exit 1; }",
        "web",
    ).container.name
    assert engine.inspect(base.ResourceRef("container", "", name))["health"]["status"] == "starting"
    health = health_when_settled(engine, name)
    assert (health["status"], health["failing_streak"]) == ("unhealthy", 2)
    assert [(e["exit_code"], e["output"]) for e in health["log"]] == [(1, "missing\n"), (1, "missing\n")]
    engine.exec(name, ("touch", "/tmp/ok"))
    deadline = time.monotonic() + 10
    while health["status"] != "healthy" and time.monotonic() < deadline:
        time.sleep(0.1)
        health = engine.inspect(base.ResourceRef("container", "", name))["health"]
    assert (health["status"], health["failing_streak"], health["log"][-1]["exit_code"]) == ("healthy", 0, 0)
    assert len(health["log"]) <= 5


def test_failures_in_the_start_period_do_not_count_and_a_timeout_is_exit_code_minus_one(engine, labels, tmp_path):
    name = start(
        engine,
        labels,
        tmp_path,
        "HEALTHCHECK --interval=500ms --timeout=300ms --start-period=30s --retries=1 CMD sleep 5",
        "slow",
    ).container.name
    time.sleep(2.5)
    health = engine.inspect(base.ResourceRef("container", "", name))["health"]
    assert (health["status"], health["failing_streak"]) == ("starting", 0)
    assert health["log"] and health["log"][0]["exit_code"] == -1
    assert health["log"][0]["output"] == "Health check exceeded timeout (300ms)"


def test_the_monitor_runs_the_check_as_the_containers_user_and_ends_with_the_container(engine, labels, tmp_path):
    run = start(
        engine,
        labels,
        tmp_path,
        'HEALTHCHECK --interval=300ms CMD ["sh", "-c", "id -u; test $(id -u) = 65534"]',
        "user",
        before="USER 65534\n",
    )
    name = run.container.name
    health = health_when_settled(engine, name)
    assert (health["status"], health["log"][-1]["output"]) == ("healthy", "65534\n")
    assert engine.inspect(run.container)["user"] == "65534"
    cdir = engine.state.containers / run.container.id
    monitor = read_json(cdir / "monitor.json")["pid"]
    assert alive(monitor)
    engine.stop(name, timeout=1)
    assert engine.inspect(run.container)["health"]["status"] == "unhealthy"  # Docker's status on exit
    deadline = time.monotonic() + 5
    while alive(monitor) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(monitor)
    assert not os.path.exists(f"/proc/{monitor}")


def test_no_monitor_without_a_healthcheck_or_with_none_and_none_in_build_runs(engine, labels, tmp_path):
    parent = build(
        engine,
        labels,
        tmp_path,
        f"FROM {IMAGE}\nHEALTHCHECK --interval=100ms CMD false\nRUN echo built-while-a-check-is-configured\n",
        "p",
    )
    off = build(engine, labels, tmp_path, f"FROM {parent.image.name}\nHEALTHCHECK NONE\n", "o").image.name
    name = f"{labels['seatrial.session']}-off"
    run = engine.run(
        base.RunSpec(image=off, name=name, command=("sleep", "60"), network="none", detach=True, labels=labels)
    )
    time.sleep(0.5)
    assert engine.inspect(run.container)["health"] is None
    assert not (engine.state.containers / run.container.id / "monitor.json").exists()


def test_removing_a_running_container_leaves_no_monitor_and_no_directory(engine, labels, tmp_path):
    run = start(engine, labels, tmp_path, "HEALTHCHECK --interval=100ms CMD true", "gone")
    name = run.container.name
    cdir = engine.state.containers / run.container.id
    assert health_when_settled(engine, name)["status"] == "healthy"
    monitor = read_json(cdir / "monitor.json")["pid"]
    engine.remove(run.container)
    assert not alive(monitor)
    time.sleep(0.3)  # a monitor that outlived the removal would write health.json again here
    assert not cdir.exists()


HARNESS = """
import pathlib, sys, time
from seatrial.engines import base
from seatrial.engines.reference.adapter import ReferenceEngine
engine = ReferenceEngine(sys.argv[1])
labels = {"seatrial.session": sys.argv[2]}
context = pathlib.Path(sys.argv[4])
context.mkdir()
(context / "Dockerfile").write_text(f"FROM {sys.argv[3]}\\nHEALTHCHECK --interval=200ms CMD true\\n")
image = engine.build(base.BuildSpec(tag=f"{sys.argv[2]}-hc", context=context, labels=labels)).image.name
engine.run(base.RunSpec(image=image, name=f"{sys.argv[2]}-doomed", command=("sleep", "600"), network="none",
                        labels=labels, detach=True))
print("ready", flush=True)
time.sleep(600)
"""


def test_the_monitor_outlives_a_killed_harness_does_not_hold_its_output_and_the_reaper_ends_it(
    engine, state_root, session, tmp_path
):
    harness = subprocess.Popen(
        [sys.executable, "-c", HARNESS, str(state_root), session, IMAGE, str(tmp_path / "ctx")],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert harness.stdout.readline().strip() == "ready"
    finally:
        os.kill(harness.pid, signal.SIGKILL)
        harness.wait(timeout=10)
    # EOF at once: neither the shim nor the monitor kept the harness's stdout open
    assert select.select([harness.stdout], [], [], 10)[0] and harness.stdout.read() == ""
    name = f"{session}-doomed"
    assert health_when_settled(engine, name)["status"] == "healthy"  # checked with the harness gone
    cdir = engine.state.container_dir(name)
    monitor = read_json(cdir / "monitor.json")["pid"]
    assert alive(monitor)
    engine.reap(session=session)
    assert not alive(monitor)
    assert not cdir.exists()
