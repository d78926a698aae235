"""The next container's folder made ahead (readyfolder.py): taken once, rewritten by nobody
else, removed with its holder, and swept by the reaper once its process is gone."""

from __future__ import annotations

import gc
import os
import subprocess
from pathlib import Path

from seatrial.engines.reference.readyfolder import SUBFOLDERS, ReadyFolder, sweep

# no device cgroups here (the engine's tests make real ones): a controller folder that is not one
NO_CONTROLLER = Path("/nonexistent-devices-controller")


def files(cid: str) -> dict[str, str]:
    return {"hostname": cid[:12] + "\n", "resolv.conf": "nameserver 127.0.0.1\n"}


def test_a_ready_folder_is_taken_once_with_its_subfolders_and_files(tmp_path):
    containers = tmp_path / "containers"
    containers.mkdir()
    ready = ReadyFolder(tmp_path, NO_CONTROLLER)
    ready.make(files)
    ready.make(files)  # one is kept, not two
    assert len(list((tmp_path / "ready").iterdir())) == 1
    taken = ready.take(containers)
    assert taken is not None
    folder = containers / taken.cid
    assert sorted(p.name for p in folder.iterdir()) == sorted([*SUBFOLDERS, "hostname", "resolv.conf"])
    assert (folder / "hostname").read_text() == taken.cid[:12] + "\n" == taken.files["hostname"]
    assert list((tmp_path / "ready").iterdir()) == []
    assert ready.take(containers) is None  # nothing is made until asked again


def test_a_folder_taken_from_under_the_holder_gives_none(tmp_path):
    ready = ReadyFolder(tmp_path, NO_CONTROLLER)
    ready.make(files)
    assert ready.take(tmp_path / "no-such-folder") is None  # rename(2) fails: the caller makes its own
    assert list((tmp_path / "ready").iterdir()) == []


def test_the_folder_goes_with_its_holder(tmp_path):
    ready = ReadyFolder(tmp_path, NO_CONTROLLER)
    ready.make(files)
    assert len(list((tmp_path / "ready").iterdir())) == 1
    del ready
    gc.collect()
    assert list((tmp_path / "ready").iterdir()) == []


def test_a_forked_child_leaves_its_parents_folder(tmp_path):
    ready = ReadyFolder(tmp_path, NO_CONTROLLER)
    ready.make(files)
    pid = os.fork()
    if pid == 0:
        ready.discard()  # what its finalizer does when a forked child exits normally
        os._exit(0)
    os.waitpid(pid, 0)
    assert len(list((tmp_path / "ready").iterdir())) == 1


def test_sweep_removes_the_folders_of_processes_that_are_gone_only(tmp_path):
    mine = ReadyFolder(tmp_path, NO_CONTROLLER)
    mine.make(files)
    gone = _exited_pid()
    orphan = tmp_path / "ready" / f"{'a' * 64}.{gone}"
    (orphan / "upper").mkdir(parents=True)
    assert sweep(tmp_path, NO_CONTROLLER) == [f"ready folder {'a' * 12}"]
    assert not orphan.exists()
    assert len(list((tmp_path / "ready").iterdir())) == 1  # this process's stays
    assert sweep(tmp_path / "elsewhere", NO_CONTROLLER) == []  # no ready folder at all: nothing to do


def _exited_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid
