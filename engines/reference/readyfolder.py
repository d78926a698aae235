"""The next container's folder, made while the harness waits for a start, so that a `run`
renames one folder instead of making it.

Kernel facilities: mkdir(2) and rename(2) within one filesystem (the state root's); the device
cgroup through devices.py; proc(5), through procfs.alive, for the sweep.

A start made its folder (`containers/<id>/` with upper/, work/ and rootfs/ for overlayfs; hosts,
hostname and resolv.conf for the bind mounts; the device cgroup) on its own path before pid 1
could begin: about 1 ms of ext4 and cgroupfs work in a run of 5, in the harness, between Docker's
and Podman's rounds. The engine now makes the next container's folder while it waits for pid 1
(launcher.start's `meanwhile`), under `ready/<id>.<pid>` with the /etc files written as the
current run wants them and the cgroup made for `<id>`; the next run renames it into
`containers/` (rename(2) is atomic: a reader sees no container or a whole folder) and rewrites
only the /etc files whose text differs.

A ready folder belongs to the process whose pid ends its name: it has no label, no record, no
mount and no process, and nothing lists it as a container. The engine removes its own when it
reaps, when it is dropped and when the interpreter exits; the reaper (cleanup.py) removes those of
processes that are gone (SIGKILL), and leaves their cgroups alone while they last
(devices.remove_unused).
"""

from __future__ import annotations

import os
import secrets
import shutil
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from . import devices
from .procfs import alive

SUBFOLDERS = ("upper", "work", "rootfs")  # overlayfs's upper and work, and the mount point


@dataclass(frozen=True)
class Ready:
    """A folder made ahead: the container id it is for, and the /etc files written in it."""

    cid: str
    path: Path
    files: Mapping[str, str]  # file name -> its text
    device_cgroup: str = ""  # made for `cid` (devices.py); "" where the host has no such controller


def make_folder(cdir: Path) -> None:
    """A container's folder and its overlayfs subfolders: mkdir(2) four times (the parent is
    made only if missing, not checked for every run)."""
    try:
        os.mkdir(cdir)
    except FileNotFoundError:
        cdir.mkdir(parents=True)
    for sub in SUBFOLDERS:
        os.mkdir(cdir / sub)


def _discard(ready: Ready) -> None:
    """The cgroup first: a device cgroup without its folder is a gone container's (devices.py)."""
    try:
        devices.remove(ready.device_cgroup)
    except OSError:
        pass  # the reaper's sweep tries again
    shutil.rmtree(ready.path, ignore_errors=True)


class ReadyFolder:
    """At most one folder made ahead for this process's next container under `root`/ready."""

    def __init__(self, root: Path, controller: Path = devices.CONTROLLER):
        self.root = Path(root)
        self.controller = controller  # of the device cgroups (devices.py)
        self.place = self.root / "ready"
        # a list that the finalizer shares: it removes whatever is ready when this object goes
        self._slot: list[Ready | None] = [None]
        weakref.finalize(self, _empty, self._slot)

    def make(self, files: Callable[[str], Mapping[str, str]]) -> None:
        """Make the next container's folder if none is ready; `files(cid)` gives the /etc files
        the next run will probably want (it rewrites those it wants otherwise)."""
        if self._slot[0] is not None:
            return
        cid = secrets.token_hex(32)
        path = self.place / f"{cid}.{os.getpid()}"
        texts = dict(files(cid))
        cgroup = ""
        try:
            make_folder(path)
            for name, text in texts.items():
                with open(path / name, "w") as handle:
                    handle.write(text)
            cgroup = devices.create(self.root, cid, self.controller)  # after the folder, as for any container
        except OSError:
            _discard(Ready(cid, path, texts, cgroup))
            return  # the next run makes its folder itself
        self._slot[0] = Ready(cid, path, texts, cgroup)

    def take(self, containers: Path) -> Ready | None:
        """The ready folder renamed to `containers/<id>`, or None (none ready, or the rename
        failed: the caller then makes a folder itself)."""
        ready, self._slot[0] = self._slot[0], None
        if ready is None:
            return None
        try:
            os.rename(ready.path, containers / ready.cid)
        except OSError:
            _discard(ready)
            return None
        return ready

    def discard(self) -> None:
        """Remove the folder made ahead, if any."""
        _empty(self._slot)


def _empty(slot: list[Ready | None]) -> None:
    ready, slot[0] = slot[0], None
    # a forked child that exits normally runs finalizers too: the folder is its parent's
    if ready is not None and ready.path.name.endswith(f".{os.getpid()}"):
        _discard(ready)


def sweep(root: Path, controller: Path = devices.CONTROLLER) -> list[str]:
    """The reaper's part: remove the ready folders of processes that are gone."""
    place = Path(root) / "ready"
    removed = []
    for entry in sorted(place.iterdir()) if place.is_dir() else ():
        cid, _, pid = entry.name.rpartition(".")
        if pid.isdigit() and alive(int(pid)):
            continue
        _discard(Ready(cid, entry, {}, str(devices.parent_of(root, controller) / cid) if cid else ""))
        removed.append(f"ready folder {entry.name[:12]}")
    return removed


def ready_ids(root: Path) -> set[str]:
    """The container ids that folders made ahead under `root` are for (their device cgroups are
    in use: devices.remove_unused)."""
    try:
        return {name.rpartition(".")[0] for name in os.listdir(Path(root) / "ready")}
    except FileNotFoundError:
        return set()
