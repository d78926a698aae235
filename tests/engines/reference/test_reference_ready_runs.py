"""Runs on folders the spares made ahead (readyfolder.py, zygote.py): a run takes one, its /etc
files are its own whatever the last run wanted, and no folder outlives the engine."""

from __future__ import annotations

import time

from reference_busybox import IMAGE

from seatrial.engines import base
from seatrial.engines.reference.adapter import ReferenceEngine


def run(engine, labels, name: str, script: str, **kwargs) -> base.RunResult:
    kwargs.setdefault("network", "none")
    return engine.run(base.RunSpec(image=IMAGE, name=name, command=("sh", "-c", script), labels=labels, **kwargs))


def next_folder(engine, timeout: float = 10.0) -> str:
    """The id of the folder the next run will take, once a spare has announced one."""
    zygote = engine.containers.zygote
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with zygote._lock:
            zygote._read_announcements()
            if zygote._folders:
                return zygote._folders[0].cid
        time.sleep(0.02)
    raise AssertionError("no spare made a folder ahead")


SHOW = "cat /etc/hostname; echo --; cat /etc/hosts; echo --; cat /etc/resolv.conf; echo --; hostname"


def test_a_run_takes_a_folder_made_ahead_and_gets_its_own_etc_files(engine, labels):
    run(engine, labels, "first", "true", remove=True)
    ahead = next_folder(engine)
    assert (engine.state.root / "ready").is_dir()
    # the folders were made for the default hostname and no network; this run names its host
    # and joins a user network: every /etc file in the folder is wrong for it
    engine.network_create(base.NetworkSpec("readynet", labels=labels))
    second = run(engine, labels, "second", SHOW, hostname="other-host", network="readynet")
    assert second.container.id == ahead
    hostname, hosts, resolv, uts = second.stdout.split("--\n")
    assert (hostname, uts) == ("other-host\n", "other-host\n")  # the file and sethostname(2)
    assert "other-host second" in hosts and hosts.startswith("127.0.0.1\tlocalhost\n")
    assert resolv.startswith("nameserver 127.0.0.11\n")
    for _ in range(3):  # and back: whichever folder comes next, the run's files are its own
        ahead = next_folder(engine)
        third = run(engine, labels, f"third-{ahead[:6]}", SHOW, remove=True)
        assert third.container.id == ahead
        localhost = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
        none_resolv = "nameserver 127.0.0.1\noptions ndots:0\n"
        assert third.stdout == f"{ahead[:12]}\n--\n{localhost}--\n{none_resolv}--\n{ahead[:12]}\n"


def test_no_folder_made_ahead_outlives_the_engine_and_the_reaper_sweeps_a_dead_ones(state_root, labels, session):
    engine = ReferenceEngine(state_root)
    run(engine, labels, "once", "true", remove=True)
    folder = engine.state.root / "ready" / f"{next_folder(engine)}"
    made = [p for p in (state_root / "ready").iterdir() if p.name.startswith(folder.name)]
    assert made, "the announced folder is not on disk"
    engine.containers.zygote.close()  # as when the harness exits: the spares see it go
    for _ in range(500):
        if not any(p.exists() for p in made):
            break
        time.sleep(0.01)
    assert not any(p.exists() for p in made)
    # a spare SIGKILLed with a folder made ahead: the reaper's sweep removes it
    leftover = state_root / "ready" / f"{'b' * 64}.{2**22 + 1}"  # above pid_max: no such process
    (leftover / "upper").mkdir(parents=True)
    assert f"ready folder {'b' * 12}" in ReferenceEngine(state_root).reap(session=session)
    assert not leftover.exists()
