"""Host ports and addresses: free loopback ports for publishing, and which addresses a
scenario may send traffic to (loopback and private ones: this host and its containers)."""

from __future__ import annotations

import ipaddress
import socket


def free_port() -> int:
    """A loopback port free right now, so that scenarios can name it before the run."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def allowed_address(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return ip.is_loopback or ip.is_private
