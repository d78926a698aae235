"""Facts about the host that scenarios compare the inside of a container with (claims C01,
C03, C19): kernel release, hostname, namespace ids, the default-route interface and its MAC."""

from __future__ import annotations

import os
import platform
import socket
from pathlib import Path


def _default_interface() -> str:
    try:
        for line in Path("/proc/net/route").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[1] == "00000000":
                return fields[0]
    except OSError:
        pass
    names = sorted(n for n in os.listdir("/sys/class/net") if n != "lo")
    return names[0] if names else "lo"


NAMESPACES = ("pid", "mnt", "uts", "ipc", "net")
# The names host_facts() gives, known before it runs (validation checks placeholders against them).
HOST_FACTS = (
    "host_kernel",
    "host_hostname",
    "host_interface",
    "host_interface_mac",
    *(f"host_ns_{ns}" for ns in NAMESPACES),
)


def host_facts() -> dict[str, str]:
    """Placeholders named `host_*` in scenarios."""
    iface = _default_interface()
    try:
        mac = Path(f"/sys/class/net/{iface}/address").read_text().strip()
    except OSError:
        mac = ""
    facts = {
        "host_kernel": platform.release(),
        "host_hostname": socket.gethostname(),
        "host_interface": iface,
        "host_interface_mac": mac,
    }
    for ns in NAMESPACES:
        facts[f"host_ns_{ns}"] = os.readlink(f"/proc/self/ns/{ns}")
    return facts
