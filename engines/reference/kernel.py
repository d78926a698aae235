"""The door to the system calls that change what a process is or sees: its namespaces, mounts,
root, identity and confinement, and a container's network interfaces. These are the calls a unit
test must not make: `RecordingKernel` records them instead.

Kernel facilities and their man pages:
  mount(2), umount2(2), pivot_root(2), chroot(2), mknod(2) -- the container's filesystem tree
  unshare(2), setns(2), namespaces(7)                   -- pid, mount, uts, ipc, net, cgroup
  sethostname(2)                                        -- uts namespace
  setgroups(2), setgid(2), setuid(2), credentials(7)    -- the container's user (identity.py)
  prctl(2) PR_SET_NO_NEW_PRIVS, PR_CAPBSET_DROP, PR_CAP_AMBIENT, capset(2), capabilities(7)
  openat2(2) RESOLVE_IN_ROOT                           -- paths inside a root (scope.py's oracle)
  prctl(2) PR_SET_DUMPABLE, PR_SET_PDEATHSIG            -- ptrace(2) "Ptrace access mode checking"
  seccomp(2) SECCOMP_SET_MODE_FILTER                    -- a BPF program made by libseccomp
  netdevice(7) SIOCSIFFLAGS/SIOCSIFADDR/SIOCSIFNETMASK, route(7) SIOCADDRT -- inside a netns

Not every system call goes through here. Ordinary process and file calls stay on `os` in the
modules that make them, each naming them in its docstring: fork(2), pipe(2), waitpid(2),
pidfd_open(2) and pidfd_send_signal(2) (procfs.py, shim.py, containers.py), unix(7) fd passing
(shim.py, containerinit.py, zygote.py), sched_setscheduler(2) of spares (zygote.py), execve(2)
(containerinit.py), the device cgroup's files (devices.py), and mknod(2) of whiteouts and copied
device nodes under the engine's own state root (layers.py, scope.py). Failures here raise
OSError naming the operation, its arguments and errno.
"""

from __future__ import annotations

import ctypes
import errno as errno_mod
import fcntl
import os
import socket
import struct

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MNT_DETACH = 2

PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
PR_SET_SECCOMP = 22
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_IN_ROOT = 0x10
_SYS_OPENAT2 = 437  # the same number on every architecture (Linux 5.6)
SECCOMP_MODE_FILTER = 2
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
_SYS_PIVOT_ROOT = 155  # x86_64

_SIOCADDRT = 0x890B
_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_SIOCSIFADDR = 0x8916
_SIOCSIFNETMASK = 0x891C
_IFF_UP = 0x1
_RTF_UP, _RTF_GATEWAY = 0x1, 0x2


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


_libc = ctypes.CDLL(None, use_errno=True)
# Read once, when the zygote imports this module: a container's pid 1 would read it through its
# own /proc, on the way to starting the command.
try:
    LAST_CAPABILITY = int(open("/proc/sys/kernel/cap_last_cap").read())
except OSError:
    LAST_CAPABILITY = 40  # Linux 6.x: CAP_CHECKPOINT_RESTORE
_libc.syscall.restype = ctypes.c_long


def _check(result: int, operation: str) -> None:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{operation}: {errno_mod.errorcode.get(err, err)} ({os.strerror(err)})")


def _b(value: str | None) -> bytes | None:
    return None if value is None else os.fsencode(value)


def _sockaddr_in(address: str) -> bytes:
    return struct.pack("<H", socket.AF_INET) + b"\0\0" + socket.inet_aton(address) + b"\0" * 8


