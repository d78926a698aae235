"""Address allocation for bridge networks: pure Python over ipaddress, no kernel calls.

Subnets are /24s carved from 10.213.0.0/16, the first that no network of this state root and no
route of the host uses (the caller collects both); in each, .1
is the bridge's own address (the containers' gateway) and containers get the lowest free one.
"""

from __future__ import annotations

import ipaddress

SUPERNET = ipaddress.ip_network("10.213.0.0/16")


class AddressesExhausted(RuntimeError):
    pass


def pick_subnet(used: set[str]) -> str:
    """The first /24 of SUPERNET that is not in `used`."""
    for subnet in SUPERNET.subnets(new_prefix=24):
        if str(subnet) not in used:
            return str(subnet)
    raise AddressesExhausted(f"no free /24 left in {SUPERNET}")


def gateway(subnet: str) -> str:
    return str(next(ipaddress.ip_network(subnet).hosts()))


def netmask(subnet: str) -> str:
    return str(ipaddress.ip_network(subnet).netmask)


def allocate(subnet: str, used: set[str]) -> str:
    """The lowest host address of `subnet` that is neither the gateway nor in `used`."""
    taken = set(used) | {gateway(subnet)}
    for host in ipaddress.ip_network(subnet).hosts():
        if str(host) not in taken:
            return str(host)
    raise AddressesExhausted(f"no free address left in {subnet}")
