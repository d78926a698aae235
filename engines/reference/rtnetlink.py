"""A container's veth pair in one rtnetlink(7) request, without starting ip(8).

Kernel facilities: netlink(7) NETLINK_ROUTE, RTM_NEWLINK with IFLA_LINKINFO kind "veth" whose
VETH_INFO_PEER is created directly in the container's network namespace (IFLA_NET_NS_PID of the
shim), IFLA_MASTER (the bridge) and IFF_UP for the host end, acknowledged (NLM_F_ACK): the
kernel applies all of it in the one request or none of it.

Why not `ip -batch -`: that was a fork and exec of ip(8) on every start on a bridge, on the
critical path (pid 1 waits for its network before it execs), 1.5 to 7 ms of a start here. The
message layout is rtnetlink(7)'s and include/uapi/linux/{rtnetlink,if_link,veth}.h's; the rest
of the network (bridges, iptables rules) is made once per network and stays with ip(8).
"""

from __future__ import annotations

import errno
import os
import socket
import struct

RTM_NEWLINK = 16
NLMSG_ERROR = 2
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE = 0x1, 0x4, 0x200, 0x400
IFLA_IFNAME, IFLA_MASTER, IFLA_LINKINFO, IFLA_NET_NS_PID = 3, 10, 18, 19
IFLA_INFO_KIND, IFLA_INFO_DATA = 1, 2
VETH_INFO_PEER = 1
IFF_UP = 0x1
NLA_F_NESTED = 0x8000
_IFINFOMSG = struct.Struct("=BxHiII")  # family, pad, type, index, flags, change
_NLMSGHDR = struct.Struct("=IHHII")  # length, type, flags, sequence, port


class LinkError(OSError):
    """The kernel refused the request: errno and its words, and what was asked."""


def _attr(kind: int, payload: bytes) -> bytes:
    """One netlink attribute, padded to 4 bytes."""
    length = 4 + len(payload)
    return struct.pack("=HH", length, kind) + payload + b"\0" * (-length % 4)


def _name(name: str) -> bytes:
    raw = name.encode() + b"\0"
    if len(raw) > 16:  # IFNAMSIZ
        raise ValueError(f"interface name {name!r} is longer than 15 bytes")
    return raw


def veth_request(host_end: str, peer_netns_pid: int, bridge_index: int, sequence: int = 1) -> bytes:
    """RTM_NEWLINK: veth `host_end` in this netns, enslaved to the bridge of index `bridge_index`
    and up, its peer `eth0` made in the netns of process `peer_netns_pid` (down: the shim sets
    its address and brings it up inside)."""
    peer = _IFINFOMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0)
    peer += _attr(IFLA_IFNAME, _name("eth0")) + _attr(IFLA_NET_NS_PID, struct.pack("=I", peer_netns_pid))
    data = _attr(VETH_INFO_PEER | NLA_F_NESTED, peer)
    linkinfo = _attr(IFLA_INFO_KIND, b"veth\0") + _attr(IFLA_INFO_DATA | NLA_F_NESTED, data)
    body = _IFINFOMSG.pack(socket.AF_UNSPEC, 0, 0, IFF_UP, IFF_UP)
    body += _attr(IFLA_IFNAME, _name(host_end))
    body += _attr(IFLA_MASTER, struct.pack("=I", bridge_index))
    body += _attr(IFLA_LINKINFO | NLA_F_NESTED, linkinfo)
    flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL
    return _NLMSGHDR.pack(_NLMSGHDR.size + len(body), RTM_NEWLINK, flags, sequence, 0) + body


def acknowledged(reply: bytes, sequence: int) -> int:
    """The errno of the kernel's answer to request `sequence` (0: done)."""
    offset = 0
    while offset + _NLMSGHDR.size <= len(reply):
        length, kind, _, seq, _ = _NLMSGHDR.unpack_from(reply, offset)
        if kind == NLMSG_ERROR and seq == sequence:
            return -struct.unpack_from("=i", reply, offset + _NLMSGHDR.size)[0]
        if length < _NLMSGHDR.size:
            break
        offset += (length + 3) & ~3
    return errno.EPROTO


def add_veth(host_end: str, peer_netns_pid: int, bridge: str) -> None:
    """Create the pair as `veth_request` says, or raise LinkError with the kernel's reason."""
    try:
        bridge_index = socket.if_nametoindex(bridge)
    except OSError:
        raise LinkError(errno.ENODEV, f"bridge {bridge}: no such device") from None
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, socket.NETLINK_ROUTE) as sock:
        sock.bind((0, 0))
        sock.send(veth_request(host_end, peer_netns_pid, bridge_index))
        code = acknowledged(sock.recv(65536), 1)
    if code:
        what = f"veth {host_end} on {bridge}, eth0 in the netns of pid {peer_netns_pid}"
        raise LinkError(code, f"{what}: {os.strerror(code)}")
