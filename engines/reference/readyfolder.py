"""Container folders made ahead by the spares (zygote.py), so that a `run` renames a folder
instead of making one.

Kernel facilities: mkdir(2) and rename(2) within one filesystem (the state root's); proc(5),
through procfs.alive, for the sweep.

A start made its folder (`containers/<id>/` with upper/, work/ and rootfs/ for overlayfs, and
hosts, hostname and resolv.conf for the bind mounts) on its own path before pid 1 could begin:
0.5 to 0.9 ms of ext4 work in a run of 5 ms, measured in the harness between Docker's and
Podman's rounds. Made in the harness while it waited for pid 1, the same work took a core that
pid 1 and the shim wanted (paired A/B: 0.8 ms slower than a folder made off the start's path).
So a spare makes one while it waits for a run, at SCHED_IDLE, under `ready/<id>.<its pid>`, with
the /etc files written from the texts the harness sent with its last request for a spare (the
last run's network and hostname; `STUB` stands for the id's first 12 digits). The harness renames
one into `containers/` for its next run (rename(2) is atomic: a reader sees no container or a
whole folder) and rewrites only the /etc files whose text differs.

A ready folder has no label, no record, no mount, no process and no device cgroup, and nothing
lists it as a container. Its spare removes it when the harness goes without taking it; the
reaper (cleanup.py) removes those whose process is gone (a SIGKILLed spare, a shim whose spare's
folder no run took, or one whose spare was taken for a run before its folder was done: a spare
makes its folder after announcing itself and stops as soon as a run asks for it).
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .procfs import alive

SUBFOLDERS = ("upper", "work", "rootfs")  # overlayfs's upper and work, and the mount point
STUB = "\0" * 12  # in the texts of a folder's /etc files: the container id's first 12 digits


@dataclass(frozen=True)
class Ready:
    """A folder made ahead: the container id it is for, and the /etc files written in it."""

    cid: str
    path: Path
    files: Mapping[str, str]  # file name -> its text


def make_folder(cdir: Path, stop: Callable[[], bool] = lambda: False) -> bool:
    """A container's folder and its overlayfs subfolders: mkdir(2) four times (the parent is
    made only if missing, not checked for every run). False if `stop()`, asked before each
    subfolder, said so."""
    try:
        os.mkdir(cdir)
    except FileNotFoundError:
        cdir.mkdir(parents=True)
    for sub in SUBFOLDERS:
        if stop():
            return False
        os.mkdir(cdir / sub)
    return True


def texts_for(cid: str, files: Mapping[str, str]) -> dict[str, str]:
    """The texts of `files` for container `cid` (STUB replaced)."""
    return {name: text.replace(STUB, cid[:12]) for name, text in files.items()}


def path_of(root: Path, cid: str, owner: int) -> Path:
    return Path(root) / "ready" / f"{cid}.{owner}"


def make(root: Path, files: Mapping[str, str], stop: Callable[[], bool] = lambda: False) -> Ready | None:
    """Make a folder ahead under `root`, owned by this process, with `files` written (texts_for);
    OSError if it cannot be made (nothing is left then). None once `stop()` says so, asked
    between steps: the part made is left to `sweep`, off the path of whatever stopped it."""
    cid = secrets.token_hex(32)
    path = path_of(root, cid, os.getpid())
    texts = texts_for(cid, files)
    try:
        if not make_folder(path, stop):
            return None
        for name, text in texts.items():
            if stop():
                return None
            with open(path / name, "w") as handle:
                handle.write(text)
    except OSError:
        discard(path)
        raise
    return Ready(cid, path, texts)


def take(ready: Ready, containers: Path) -> Ready | None:
    """`ready` renamed to `containers/<id>`, or None if the rename fails (the caller then makes
    a folder itself)."""
    try:
        os.rename(ready.path, containers / ready.cid)
    except OSError:
        discard(ready.path)
        return None
    return ready


def discard(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def sweep(root: Path) -> list[str]:
    """The reaper's part: remove the ready folders whose process is gone."""
    place = Path(root) / "ready"
    removed = []
    for entry in sorted(place.iterdir()) if place.is_dir() else ():
        _, _, pid = entry.name.rpartition(".")
        if pid.isdigit() and alive(int(pid)):
            continue
        discard(entry)
        removed.append(f"ready folder {entry.name[:12]}")
    return removed
