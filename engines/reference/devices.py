"""Docker's default device rules, enforced by the kernel: a container may mknod any device but
open only the few every container gets.

Kernel facilities: the cgroup v1 `devices` controller (Documentation/admin-guide/cgroup-v1/
devices.rst; cgroups(7)): a folder per container under /sys/fs/cgroup/devices, `a` written to
devices.deny, then Docker's list to devices.allow; a process joins by writing its tid (0: itself)
to `tasks`, its children follow; rmdir(2) removes the cgroup once no process is in it.
The list is moby's (oci/devices_linux.go and runc's default AllowedDevices): mknod of every
character and block device; read, write, mknod of null, zero, full, random, urandom, tty,
console, ptmx and the pts slaves.

Each state root has its own parent folder (named by a hash of the root's path), so the reaper of
one root removes only its own cgroups. A host without the v1 devices controller (pure cgroup v2)
gets no rules: `available()` says so, and the engine reports it.
"""

from __future__ import annotations

import errno
import hashlib
import os
import time
from pathlib import Path

CONTROLLER = Path("/sys/fs/cgroup/devices")

DEFAULT_RULES = (
    "c *:* m",
    "b *:* m",  # mknod anything, open nothing else
    "c 1:3 rwm",
    "c 1:5 rwm",
    "c 1:7 rwm",  # null, zero, full
    "c 1:8 rwm",
    "c 1:9 rwm",  # random, urandom
    "c 5:0 rwm",
    "c 5:1 rwm",
    "c 5:2 rwm",  # tty, console, ptmx
    "c 136:* rwm",  # /dev/pts/N
)


def available(controller: Path = CONTROLLER) -> bool:
    """Whether this host mounts the v1 devices controller where we look for it."""
    return (controller / "devices.deny").exists()


def parent_of(state_root: Path, controller: Path = CONTROLLER) -> Path:
    """The folder holding the device cgroups of one state root's containers."""
    digest = hashlib.sha256(str(Path(state_root).resolve()).encode()).hexdigest()[:12]
    return controller / f"seatrial-{digest}"


def create(state_root: Path, cid: str, controller: Path = CONTROLLER) -> str:
    """Make container `cid`'s device cgroup with Docker's rules; returns its path ("" where the
    controller is missing)."""
    if not available(controller):
        return ""
    path = parent_of(state_root, controller) / cid
    for attempt in range(10):
        # The last container of this root (its shim, as it ends) may remove the parent meanwhile:
        # between mkdir's EEXIST and pathlib's is_dir() check (FileExistsError), or before the
        # child's mkdir (FileNotFoundError). Make both again.
        try:
            path.parent.mkdir(exist_ok=True)
            path.mkdir(exist_ok=True)
            break
        except (FileNotFoundError, FileExistsError):
            if attempt == 9:
                raise
    _write(path / "devices.deny", "a")
    _write(path / "devices.allow", *DEFAULT_RULES)
    return str(path)


def join(path: str) -> None:
    """Put the calling process (and so its future children) in the device cgroup at `path`.
    Through `tasks`, which moves one thread: the callers are freshly forked, so single-threaded,
    and a move by `cgroup.procs` takes the kernel's threadgroup lock, whose RCU grace period
    costs a start up to milliseconds on a busy machine."""
    if path:
        _write(Path(path) / "tasks", "0")


def remove(path: str | Path, wait: float = 2.0) -> None:
    """rmdir(2) the cgroup; its last processes may still be exiting (EBUSY), so retry a while.
    Already gone is fine. The root's folder goes too once it holds no other container's."""
    if not path:
        return
    deadline = time.monotonic() + wait
    while True:
        try:
            os.rmdir(path)
            break
        except FileNotFoundError:
            break
        except OSError as exc:
            if exc.errno != errno.EBUSY or time.monotonic() > deadline:
                raise OSError(exc.errno, f"rmdir of device cgroup {path}: {exc.strerror}") from None
            time.sleep(0.01)
    try:
        os.rmdir(Path(path).parent)
    except OSError:
        pass  # other containers' cgroups are in it (EBUSY), or it is gone


def remove_unused(state_root: Path, containers: Path, controller: Path = CONTROLLER) -> list[str]:
    """The reaper's part: remove this root's device cgroups whose container is gone, then the
    root's folder once empty. Returns what it removed.

    Each cgroup is listed before its container's folder is looked for: a folder exists before
    its cgroup does and goes after it (containers.py), so a listed cgroup without a folder is
    a gone container's. Looking for the folders first would take the cgroup of a container
    that another process starts in between for a leftover, and its start would fail."""
    parent = parent_of(state_root, controller)
    removed = []
    for entry in sorted(parent.iterdir()) if parent.is_dir() else ():
        if entry.is_dir() and not (containers / entry.name).is_dir():
            remove(entry)
            removed.append(f"device cgroup {entry.name[:12]}")
    try:
        parent.rmdir()
    except OSError:
        pass  # absent, or containers still use it
    return removed


def _write(path: Path, *values: str) -> None:
    """Each value in a write(2) of its own (the kernel parses one rule per write), one open."""
    try:
        fd = os.open(path, os.O_WRONLY)
    except OSError as exc:
        raise OSError(exc.errno, f"open {path}: {exc.strerror}") from None
    try:
        for value in values:
            try:
                os.write(fd, value.encode())
            except OSError as exc:
                raise OSError(exc.errno, f"write {value!r} to {path}: {exc.strerror}") from None
    finally:
        os.close(fd)
