"""exec as a small C program (execjoin.c) spawned by the harness, not a fork of a Python process.

Kernel facilities: posix_spawn(3) (glibc spawns with clone(CLONE_VM | CLONE_VFORK): the
harness's memory is not copied, whatever its size); its dup2 file action with the same fd on both
sides, which clears FD_CLOEXEC in the child only, so the fds the program needs reach it and no
other fd of the harness does (the program closes anything else it inherited first);
memfd_create(2) for the seccomp filter; openat2(2) RESOLVE_IN_ROOT (kernel.open_in_root) to read
the container's /etc/passwd and /etc/group through pid 1's root; clone(2) CLONE_PARENT in the
program, so that the command's process is a child of this one: waitpid(2) gives its exit status,
and its end wakes this process with no program in between.

Why: the Python exec (nsexec.exec_child) asked the zygote to fork a child, which joined the
container and forked again, each fork a copy-on-write Python interpreter torn down again by
execve(2); a few milliseconds of an exec's total on two cores. The C program joins and clones
in a few pages, and is gone before the command ends. The user is resolved here, in the harness,
from the container's own files (identity.resolve_user reads them through pid 1's root, where the
container's mounts are). The program gets an empty environment of its own; the command's comes
as arguments.

The binary is built as the shim tail is (nativeshim.compile_program): into the cache folder, under
a name that carries the source's digest. Without a compiler, or with
SEATRIAL_REFERENCE_NATIVE_EXEC=0, exec stays Python (nsexec.py): same behaviour.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from .identity import ACCOUNT_FILE_LIMIT, Identity, check_account_file, resolve_user, with_home
from .kernel import LAST_CAPABILITY
from .nativeshim import NativeProgram
from .processspec import ProcessSpec

PROGRAM: NativeProgram = NativeProgram("execjoin", "SEATRIAL_REFERENCE_NATIVE_EXEC")  # .build(), .binary()


def identity_in(kern, root: int, user: str) -> Identity:
    """`user` resolved in the container's /etc/passwd and /etc/group, read through `root` (pid
    1's root, an fd): the kernel keeps every step of the path inside the container.

    Anything but a regular file is refused before it is opened for reading: this process is
    outside the container's device cgroup, and opening a device node a container made there
    could act on the host's device (a watchdog, a tape); a FIFO would block. The answer is kept
    for the files as they are (device, inode, size, mtime, ctime): a container's next exec
    reads nothing while they stay the same."""
    handles: dict[str, int | None] = {}
    try:
        for name in ACCOUNT_FILES:
            handles[name] = _account_handle(kern, root, name)
        key = (user, *(_version(handle) for handle in handles.values()))
        found = _IDENTITIES.get(key)
        if found is None:
            found = resolve_user(user, read=lambda name: _read(handles[name]))
            if len(_IDENTITIES) >= IDENTITY_CACHE_SIZE:
                _IDENTITIES.clear()
            _IDENTITIES[key] = found
        return found
    finally:
        for handle in handles.values():
            if handle is not None:
                os.close(handle)


ACCOUNT_FILES = ("passwd", "group")
IDENTITY_CACHE_SIZE = 1024
_IDENTITIES: dict[tuple, Identity] = {}


def _account_handle(kern, root: int, name: str) -> int | None:
    """An O_PATH fd of the container's /etc/<name> (looked up, not opened), checked to be a
    regular file of at most ACCOUNT_FILE_LIMIT bytes; None when there is none."""
    try:
        handle = kern.open_in_root(root, f"/etc/{name}")
    except FileNotFoundError:
        return None
    try:
        check_account_file(f"/etc/{name}", os.fstat(handle))
    except OSError:
        os.close(handle)
        raise
    return handle


def _version(handle: int | None) -> tuple | None:
    """What changes whenever the file's content does: which file, its size and its times."""
    if handle is None:
        return None
    info = os.fstat(handle)
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


def _read(handle: int | None) -> str | None:
    if handle is None:
        return None
    fd = os.open(f"/proc/self/fd/{handle}", os.O_RDONLY | os.O_NOCTTY | os.O_CLOEXEC)  # that very file
    try:
        return os.read(fd, ACCOUNT_FILE_LIMIT + 1).decode(errors="replace")
    finally:
        os.close(fd)


def spawn(program: Path, ends: tuple[int, ...], namespaces: int, spec: ProcessSpec, identity: Identity) -> int | None:
    """Start `program` to run spec.argv in the container behind `ends` (pidfd of pid 1, its root,
    stdout, stderr); returns the pid of the command's process, a child of this process (the
    program makes it with CLONE_PARENT and exits), or None when the program could not get that
    far (it has said why on the stderr pipe)."""
    pidfd, root, out, err = ends
    mask = sum(1 << cap for cap in spec.capabilities)
    environment = [f"{key}={value}" for key, value in with_home(spec.env, identity.home).items()]
    with contextlib.ExitStack() as closing:
        seccomp = _filter_file(spec.seccomp) if spec.confined and spec.seccomp else -1
        if seccomp >= 0:
            closing.callback(os.close, seccomp)
        status_r, status_w = os.pipe()
        closing.callback(os.close, status_r)
        try:
            argv = [
                "seatrial-execjoin",
                *map(str, (status_w, pidfd, root, out, err, namespaces)),
                spec.device_cgroup,
                spec.workdir,
                str(identity.uid),
                str(identity.gid),
                ",".join(map(str, identity.groups)),
                "1" if spec.confined else "0",
                format(mask, "x"),
                "1" if spec.no_new_privs else "0",
                str(seccomp),
                str(LAST_CAPABILITY),
                str(len(spec.argv)),
                *spec.argv,
                *environment,
            ]
            kept = [fd for fd in (status_w, pidfd, root, out, err, seccomp) if fd >= 0]
            # an empty environment of its own: nothing of the image's reaches its C library
            program_pid = os.posix_spawn(program, argv, {}, file_actions=[(os.POSIX_SPAWN_DUP2, fd, fd) for fd in kept])
        finally:
            os.close(status_w)  # ours: the program's end of file is its own copy's
        try:
            text = b""
            while chunk := os.read(status_r, 64):
                text += chunk
        finally:
            os.waitpid(program_pid, 0)
    return int(text) if text.strip().isdigit() else None


def _filter_file(bpf: bytes) -> int:
    """A memfd holding the BPF program (struct sock_filter array), read by the program."""
    fd = os.memfd_create("seatrial-seccomp", os.MFD_CLOEXEC)
    try:
        os.write(fd, bpf)
    except BaseException:
        os.close(fd)
        raise
    return fd