class Kernel:
    """The real system calls (needs root for most of them)."""

    def mount(
        self, source: str | None, target: str, fstype: str | None = None, flags: int = 0, data: str | None = None
    ) -> None:
        _check(
            _libc.mount(_b(source), _b(target), _b(fstype), ctypes.c_ulong(flags), _b(data)),
            f"mount({source!r}, {target!r}, {fstype!r}, {flags:#x}, {data!r})",
        )

    def umount(self, target: str, flags: int = 0) -> None:
        _check(_libc.umount2(_b(target), flags), f"umount2({target!r}, {flags})")

    def unshare(self, flags: int) -> None:
        _check(_libc.unshare(flags), f"unshare({flags:#x})")

    def setns(self, fd: int, nstype: int = 0) -> None:
        _check(_libc.setns(fd, nstype), f"setns({fd}, {nstype:#x})")

    def enter_root(self, directory_fd: int) -> None:
        """Make the directory behind `directory_fd` this process's root and cwd (chroot(2))."""
        os.fchdir(directory_fd)
        os.chroot(".")

    def pivot_root(self, new_root: str, put_old: str) -> None:
        _check(_libc.syscall(_SYS_PIVOT_ROOT, _b(new_root), _b(put_old)), f"pivot_root({new_root!r}, {put_old!r})")

    def sethostname(self, name: str) -> None:
        raw = name.encode()
        _check(_libc.sethostname(raw, len(raw)), f"sethostname({name!r})")

    def mknod(self, path: str, mode: int, major: int, minor: int) -> None:
        os.mknod(path, mode, os.makedev(major, minor))

    def set_identity(self, uid: int, gid: int, groups: tuple[int, ...]) -> None:
        """Become `uid`, with primary group `gid` and supplementary `groups` (credentials(7)):
        the groups first, while CAP_SETGID is still held, and the uid last."""
        os.setgroups(list(groups))
        os.setgid(gid)
        os.setuid(uid)

    def set_no_new_privs(self) -> None:
        _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")

    def open_in_root(self, root_fd: int, path: str, flags: int = os.O_PATH, mode: int = 0) -> int:
        """openat2(2) of `path` with RESOLVE_IN_ROOT under the directory `root_fd`: the kernel keeps
        every step, symlinks and `..` included, inside it. Returns the new fd."""
        how = _OpenHow(flags | os.O_CLOEXEC, mode, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
        fd = _libc.syscall(_SYS_OPENAT2, root_fd, os.fsencode(path), ctypes.byref(how), ctypes.sizeof(how))
        _check(fd, f"openat2({path!r}, RESOLVE_IN_ROOT)")
        return fd

    def set_non_dumpable(self) -> None:
        """No core dumps, and no /proc/PID/exe, mem or fd for anyone without CAP_SYS_PTRACE:
        the CVE-2019-5736 defence for a process that joins a container (runc does the same)."""
        _check(_libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), "prctl(PR_SET_DUMPABLE, 0)")

    def set_parent_death_signal(self, signum: int) -> None:
        _check(_libc.prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0), f"prctl(PR_SET_PDEATHSIG, {signum})")

    def limit_capabilities(self, keep: frozenset[int]) -> None:
        """Drop every capability not in `keep` from the bounding, ambient and process sets."""
        for cap in range(LAST_CAPABILITY + 1):
            if cap not in keep:
                _check(_libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0), f"prctl(PR_CAPBSET_DROP, {cap})")
        _check(_libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "prctl(PR_CAP_AMBIENT_CLEAR_ALL)")
        mask = sum(1 << cap for cap in keep)
        data = (_CapData * 2)(_CapData(mask & 0xFFFFFFFF, mask & 0xFFFFFFFF, 0), _CapData(mask >> 32, mask >> 32, 0))
        header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
        _check(_libc.capset(ctypes.byref(header), data), "capset")

    def load_seccomp(self, bpf: bytes) -> None:
        """Install a BPF program (struct sock_filter array, 8 bytes each) for this thread."""
        buffer = ctypes.create_string_buffer(bpf, len(bpf))
        prog = _SockFprog(len(bpf) // 8, ctypes.cast(buffer, ctypes.c_void_p))
        _check(_libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0), "prctl(PR_SET_SECCOMP)")

    def interface_up(self, name: str) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            req = struct.pack("16sH14x", name.encode(), 0)
            flags = struct.unpack("16sH14x", fcntl.ioctl(s, _SIOCGIFFLAGS, req))[1]
            fcntl.ioctl(s, _SIOCSIFFLAGS, struct.pack("16sH14x", name.encode(), flags | _IFF_UP))

    def set_address(self, name: str, address: str, netmask: str) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            fcntl.ioctl(s, _SIOCSIFADDR, name.encode().ljust(16, b"\0") + _sockaddr_in(address))
            fcntl.ioctl(s, _SIOCSIFNETMASK, name.encode().ljust(16, b"\0") + _sockaddr_in(netmask))

    def add_default_route(self, gateway: str) -> None:
        # struct rtentry on x86_64: pad, dst, gateway, genmask, flags, pad..., dev pointer
        entry = struct.pack(
            "<Q16s16s16sH",
            0,
            _sockaddr_in("0.0.0.0"),
            _sockaddr_in(gateway),
            _sockaddr_in("0.0.0.0"),
            _RTF_UP | _RTF_GATEWAY,
        ).ljust(120, b"\0")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            fcntl.ioctl(s, _SIOCADDRT, entry)


class RecordingKernel:
    """A double that records each call as (name, args) and does nothing; for unit tests."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple]] = []

    def __getattr__(self, name: str):
        if name.startswith("_") or not hasattr(Kernel, name):
            raise AttributeError(name)

        def record(*args, **kwargs):
            self.calls.append((name, args + tuple(kwargs.values())))

        return record

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]
