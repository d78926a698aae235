"""What the reference runtime is and what it can do on this host.

Kernel facilities probed: geteuid(2), /proc/filesystems (overlay), statfs of /sys/fs/cgroup
(cgroup v1 or v2, cgroups(7)), ip-link(8) on PATH for bridges.
"""

from __future__ import annotations

import os
import shutil
from importlib import metadata

from seatrial.engines import base


def _version() -> str:
    try:
        return metadata.version("seatrial")
    except metadata.PackageNotFoundError:
        return "0"


def cgroup_version() -> str:
    try:
        with open("/proc/self/mounts") as handle:
            for line in handle:
                fields = line.split()
                if fields[1] == "/sys/fs/cgroup":
                    return "2" if fields[2] == "cgroup2" else "1"
    except OSError:
        pass
    return ""


def missing() -> dict[str, str]:
    """Each capability this host lacks, with the reason (see base.CAPABILITIES)."""
    if os.geteuid() != 0:
        return {name: "needs root (the reference runtime is rootful)" for name in base.CAPABILITIES}
    gaps: dict[str, str] = {"rootless": "the reference runtime is rootful (no user namespaces yet)"}
    with open("/proc/filesystems") as handle:
        if "overlay" not in handle.read():
            return {name: "the kernel has no overlayfs (modprobe overlay)" for name in base.CAPABILITIES}
    if not shutil.which("ip"):
        for name in ("network.bridge", "network.user_defined"):
            gaps[name] = "needs the ip command (iproute2) for bridges and veth pairs"
    try:
        import pyseccomp  # noqa: F401
    except (ImportError, OSError) as exc:
        for name in base.CAPABILITIES:
            gaps[name] = f"seccomp needs pyseccomp and libseccomp.so.2: {exc}"
    return gaps


def info(engine) -> base.EngineInfo:
    gaps = missing()
    version = _version()
    return base.EngineInfo(
        name=engine.name,
        is_available=len(gaps) < len(base.CAPABILITIES),
        client_version=version,
        server_version=version,
        oci_runtime="seatrial-reference",
        storage_driver="overlay",
        cgroup_version=cgroup_version(),
        is_rootless=False,
        unavailable_reason="; ".join(sorted(set(gaps.values()))) if len(gaps) == len(base.CAPABILITIES) else "",
        extra={
            "state_root": str(engine._root or os.environ.get("SEATRIAL_REFERENCE_ROOT", "/var/lib/seatrial/reference"))
        },
    )


def capabilities() -> base.Capabilities:
    return base.Capabilities(missing())
