"""Names of a checkout's VMs in libvirt: domains, their disks and the management network.

libvirt is one per host, but several checkouts of the project (a CI clone beside a developer's
work tree) may each run `seatrial vm` at once. Each gets names and a subnet of its own, derived
from the checkout's path, so that neither can boot into, sweep or tear down the other's VMs.
The Vagrantfile derives the same names when Vagrant is run by hand (see `vagrant/Vagrantfile`);
`seatrial vm` passes them in its environment so both always agree.

Box images in libvirt's pool (`seatrial-VAGRANTSLASH-..._box.img`) are a cache shared by all
checkouts: no checkout's prefix (`seatrial-<8 hex digits>-`) can match them."""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

# Third octets 128..239 of 192.168.x.0/24: clear of 192.168.127.0/24 (the one fixed name of
# earlier versions), of libvirt's own default 192.168.122.0/24 and of the common home ranges.
SUBNET_FIRST, SUBNET_COUNT = 128, 112


@dataclass(frozen=True)
class VmNames:
    """What one checkout's VMs are called in libvirt."""

    prefix: str  # vagrant-libvirt's default_prefix: domain <prefix><machine>, disk <prefix><machine>.img
    network: str  # the management network's name
    subnet: str  # its address range, e.g. 192.168.173.0/24

    @staticmethod
    def for_project(project: Path) -> VmNames:
        digest = hashlib.sha256(str(project.resolve()).encode()).hexdigest()
        tag = digest[:8]
        octet = SUBNET_FIRST + int(digest[8:12], 16) % SUBNET_COUNT
        return VmNames(prefix=f"seatrial-{tag}-", network=f"seatrial-{tag}", subnet=f"192.168.{octet}.0/24")

    def env(self) -> dict[str, str]:
        """The variables the Vagrantfile reads these names from."""
        return {
            "SEATRIAL_VM_PREFIX": self.prefix,
            "SEATRIAL_VM_NETWORK": self.network,
            "SEATRIAL_VM_SUBNET": self.subnet,
        }

    def overridden(self, environ: Mapping[str, str]) -> VmNames:
        """These names, with any the user set in the environment (the same variables) instead."""
        return VmNames(
            prefix=environ.get("SEATRIAL_VM_PREFIX") or self.prefix,
            network=environ.get("SEATRIAL_VM_NETWORK") or self.network,
            subnet=environ.get("SEATRIAL_VM_SUBNET") or self.subnet,
        )

    def is_ours(self, name: str) -> bool:
        """A domain or pool volume of this checkout's VMs."""
        return name.startswith(self.prefix)


def clashing_routes(subnet: str, routes: list[str]) -> list[str]:
    """Lines of `ip -o route` (or libvirt networks' ranges) that overlap `subnet`: booting there
    would fail ("Network is already in use by interface") or cut the host off from that range."""
    ours = ipaddress.ip_network(subnet)
    clashes = []
    for line in routes:
        words = line.split()
        if not words or words[0] == "default":
            continue
        try:
            theirs = ipaddress.ip_network(words[0], strict=False)
        except ValueError:
            continue
        if theirs.version == 4 and ours.overlaps(theirs):
            clashes.append(line.strip())
    return clashes
