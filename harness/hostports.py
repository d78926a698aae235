"""Host ports and addresses: loopback ports reserved for publishing, and which addresses a
scenario may send traffic to (loopback and private ones: this host and its containers).

A port is chosen before the engine binds it (scenarios name it in templates, and the reference
runtime's shim binds what it is given), so "free right now" is not enough: two items running side
by side (`-n`: xdist workers, other runs) could be handed the same port between one's probe and
its engine's bind. A port is therefore *reserved*: an flock(2) on `<ports dir>/<port>.lock`, held
until the item ends (the kernel drops it if the process dies). A port counts as free only while
this process holds its lock and both a TCP and a UDP socket can bind it on 127.0.0.1.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path

from seatrial.harness.session import hold_lock, lock_dir

ATTEMPTS = 200  # each attempt draws a fresh ephemeral port; 200 taken in a row means none is free


def reservation_dir() -> Path:
    """Beside the session locks (so a test's SEATRIAL_LOCK_DIR keeps its reservations private)."""
    return lock_dir().parent / "ports"


class PortReservations:
    """The host ports one item holds; `release()` gives them back (at the item's teardown)."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or reservation_dir()
        self._held: dict[int, int] = {}  # port -> fd holding its lock

    @property
    def ports(self) -> tuple[int, ...]:
        return tuple(self._held)

    def reserve(self) -> int:
        """A loopback port that no other process holds or binds; held until `release()`."""
        self.directory.mkdir(parents=True, exist_ok=True)
        for _ in range(ATTEMPTS):
            port = _ephemeral_port()
            if port in self._held:
                continue
            fd = hold_lock(self.directory / f"{port}.lock")
            if fd is None:
                continue  # another worker holds it: its engine may not have bound it yet
            if not is_bindable(port):  # bound between our probe and our lock
                self._drop(port, fd)
                continue
            self._held[port] = fd
            return port
        raise RuntimeError(
            f"no free loopback port after {ATTEMPTS} tries (reservations in {self.directory}); "
            "is the ephemeral port range (/proc/sys/net/ipv4/ip_local_port_range) exhausted?"
        )

    def release(self) -> None:
        """Give back every port this item holds; safe to call twice."""
        for port, fd in list(self._held.items()):
            self._drop(port, fd)
        self._held.clear()

    def _drop(self, port: int, fd: int) -> None:
        # Unlinked while still locked, so that no one locks the old file in between; a process
        # that opened it already sees the path gone and opens a fresh one (hold_lock).
        try:
            (self.directory / f"{port}.lock").unlink(missing_ok=True)
        finally:
            os.close(fd)


def _ephemeral_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def is_bindable(port: int) -> bool:
    """True when both a TCP and a UDP socket can bind 127.0.0.1:port now."""
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET, kind) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def allowed_address(address: str) -> bool:
    """Whether a probe may send traffic to `address`: loopback and private addresses only."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return ip.is_loopback or ip.is_private
