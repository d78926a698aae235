"""What the host needs to run seatrial's VMs, what it lacks, and how it should run them (KVM or
QEMU emulation). Pure checks over an injectable view of the host, so that tests can describe a
machine without vagrant or libvirt on it."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

LIBVIRT_URI = "qemu:///system"
SETUP_HINT = (
    "run `seatrial vm setup` as root (vagrant/setup-host.sh: installs vagrant, vagrant-libvirt, "
    "libvirt-daemon-system, qemu-system-x86, qemu-utils and debootstrap from Debian and starts "
    "libvirtd)"
)

# Commands each step needs, with the Debian package that ships each.
UP_TOOLS = {
    "vagrant": "vagrant",
    "virsh": "libvirt-clients",
    "qemu-system-x86_64": "qemu-system-x86",
    "rsync": "rsync",
    "ssh": "openssh-client",
}
BOX_TOOLS = {"debootstrap": "debootstrap", "mkfs.ext4": "e2fsprogs", "qemu-img": "qemu-utils"}


@dataclass(frozen=True)
class HostView:
    """The facts the checks read; `HostView.probe()` reads them from this machine."""

    tools: frozenset[str]  # commands found on PATH
    has_vagrant_libvirt: bool
    is_libvirtd_up: bool
    is_root: bool
    cpu_flags: frozenset[str] = field(default_factory=frozenset)
    can_open_kvm: bool = False

    @staticmethod
    def probe(which: Callable[[str], str | None] = shutil.which) -> HostView:
        names = set(UP_TOOLS) | set(BOX_TOOLS)
        tools = frozenset(n for n in names if which(n))
        return HostView(
            tools=tools,
            has_vagrant_libvirt=_has_vagrant_libvirt() if "vagrant" in tools else False,
            is_libvirtd_up=_libvirtd_answers() if "virsh" in tools else False,
            is_root=os.geteuid() == 0,
            cpu_flags=_cpu_flags(),
            can_open_kvm=_can_open_kvm(),
        )


def missing(host: HostView, *, for_box: bool = False) -> list[str]:
    """Everything the host lacks for `vm up` (and for building a box), one line each."""
    lacks = []
    if not host.is_root:
        lacks.append("root: libvirt's system instance and the box build (debootstrap) need it; run as root")
    tools = dict(UP_TOOLS, **(BOX_TOOLS if for_box else {}))
    absent = [f"{cmd} (Debian package {pkg})" for cmd, pkg in tools.items() if cmd not in host.tools]
    if absent:
        lacks.append("not on PATH: " + ", ".join(absent))
    if "vagrant" in host.tools and not host.has_vagrant_libvirt:
        lacks.append("the vagrant-libvirt plugin (Debian package vagrant-libvirt)")
    if "virsh" in host.tools and not host.is_libvirtd_up:
        lacks.append(f"libvirtd does not answer on {LIBVIRT_URI} (not started; without systemd it is started by hand)")
    return lacks


def missing_message(lacks: list[str]) -> str:
    """One message for all that is missing, ending with how to get it."""
    lines = ["seatrial vm: this host cannot run the VM yet; it lacks:"]
    lines += [f"  - {item}" for item in lacks]
    lines.append(SETUP_HINT)
    return "\n".join(lines)


def libvirt_driver(host: HostView, override: str | None = None) -> str:
    """'kvm' where hardware virtualization works, else 'qemu' (software emulation, about 80x slower
    to start a process). /dev/kvm alone is not enough: without vmx/svm it exists on some hosts
    and a KVM guest spins instead of booting."""
    if override:
        return override
    has_virt = bool(host.cpu_flags & {"vmx", "svm"})
    return "kvm" if has_virt and host.can_open_kvm else "qemu"


def _cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    try:
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("flags"):
                return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def _can_open_kvm() -> bool:
    try:
        os.close(os.open("/dev/kvm", os.O_RDWR))
        return True
    except OSError:
        return False


def _has_vagrant_libvirt() -> bool:
    # Debian's plugin is a system gem, so `vagrant plugin list` shows it as "(system, global)".
    try:
        out = subprocess.run(["vagrant", "plugin", "list"], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "vagrant-libvirt" in out


def _libvirtd_answers() -> bool:
    try:
        return subprocess.run(["virsh", "-c", LIBVIRT_URI, "version"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False
