"""Docker's default confinement: capability set, seccomp denials, masked and read-only paths.

Kernel facilities: capabilities(7); seccomp(2) with a BPF filter compiled by libseccomp
(seccomp_export_bpf(3), through the `pyseccomp` ctypes binding) once per process and then
loaded in each container with prctl(2), so no container start pays for compiling it.
The lists follow moby's defaults (oci/caps/defaults.go, profiles/seccomp/default.json,
oci/defaults.go), expressed as denials: the syscalls Docker's allowlist leaves out.
"""

from __future__ import annotations

import errno
import functools
import tempfile

from seatrial.engines import capsets

# capabilities(7) numbers of Docker's default set
DEFAULT_CAPABILITIES = {
    "CAP_CHOWN": 0,
    "CAP_DAC_OVERRIDE": 1,
    "CAP_FOWNER": 3,
    "CAP_FSETID": 4,
    "CAP_KILL": 5,
    "CAP_SETGID": 6,
    "CAP_SETUID": 7,
    "CAP_SETPCAP": 8,
    "CAP_NET_BIND_SERVICE": 10,
    "CAP_NET_RAW": 13,
    "CAP_SYS_CHROOT": 18,
    "CAP_MKNOD": 27,
    "CAP_AUDIT_WRITE": 29,
    "CAP_SETFCAP": 31,
}
DEFAULT_CAPABILITY_SET = frozenset(DEFAULT_CAPABILITIES.values())

MASKED_PATHS = (
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
)
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")

# Syscalls outside Docker's default allowlist (for a container without extra capabilities).
# clock_adjtime is allowed, as in Docker's profile: glibc's adjtimex(3) calls it, reading the
# clock is harmless, and changing it needs CAP_SYS_TIME, which containers lack.
DENIED_SYSCALLS = (
    "acct",
    "add_key",
    "bpf",
    "clock_settime",
    "create_module",
    "delete_module",
    "finit_module",
    "fsconfig",
    "fsmount",
    "fsopen",
    "fspick",
    "get_kernel_syms",
    "get_mempolicy",
    "init_module",
    "ioperm",
    "iopl",
    "kcmp",
    "kexec_file_load",
    "kexec_load",
    "keyctl",
    "lookup_dcookie",
    "mbind",
    "mount",
    "mount_setattr",
    "move_mount",
    "move_pages",
    "name_to_handle_at",
    "nfsservctl",
    "open_by_handle_at",
    "open_tree",
    "perf_event_open",
    "pivot_root",
    "process_vm_readv",
    "process_vm_writev",
    "quotactl",
    "quotactl_fd",
    "reboot",
    "request_key",
    "set_mempolicy",
    "setns",
    "settimeofday",
    "swapoff",
    "swapon",
    "sysfs",
    "syslog",
    "_sysctl",
    "umount",
    "umount2",
    "unshare",
    "uselib",
    "userfaultfd",
    "ustat",
    "vm86",
    "vm86old",
)
# CLONE_NEW{NS,CGROUP,UTS,IPC,USER,PID,NET}
_NAMESPACE_FLAGS = (0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000)


# Syscalls Docker's profile allows only when the container holds a capability (`--cap-add`).
SYSCALLS_OF_CAPABILITY = {
    "SYS_ADMIN": (
        "bpf",
        "fsconfig",
        "fsmount",
        "fsopen",
        "fspick",
        "lookup_dcookie",
        "mount",
        "mount_setattr",
        "move_mount",
        "name_to_handle_at",
        "open_tree",
        "perf_event_open",
        "quotactl",
        "quotactl_fd",
        "setns",
        "syslog",
        "umount",
        "umount2",
        "unshare",
    ),
    "SYS_BOOT": ("reboot",),
    "SYS_MODULE": ("delete_module", "init_module", "finit_module"),
    "SYS_PACCT": ("acct",),
    "SYS_PTRACE": ("kcmp", "process_vm_readv", "process_vm_writev"),
    "SYS_RAWIO": ("iopl", "ioperm"),
    "SYS_TIME": ("settimeofday", "clock_settime"),
    "SYS_NICE": ("get_mempolicy", "mbind", "set_mempolicy"),
    "SYSLOG": ("syslog",),
}


def allowed_by(cap_add) -> frozenset[str]:
    """Syscalls that added capabilities open up, as in Docker's default profile."""
    return frozenset(name for cap in cap_add for name in SYSCALLS_OF_CAPABILITY.get(cap.removeprefix("CAP_"), ()))


@functools.lru_cache(maxsize=8)
def seccomp_bpf(allowed: frozenset[str] = frozenset()) -> bytes:
    """The compiled BPF program: EPERM for DENIED_SYSCALLS (less `allowed`) and namespace-creating
    clone(2) (unless CAP_SYS_ADMIN opened `unshare`), ENOSYS for clone3(2) (so libcs fall back to
    clone), everything else allowed."""
    import pyseccomp as seccomp

    flt = seccomp.SyscallFilter(seccomp.ALLOW)
    for name in DENIED_SYSCALLS:
        if name in allowed:
            continue
        try:
            flt.add_rule(seccomp.ERRNO(errno.EPERM), name)
        except (OSError, ValueError):
            pass  # not a syscall on this architecture
    for flag in _NAMESPACE_FLAGS if "unshare" not in allowed else ():
        flt.add_rule(seccomp.ERRNO(errno.EPERM), "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
    flt.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    with tempfile.TemporaryFile() as handle:
        flt.export_bpf(handle)
        handle.seek(0)
        return handle.read()


def confinement(record: dict) -> dict:
    """ProcessSpec fields for the confinement a container was run with: Docker's defaults,
    changed by --privileged, --cap-add, seccomp=unconfined and no-new-privileges."""
    if record.get("privileged"):
        return {"confined": False, "seccomp": b""}
    keep = DEFAULT_CAPABILITY_SET | {capsets.NUMBERS[name.removeprefix("CAP_")] for name in record.get("cap_add", ())}
    return {
        "confined": True,
        "capabilities": frozenset(keep),
        "no_new_privs": bool(record.get("no_new_privileges")),
        "seccomp": b"" if record.get("seccomp") == "unconfined" else seccomp_bpf(allowed_by(record.get("cap_add", ()))),
    }
