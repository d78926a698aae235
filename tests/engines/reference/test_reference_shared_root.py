"""Two harness processes on one state root: one's end of run must not pull anything from under
the other's containers, and no run, refused or not, may leave a folder behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from reference_busybox import IMAGE

from seatrial.engines import base
from seatrial.engines.reference import cleanup
from seatrial.engines.reference.network import default_bridge_name
from seatrial.engines.reference.state import write_json

# What the end of another process's run does on the shared root (cleanup.reap of its session,
# whose last step is the kernel objects), as fast as it can, until killed.
REAPER = """
import sys
from seatrial.engines.reference.adapter import ReferenceEngine
from seatrial.engines.reference.cleanup import reap_kernel_objects
engine = ReferenceEngine(sys.argv[1])
print("ready", flush=True)
while True:
    reap_kernel_objects(engine, None)
"""


def bridge_is_up(engine) -> bool:
    return os.path.exists(f"/sys/class/net/{default_bridge_name(engine.state.root)}")


def test_runs_on_the_default_bridge_hold_while_another_process_ends_its_run_on_the_same_root(engine, labels):
    # The other process deletes the root's default bridge when it sees it idle. Between a run's
    # check that the bridge is up and the plugging of its veth into it, that bridge must stay:
    # before the fix, the veth's `ip link set master` failed with "Device does not exist".
    reaper = subprocess.Popen([sys.executable, "-c", REAPER, str(engine.state.root)], stdout=subprocess.PIPE, text=True)
    try:
        assert reaper.stdout is not None and reaper.stdout.readline() == "ready\n"
        failures, deadline, runs = [], time.monotonic() + 20, 0
        while time.monotonic() < deadline and runs < 300:
            runs += 1
            try:
                result = engine.run(
                    base.RunSpec(IMAGE, f"shared{runs}", ("true",), network="bridge", remove=True, labels=labels)
                )
                assert result.exit_code == 0
            except base.EngineError as exc:
                failures.append(str(exc))
    finally:
        reaper.kill()
        reaper.wait()
    assert runs >= 50, "too few runs to have met the other process's deletions"
    assert failures == [], f"{len(failures)} of {runs} runs failed; the first: {failures[:1]}"


def test_the_default_bridge_stays_while_a_container_holds_an_address_on_it_and_goes_after(engine, labels):
    holder = engine.run(base.RunSpec(IMAGE, "holder", ("sleep", "60"), network="bridge", detach=True, labels=labels))
    assert bridge_is_up(engine)
    cleanup.reap_kernel_objects(engine, None)  # another run's end: this container still uses it
    assert bridge_is_up(engine)
    engine.remove(holder.container)
    cleanup.reap_kernel_objects(engine, None)
    assert not bridge_is_up(engine)


@pytest.mark.parametrize("kept_in", ["its own file", "an older version's record"])
def test_an_address_left_by_a_container_whose_folder_is_gone_does_not_keep_the_bridge(engine, labels, kept_in):
    # A harness killed between the removal of a folder and the release of its address: the
    # address is stale, and must not keep the bridge (nor its subnet) for good.
    engine.run(base.RunSpec(IMAGE, "brief", ("true",), network="bridge", remove=True, labels=labels))
    stale = {"address": "10.0.0.2", "name": "gone", "aliases": []}
    if kept_in == "its own file":
        write_json(engine.state.networks / "bridge.endpoints" / ("f" * 64), stale)
    else:
        path = engine.state.networks / "bridge.json"
        write_json(path, {**json.loads(path.read_text()), "endpoints": {"f" * 64: stale}})
    assert "f" * 64 in engine.networks.get("bridge")["endpoints"]
    assert bridge_is_up(engine)
    cleanup.reap_kernel_objects(engine, None)
    assert not bridge_is_up(engine)
    assert engine.networks.get("bridge")["endpoints"] == {}


def test_a_run_on_a_network_reserves_and_releases_its_address_without_rewriting_the_record(engine, labels):
    # Each rewrite (a rename over the record) made ext4 start writeback: 0.3 to 1.3 ms, twice
    # per run, on the path of every start on a bridge. The address is a file of its own now.
    net = engine.network_create(base.NetworkSpec(f"norewrite-{labels['seatrial.session']}", labels=labels))
    record = engine.state.networks / f"{net.name}.json"
    before = os.stat(record)
    try:
        first = engine.run(base.RunSpec(IMAGE, "stays", ("sleep", "60"), network=net.name, detach=True, labels=labels))
        endpoints = engine.networks.get(net.name)["endpoints"]
        assert list(endpoints) == [first.container.id]
        second = engine.run(
            base.RunSpec(IMAGE, "peer", ("cat", "/etc/hosts"), network=net.name, remove=True, labels=labels)
        )
        address = endpoints[first.container.id]["address"]
        assert f"{address}\tstays" in second.stdout  # the peer's name, from the endpoint file
        assert list(engine.networks.get(net.name)["endpoints"]) == [first.container.id]  # released
        engine.remove(first.container)
        assert engine.networks.get(net.name)["endpoints"] == {}
        after = os.stat(record)
        assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    finally:
        engine.remove(net)
    assert not (engine.state.networks / f"{net.name}.endpoints").exists()


def test_an_older_versions_record_entry_is_released_from_the_record(engine, labels):
    net = engine.network_create(base.NetworkSpec(f"legacy-{labels['seatrial.session']}", labels=labels))
    try:
        path = engine.state.networks / f"{net.name}.json"
        old = {"address": "10.0.0.9", "name": "old", "aliases": []}
        write_json(path, {**json.loads(path.read_text()), "endpoints": {"e" * 64: old}})
        assert engine.networks.get(net.name)["endpoints"] == {"e" * 64: old}
        engine.networks.release(net.name, "e" * 64)
        assert json.loads(path.read_text())["endpoints"] == {}
        assert engine.networks.get(net.name)["endpoints"] == {}
    finally:
        engine.remove(net)


def folders(engine) -> set[str]:
    return {entry.name for entry in engine.state.containers.iterdir()}


@pytest.mark.parametrize("detach", [False, True], ids=["attached", "detached"])
def test_runs_refused_with_127_leave_no_folder_behind(engine, labels, detach):
    # The shim records pid 1's code in exit.json when nobody reads the pipe. A refused run was
    # removed at once, and the record, written as rmtree emptied the folder, kept the folder
    # (about 1 run in 6 here), unlabelled, so no `seatrial clean` could find it.
    before = folders(engine)
    for attempt in range(40):
        with pytest.raises(base.EngineError) as refused:
            engine.run(
                base.RunSpec(
                    IMAGE,
                    f"refused{attempt}",
                    ("no-such-command",),
                    network="none",
                    detach=detach,
                    remove=attempt % 2 == 0,
                    labels=labels,
                )
            )
        assert refused.value.exit_code == 127
    time.sleep(0.5)  # a shim that wrote late would have written by now
    left = folders(engine) - before
    assert not left, {name[:12]: sorted(os.listdir(engine.state.containers / name)) for name in left}


def test_the_reaper_removes_old_folders_without_a_record_and_spares_a_run_being_made(engine):
    old = engine.state.containers / ("a" * 64)
    old.mkdir()
    write_json(old / "exit.json", {"exit_code": 127})
    past = time.time() - cleanup.UNRECORDED_GRACE_S - 5
    os.utime(old, (past, past))
    new = engine.state.containers / ("b" * 64)  # a run between mkdir and its config.json
    (new / "upper").mkdir(parents=True)
    try:
        removed = cleanup.reap_kernel_objects(engine, None)
        assert not old.exists()
        assert new.is_dir()
        assert any("a" * 12 in line for line in removed), removed
    finally:
        subprocess.run(["rm", "-rf", str(old), str(new)], check=True)
