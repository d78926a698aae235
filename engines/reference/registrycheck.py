"""What happens when an image is absent: the reference runtime has no registry client, but it
tells the truth about the registry the reference names, as Docker's error does.

Kernel facilities: connect(2) on a TCP socket, and only to loopback: the runtime never sends
traffic to another host, so a registry elsewhere is reported unreachable without trying.
"""

from __future__ import annotations

import ipaddress
import socket


def registry_of(reference: str) -> tuple[str, int] | None:
    """(host, port) of the registry a reference names, or None for Docker Hub's default."""
    first, _, rest = reference.partition("/")
    if not rest or not ("." in first or ":" in first or first == "localhost"):
        return None
    host, _, port = first.partition(":")
    return host, int(port) if port.isdigit() else 443


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def absent_image_message(reference: str, *, may_pull: bool) -> str:
    """Why `reference` cannot be run: not here, and (unless pulling is off) where a pull failed."""
    if not may_pull:
        return f"No such image: {reference} (pull policy never)"
    registry = registry_of(reference)
    if registry is None:
        return (
            f"image {reference!r} is not here and the reference runtime has no registry client "
            "(Docker Hub is not contacted); load or build it first"
        )
    host, port = registry
    if not _is_loopback(host):
        return (
            f"image {reference!r} is not here; registry {host}:{port} is not on loopback and "
            "the reference runtime contacts no other host; load or build it first"
        )
    try:
        with socket.create_connection(("127.0.0.1" if host == "localhost" else host, port), timeout=2):
            pass
    except OSError as exc:
        return f"pull of {reference!r}: registry {host}:{port}: connect: {exc.strerror or exc}".replace(
            "Connection refused", "connection refused"
        )
    return (
        f"pull of {reference!r}: registry {host}:{port} answers, but the reference runtime has no "
        "registry client; load or build the image first"
    )
