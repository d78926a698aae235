"""The shim's C tail (nativeshim.py, shimtail.c) on the real kernel: a detached container's shim
with nothing to serve becomes it, and exit codes, logs, stop and removal behave as with the
Python shim, which every shim stays with SEATRIAL_REFERENCE_NATIVE_SHIM=0, a shim with published
ports, and the shim of an attached run."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from reference_busybox import IMAGE

from seatrial.engines import base
from seatrial.engines.reference import nativeshim
from seatrial.engines.reference.adapter import ReferenceEngine


def shim_of(engine, name: str) -> int:
    return engine.inspect(base.ResourceRef("container", name, name))["raw"]["shim_pid"]


def run(engine, labels, name: str, *argv: str, **kwargs) -> base.RunResult:
    kwargs.setdefault("network", "none")
    kwargs.setdefault("detach", True)
    return engine.run(base.RunSpec(image=IMAGE, name=name, command=argv, labels=labels, **kwargs))


def becomes_within(pid: int, binary: str, seconds: float = 10) -> str:
    """The shim's executable once it is `binary`, or what it still is after `seconds`: the shim
    execs its tail as it finishes setting up, which may come a little after the start returns
    (pid 1 gets its spec first)."""
    deadline = time.monotonic() + seconds
    while (exe := os.readlink(f"/proc/{pid}/exe")) != binary and time.monotonic() < deadline:
        time.sleep(0.01)
    return exe


def gone_within(path: str | os.PathLike, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not os.path.exists(path)


@pytest.fixture
def tail(engine) -> str:
    engine.containers._launcher()  # builds the tail, as the first run does
    path = nativeshim.binary()
    if path is None:
        pytest.skip("no C compiler here: every shim stays Python (tested below)")
    return str(path)


def test_a_detached_shim_with_nothing_to_serve_becomes_the_tail_and_records_exit_and_logs(engine, labels, tail):
    run(engine, labels, "tail-exit", "sh", "-c", "echo out; echo err >&2; sleep 0.5; exit 3")
    assert becomes_within(shim_of(engine, "tail-exit"), tail) == tail
    assert engine.wait("tail-exit", timeout=20) == 3
    assert engine.logs("tail-exit") == ("out\n", "err\n")
    inspected = engine.inspect(base.ResourceRef("container", "tail-exit", "tail-exit"))
    assert (inspected["state"], inspected["exit_code"]) == ("exited", 3)


def test_the_tail_reports_a_stop_by_sigkill_as_137_and_removal_leaves_nothing(engine, labels, tail):
    run(engine, labels, "tail-stop", "sleep", "600")  # pid 1 ignores SIGTERM: the stop ends in SIGKILL
    shim = shim_of(engine, "tail-stop")
    engine.stop("tail-stop", timeout=1)
    assert engine.wait("tail-stop", timeout=20) == 137
    engine.remove(base.ResourceRef("container", "tail-stop", "tail-stop"))
    assert engine.state.container_dir("tail-stop") is None
    assert gone_within(f"/proc/{shim}")


def test_an_attached_run_rm_beside_tails_gives_its_code_and_leaves_no_trash_or_name(engine, labels, tail):
    result = run(engine, labels, "tail-rm", "sh", "-c", "echo bye; exit 9", detach=False, remove=True)
    assert (result.exit_code, result.stdout) == (9, "bye\n")
    assert gone_within(engine.state.root / "trash" / result.container.id)
    assert engine.state.container_dir("tail-rm") is None
    assert not (engine.state.root / "names" / "tail-rm").is_symlink()  # released, not left stale


def test_a_shim_with_published_ports_stays_python(engine, labels, tail):
    run(engine, labels, "tail-ports", "sleep", "600", network="bridge", ports=(base.PortMapping(8080),))
    assert becomes_within(shim_of(engine, "tail-ports"), tail, seconds=1) != tail  # even given the time


def test_with_the_tail_turned_off_every_shim_stays_python_and_exit_codes_hold(state_root, labels, session, monkeypatch):
    monkeypatch.setenv("SEATRIAL_REFERENCE_NATIVE_SHIM", "0")
    engine = ReferenceEngine(state_root)  # its own zygote, whose shims see the setting
    try:
        run(engine, labels, "py-exit", "sh", "-c", "sleep 0.5; exit 6")
        assert "shimtail" not in os.readlink(f"/proc/{shim_of(engine, 'py-exit')}/exe")
        assert engine.wait("py-exit", timeout=20) == 6
    finally:
        engine.reap(session=session)


HARNESS = """
import sys
from seatrial.engines import base
from seatrial.engines.reference.adapter import ReferenceEngine
engine = ReferenceEngine(sys.argv[1])
command = ("sh", "-c", "sleep 1; echo late; exit 4")
labels = {"seatrial.session": sys.argv[2]}
engine.run(base.RunSpec(image=sys.argv[3], name="outlives", command=command, network="none", detach=True, labels=labels))
print(engine.inspect(base.ResourceRef("container", "outlives", "outlives"))["raw"]["shim_pid"])
"""


def test_the_tail_records_the_exit_of_a_container_whose_harness_has_gone(engine, labels, session, state_root, tail):
    harness = subprocess.run(
        [sys.executable, "-c", HARNESS, str(state_root), session, IMAGE], capture_output=True, text=True, timeout=60
    )
    shim = int(harness.stdout)  # the harness exited: its zygote with it, the shim lives on
    assert becomes_within(shim, tail) == tail
    assert engine.wait("outlives", timeout=20) == 4  # a new harness finds what the old one started
    assert engine.logs("outlives") == ("late\n", "")
