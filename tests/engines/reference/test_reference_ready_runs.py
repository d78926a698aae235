"""Runs on folders made ahead (readyfolder.py): a run takes the folder the last one made, and
its /etc files are its own whatever the last run wanted; nothing made ahead outlives the engine."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest
from reference_busybox import IMAGE

from seatrial.engines import base
from seatrial.engines.reference import devices
from seatrial.engines.reference.adapter import ReferenceEngine


def run(engine, labels, name: str, script: str, **kwargs) -> base.RunResult:
    kwargs.setdefault("network", "none")
    return engine.run(base.RunSpec(image=IMAGE, name=name, command=("sh", "-c", script), labels=labels, **kwargs))


def ready_cid(engine) -> str:
    slot = engine.containers.ready._slot[0]
    assert slot is not None, "no folder was made ahead"
    return slot.cid


SHOW = "cat /etc/hostname; echo --; cat /etc/hosts; echo --; cat /etc/resolv.conf; echo --; hostname"


def test_a_run_takes_the_folder_made_during_the_last_and_gets_its_own_etc_files(engine, labels, state_root):
    run(engine, labels, "first", "true", remove=True)
    ahead = ready_cid(engine)
    # the last run had the default hostname and no network; this one names its host and joins a
    # user network: every /etc file the folder was made with is wrong for it
    engine.network_create(base.NetworkSpec("readynet", labels=labels))
    second = run(engine, labels, "second", SHOW, hostname="other-host", network="readynet")
    assert second.container.id == ahead
    hostname, hosts, resolv, uts = second.stdout.split("--\n")
    assert (hostname, uts) == ("other-host\n", "other-host\n")  # the file and sethostname(2)
    assert "other-host second" in hosts and hosts.startswith("127.0.0.1\tlocalhost\n")
    assert resolv.startswith("nameserver 127.0.0.11\n")
    # and back: the folder made during the second run was made for its network and hostname
    third_ahead = ready_cid(engine)
    third = run(engine, labels, "third", SHOW, remove=True)
    assert third.container.id == third_ahead
    expected_hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
    assert third.stdout == (
        f"{third_ahead[:12]}\n--\n{expected_hosts}--\nnameserver 127.0.0.1\noptions ndots:0\n--\n{third_ahead[:12]}\n"
    )


def test_the_cgroup_made_ahead_survives_another_reap_and_a_privileged_run_drops_it(engine, labels, session):
    run(engine, labels, "first", "true", remove=True)
    ahead = engine.containers.ready._slot[0]
    if not devices.available():
        pytest.skip("no cgroup v1 devices controller on this host")
    assert Path(ahead.device_cgroup).is_dir()
    # another engine's reaper (another process, in a parallel run) sees a cgroup whose
    # container folder is not in containers/ yet: it must not take it for a leftover
    ReferenceEngine(engine.state.root).reap(session=f"{session}-other")
    assert Path(ahead.device_cgroup).is_dir()
    privileged = run(
        engine, labels, "priv", "cat /sys/fs/cgroup/devices/devices.list 2>/dev/null; true", privileged=True
    )
    assert privileged.container.id == ahead.cid
    assert not Path(ahead.device_cgroup).exists()  # every device is open to it, as Docker does
    assert engine.containers.record(ahead.cid, "inspect")["device_cgroup"] == ""


def test_nothing_made_ahead_outlives_the_engine_and_the_reaper_sweeps_a_dead_ones(state_root, labels, session):
    engine = ReferenceEngine(state_root)
    run(engine, labels, "once", "true", remove=True)
    ahead = engine.containers.ready._slot[0]
    assert ahead.path.is_dir()
    del engine
    gc.collect()
    assert not ahead.path.exists()
    assert not ahead.device_cgroup or not Path(ahead.device_cgroup).exists()
    # a process SIGKILLed with a folder made ahead: the reaper's sweep removes it
    leftover = state_root / "ready" / f"{'b' * 64}.{2**22 + 1}"  # above pid_max: no such process
    (leftover / "upper").mkdir(parents=True)
    assert f"ready folder {'b' * 12}" in ReferenceEngine(state_root).reap(session=session)
    assert not leftover.exists()
