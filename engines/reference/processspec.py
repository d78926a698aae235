"""What the launcher, the shim, the container's init and exec share: the spec of a container's
process, the namespaces every container gets, and the rule for the fds a process inherits.

Kernel facilities: namespaces(7) flags for unshare(2) (CLONE_NEW*, kernel.py); close_range(2)
(os.closerange) and dup2(2) so that no fd of the harness reaches a container (its pipes must see
EOF when it exits, even while detached containers run).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

from . import kernel as k
from .rootfs import RootfsSpec
from .security import DEFAULT_CAPABILITY_SET

# Every container's namespaces but the netns (which depends on its network) and the mount
# namespace (pid 1's own); the cgroup namespace where the host has them.
BASE_NAMESPACES = (
    k.CLONE_NEWPID
    | k.CLONE_NEWUTS
    | k.CLONE_NEWIPC
    | (k.CLONE_NEWCGROUP if os.path.exists("/proc/self/ns/cgroup") else 0)
)


@dataclass(frozen=True)
class Interface:
    """eth0 inside the container: the harness moves it in; the shim configures it."""

    address: str
    netmask: str
    gateway: str


@dataclass(frozen=True)
class ProcessSpec:
    """Everything the shim, pid 1 or an exec child needs to start a container's process."""

    argv: tuple[str, ...]
    env: tuple[str, ...]  # "KEY=value"
    workdir: str
    user: str
    hostname: str
    rootfs: RootfsSpec | None
    container_dir: str  # stdout, stderr and exit live here
    namespaces: int  # CLONE_NEW* flags for the shim (mount is pid 1's own)
    interface: Interface | None = None
    listeners: tuple = ()  # (listening socket, container address, container port)
    confined: bool = True
    capabilities: frozenset = DEFAULT_CAPABILITY_SET  # kept when confined (Docker's set + cap_add)
    no_new_privs: bool = False  # Docker's default is off; `--security-opt no-new-privileges`
    has_dns: bool = False  # answer names from the container's hosts file (dns.py)
    seccomp: bytes = b""
    trash_dir: str = ""  # where the harness moves container_dir to have it deleted
    device_cgroup: str = ""  # the container's device cgroup (devices.py); "": no rules
    attach_network: Callable[[int], None] | None = None  # run by the harness, with the shim's pid, before pid 1 starts
    extra: dict = field(default_factory=dict, hash=False, compare=False)


def close_other_fds(keep: set[int]) -> None:
    """Drop every fd inherited from the harness except `keep`; stdio goes to /dev/null."""
    null = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    close_fds_above_stdio_except(keep)


def close_fds_above_stdio_except(keep) -> None:
    """Close every fd above 2 but those in `keep`."""
    bounds = [2, *sorted(set(keep) - {0, 1, 2}), 2**31 - 1]
    for low, high in zip(bounds, bounds[1:]):
        os.closerange(low + 1, high)
