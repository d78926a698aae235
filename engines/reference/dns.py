"""A tiny DNS responder for user-defined networks, answering from the container's /etc/hosts.

Kernel facilities: a UDP socket (udp(7)) bound to 127.0.0.11:53 inside the container's network
namespace by its shim, like Docker's embedded DNS; wire format from RFC 1035. It answers A
queries for names in the hosts file, NOERROR with no answer for other types of known names (so
resolvers fall back to A), and NXDOMAIN for the rest: there is no upstream to forward to.
Pure functions; the shim's loop calls `respond`.
"""

from __future__ import annotations

import socket
import struct

ADDRESS = "127.0.0.11"
_A, _IN = 1, 1


def read_hosts(path: str) -> dict[str, str]:
    """name -> IPv4 address, first line wins, as the resolver reads /etc/hosts."""
    names: dict[str, str] = {}
    try:
        with open(path) as handle:
            for line in handle:
                fields = line.split("#", 1)[0].split()
                if len(fields) >= 2 and "." in fields[0] and ":" not in fields[0]:
                    for name in fields[1:]:
                        names.setdefault(name.lower().rstrip("."), fields[0])
    except OSError:
        pass
    return names


def _question(query: bytes) -> tuple[str, int, int, int]:
    """(name, type, class, offset after the question) of the first question."""
    labels, offset = [], 12
    while (length := query[offset]) != 0:
        if length & 0xC0:
            raise ValueError("compressed name in a question")
        labels.append(query[offset + 1 : offset + 1 + length].decode("ascii", "replace"))
        offset += 1 + length
    qtype, qclass = struct.unpack("!HH", query[offset + 1 : offset + 5])
    return ".".join(labels).lower(), qtype, qclass, offset + 5


def answer(query: bytes, names: dict[str, str]) -> bytes:
    """The response to `query` given the `names` of the hosts file."""
    (ident,) = struct.unpack("!H", query[:2])
    name, qtype, qclass, end = _question(query)
    question = query[12:end]
    address = names.get(name)
    if address is None:
        return struct.pack("!HHHHHH", ident, 0x8183, 1, 0, 0, 0) + question
    if qtype != _A or qclass != _IN:
        return struct.pack("!HHHHHH", ident, 0x8180, 1, 0, 0, 0) + question
    record = struct.pack("!HHHIH", 0xC00C, _A, _IN, 5, 4) + socket.inet_aton(address)
    return struct.pack("!HHHHHH", ident, 0x8180, 1, 1, 0, 0) + question + record


def respond(sock: socket.socket, hosts_path: str) -> None:
    try:
        query, peer = sock.recvfrom(512)
        sock.sendto(answer(query, read_hosts(hosts_path)), peer)
    except (OSError, ValueError, struct.error, IndexError):
        pass  # a malformed query gets no answer, as from any server
