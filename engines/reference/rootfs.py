"""The container's filesystem tree, built inside its own mount namespace.

Kernel facilities: overlayfs (Documentation/filesystems/overlayfs.rst: lowerdir, upperdir,
workdir), mount(2) with MS_BIND / MS_REMOUNT|MS_RDONLY / MS_PRIVATE|MS_REC, pivot_root(2) (the
`pivot_root(".", ".")` idiom, then umount2(2) MNT_DETACH of the old root), proc(5), sysfs(5),
devpts, tmpfs(5), mknod(2); unshare(2) CLONE_NEWNS made ahead, with poll(2) on the host's
/proc/self/mountinfo to see whether the host's mounts changed since (proc_pid_mountinfo(5));
mount targets resolved in scope (scope.py). Every mount here lives in the container's mount namespace only, so
it disappears with the namespace's last process: nothing is left on the host to unmount.
"""

from __future__ import annotations

import os
import select
import shutil
import stat
from dataclasses import dataclass

from . import kernel as k
from . import scope
from .security import MASKED_PATHS, READONLY_PATHS


@dataclass(frozen=True)
class BindMount:
    source: str  # host path
    target: str  # path inside the container
    read_only: bool = False
    seed_from_image: bool = False  # a new, empty named volume: copy the image's content first


@dataclass(frozen=True)
class RootfsSpec:
    lowerdirs: tuple[str, ...]  # top layer first
    upperdir: str
    workdir: str
    merged: str
    binds: tuple[BindMount, ...] = ()
    confined: bool = True  # masked and read-only paths, read-only /sys
    mask_paths: bool = True  # False: `--security-opt systempaths=unconfined`


