"""Container folders made ahead (readyfolder.py): made with their /etc files for one id, taken
once by a rename, and swept by the reaper once the process that made them is gone."""

from __future__ import annotations

import os
import subprocess

from seatrial.engines.reference import readyfolder
from seatrial.engines.reference.readyfolder import STUB, SUBFOLDERS
from seatrial.engines.reference.zygote import FOLDER, TEXTS_KEPT, Zygote


def test_a_folder_is_made_with_its_texts_for_its_id_and_taken_once(tmp_path):
    containers = tmp_path / "containers"
    containers.mkdir()
    made = readyfolder.make(tmp_path, {"hostname": STUB + "\n", "resolv.conf": "nameserver 127.0.0.1\n"})
    assert made.path == tmp_path / "ready" / f"{made.cid}.{os.getpid()}"
    assert made.files == {"hostname": made.cid[:12] + "\n", "resolv.conf": "nameserver 127.0.0.1\n"}
    assert (made.path / "hostname").read_text() == made.cid[:12] + "\n"
    taken = readyfolder.take(made, containers)
    assert taken == made
    assert sorted(p.name for p in (containers / made.cid).iterdir()) == sorted([*SUBFOLDERS, "hostname", "resolv.conf"])
    assert list((tmp_path / "ready").iterdir()) == []
    assert readyfolder.take(made, containers) is None  # it is gone from ready/: nothing to take twice


def test_a_folder_that_cannot_be_renamed_is_removed_and_gives_none(tmp_path):
    made = readyfolder.make(tmp_path, {})
    assert readyfolder.take(made, tmp_path / "no-such-folder") is None  # the caller makes its own
    assert list((tmp_path / "ready").iterdir()) == []


def test_sweep_removes_the_folders_of_processes_that_are_gone_only(tmp_path):
    mine = readyfolder.make(tmp_path, {})
    child = subprocess.Popen(["true"])
    child.wait()
    orphan = readyfolder.path_of(tmp_path, "a" * 64, child.pid)
    (orphan / "upper").mkdir(parents=True)
    assert readyfolder.sweep(tmp_path) == [f"ready folder {'a' * 12}"]
    assert not orphan.exists()
    assert mine.path.is_dir()  # this process's stays
    assert readyfolder.sweep(tmp_path / "elsewhere") == []  # no ready folder at all: nothing to do


def test_a_folder_stopped_midway_is_not_given_and_left_to_the_sweep(tmp_path):
    steps = iter([False, False, True])  # stop before the third step
    assert readyfolder.make(tmp_path, {"hostname": "h\n"}, stop=lambda: next(steps)) is None
    (partial,) = (tmp_path / "ready").iterdir()
    assert sorted(p.name for p in partial.iterdir()) == ["upper", "work"]


def test_the_harness_knows_the_texts_of_each_announced_folder_and_remembers_only_recent_ones(tmp_path):
    zygote = Zygote(tmp_path)  # no zygote process: replenish only keeps the texts
    for i in range(3 * TEXTS_KEPT):
        zygote.replenish({"hostname": f"host-{i}\n"})
    zygote.replenish({"hostname": f"host-{3 * TEXTS_KEPT - 1}\n"})  # the same again: no new number
    latest = zygote._latest_texts
    assert latest == 3 * TEXTS_KEPT and len(zygote._texts) <= TEXTS_KEPT + 1
    for number, wanted in ((latest, f"host-{latest - 1}\n"), (1, None)):
        cid = f"{number:064x}"
        assert zygote._keep_announcement(b"%s 4242 %s %d" % (FOLDER, cid.encode(), number), [])
        announced = zygote._folders[-1]
        assert announced.path == tmp_path / "ready" / f"{cid}.4242"
        # a folder with texts forgotten since is taken as having none: the run writes all three
        assert announced.files == ({"hostname": wanted} if wanted else {})