_DEVICES = (("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0))
_NOSUID_NODEV_NOEXEC = k.MS_NOSUID | k.MS_NODEV | k.MS_NOEXEC


def _ensure(path: str, like_dir: bool) -> None:
    if os.path.lexists(path):
        return
    if like_dir:
        os.makedirs(path, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        open(path, "a").close()


def _seed_volume(image_path: str, volume: str) -> None:
    """Docker copies the image's content at the mount point into an empty named volume.
    `image_path` is resolved in scope already: a symlink at the mount point leads into the image."""
    if os.listdir(volume) or not os.path.isdir(image_path):
        return
    scope.copy_in(volume, image_path, "/")
    st = os.stat(image_path)
    os.chown(volume, st.st_uid, st.st_gid)
    os.chmod(volume, stat.S_IMODE(st.st_mode))


INIT_ENTRIES = ("proc/", "sys/", "dev/", "etc/hosts", "etc/hostname", "etc/resolv.conf")


def ensure_init_layer(path: str) -> str:
    """The shared top lower layer holding the mount points every container needs (Docker's
    "-init" layer), so that no container writes them into its own upper directory."""
    if not os.path.isdir(path):
        tmp = f"{path}.{os.getpid()}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        for entry in INIT_ENTRIES:
            _ensure(os.path.join(tmp, entry.rstrip("/")), entry.endswith("/"))
        try:
            os.rename(tmp, path)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
    return path


def overlay_lowers(top_first: list[str]) -> list[str]:
    """The layer folders for `lowerdir`, each once, at its topmost place. An image may hold the
    same layer twice (`COPY sub/ .` written twice makes two equal layers), and overlayfs refuses
    a folder given twice (ELOOP). Dropping the lower copy changes nothing that can be seen: every
    entry of it, whiteouts and opaque folders too, is also in the upper copy, which shadows it."""
    return list(dict.fromkeys(top_first))


def overlay_options(spec: RootfsSpec) -> str:
    """The overlayfs mount data: the layers, with the container's own upper directory."""
    return f"lowerdir={':'.join(spec.lowerdirs)},upperdir={spec.upperdir},workdir={spec.workdir}"


def mount_overlay(kern, spec: RootfsSpec) -> None:
    """Mount the layers with the container's own upper directory at `spec.merged`."""
    kern.mount("overlay", spec.merged, "overlay", 0, overlay_options(spec))


def _bind(kern, source: str, target: str, read_only: bool) -> None:
    kern.mount(source, target, None, k.MS_BIND | k.MS_REC)
    if read_only:
        kern.mount(None, target, None, k.MS_REMOUNT | k.MS_BIND | k.MS_RDONLY)


class MountNamespace:
    """pid 1's own mount namespace, a private copy of the host's, made while its sandbox waits
    for a spec: unshare(2) copies every mount of the host, the larger part of a start's mount
    work that depends on nothing in the spec.

    A copy made ahead must not be stale: a bind mount's source is looked up in it, and must be
    what the host has when the container starts. The host's /proc/self/mountinfo, opened before
    the copy, tells (poll(2) says POLLPRI once the host's mount table changed since), and then
    the copy is made again from the host's namespace (setns(2))."""

    def __init__(self, kern) -> None:
        self._host = os.open("/proc/self/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
        self._host_mounts = os.open("/proc/self/mountinfo", os.O_RDONLY | os.O_CLOEXEC)
        self._copy(kern)

    @staticmethod
    def _copy(kern) -> None:
        kern.unshare(k.CLONE_NEWNS)
        kern.mount(None, "/", None, k.MS_REC | k.MS_PRIVATE)  # nothing propagates back to the host

    def handles(self) -> tuple[int, int]:
        """The host's mount namespace and its mountinfo (for the C pid 1, containerinit.c)."""
        return self._host, self._host_mounts

    def make_current(self, kern) -> None:
        """Copy the host's mounts again if they changed since the copy; then let go of the host."""
        watch = select.poll()
        watch.register(self._host_mounts, select.POLLPRI)
        if watch.poll(0):
            kern.setns(self._host, k.CLONE_NEWNS)
            self._copy(kern)
        os.close(self._host)
        os.close(self._host_mounts)


def enter(kern, spec: RootfsSpec) -> None:
    """Assemble the tree at `spec.merged` and make it the root: the whole recipe, in order. The
    process is in a private mount namespace of its own already (MountNamespace)."""
    mount_overlay(kern, spec)
    for bind in spec.binds:
        # in scope: a symlink or `..` in the image or the target leads to the image's root, never
        # to the host's; resolved before any process of the container runs, so nobody can race it
        target = scope.resolve(spec.merged, bind.target)
        if bind.seed_from_image:
            _seed_volume(target, bind.source)
        _ensure(target, os.path.isdir(bind.source))
        _bind(kern, bind.source, target, bind.read_only)
    for sub in ("proc", "sys", "dev"):
        scope.makedirs(spec.merged, sub)
    os.chdir(spec.merged)
    kern.pivot_root(".", ".")
    kern.umount(".", k.MNT_DETACH)
    os.chdir("/")
    kern.mount("proc", "/proc", "proc", _NOSUID_NODEV_NOEXEC)
    sys_flags = _NOSUID_NODEV_NOEXEC | (k.MS_RDONLY if spec.confined else 0)
    kern.mount("sysfs", "/sys", "sysfs", sys_flags)
    _make_dev(kern)
    if spec.confined and spec.mask_paths:
        _mask_and_protect(kern)


def _make_dev(kern) -> None:
    kern.mount("tmpfs", "/dev", "tmpfs", k.MS_NOSUID, "mode=755,size=65536k")
    for name, major, minor in _DEVICES:
        kern.mknod(f"/dev/{name}", stat.S_IFCHR | 0o666, major, minor)
        os.chmod(f"/dev/{name}", 0o666)
    for sub in ("pts", "shm"):
        os.mkdir(f"/dev/{sub}")
    kern.mount("devpts", "/dev/pts", "devpts", k.MS_NOSUID | k.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620")
    kern.mount("shm", "/dev/shm", "tmpfs", _NOSUID_NODEV_NOEXEC, "mode=1777,size=65536k")
    for link, target in (
        ("ptmx", "pts/ptmx"),
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ):
        os.symlink(target, f"/dev/{link}")


def _mask_and_protect(kern) -> None:
    for path in MASKED_PATHS:
        if os.path.isdir(path):
            kern.mount("tmpfs", path, "tmpfs", k.MS_RDONLY)
        elif os.path.exists(path):
            kern.mount("/dev/null", path, None, k.MS_BIND)
    for path in READONLY_PATHS:
        if os.path.exists(path):
            _bind(kern, path, path, read_only=True)
