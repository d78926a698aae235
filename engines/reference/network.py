"""Networks: none, host, the default bridge and user-defined bridges.

Kernel facilities: network_namespaces(7) (made by the shim's unshare), veth(4) pairs whose
container end is created directly inside the container's netns (no move, no rename), bridges
(ip-link(8) `type bridge`), netdevice(7) ioctls for eth0 inside (kernel.py), iptables(8) FORWARD
rules so that a bridge talks to itself only (br_netfilter may be loaded by Docker with a DROP
policy). A container's veth pair is one rtnetlink(7) request (rtnetlink.py); bridges, made once
per network, go through one `ip -batch -` each. Names carry a short session-derived tag
(`sr<tag>...`) for the reaper; the default bridge is `strf<4 hex of the state root>`. Subnets
are chosen under a host-wide lock among those no route uses yet (/proc/net/route), so several
state roots never collide.

Name resolution: on user-defined networks each container's /etc/hosts (a file of its container
directory, bind-mounted) lists every peer, rewritten in place when a peer joins or leaves.
The default bridge gives no names, as Docker's does not.

State: `networks/<name>.json` holds a network's own fields and is written when the network is
made (or its subnet exchanged); each container's address on it is a file of its own,
`networks/<name>.endpoints/<id>`, made new at the start and unlinked at the end, never replaced.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import ipaddress
import os
import secrets
import shutil
import socket
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

from . import addresses, rtnetlink
from .kernel import CLONE_NEWNET
from .processspec import BASE_NAMESPACES, Interface
from .state import StateRoot, matches_label, read_json, write_json

DEFAULT_BRIDGE_PREFIX = "strf"  # + 4 hex of the state root: one default bridge per root
IFACE_PREFIX = "sr"
_HOST_LOCK = "/run/lock/seatrial-reference-net.lock"  # subnets are host-wide, state roots are not


class NetworkError(RuntimeError):
    pass


def run_tool(argv: list[str], stdin: str = "", check: bool = True) -> str:
    """Run ip/iptables with a timeout; a failure names the command and what it said."""
    proc = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=30)
    if check and proc.returncode != 0:
        raise NetworkError(f"{' '.join(argv)}: exit {proc.returncode}: {proc.stderr.strip()} {stdin.strip()}")
    return proc.stdout


def _isolation_rules(bridge: str) -> list[list[str]]:
    tag = ["-m", "comment", "--comment", f"seatrial-ref:{bridge}"]
    return [
        ["FORWARD", "-i", bridge, "!", "-o", bridge, *tag, "-j", "DROP"],
        ["FORWARD", "-o", bridge, "!", "-i", bridge, *tag, "-j", "DROP"],
        ["FORWARD", "-i", bridge, "-o", bridge, *tag, "-j", "ACCEPT"],
    ]


def delete_bridge(bridge: str) -> None:
    """Delete a bridge and its iptables rules; absent ones are fine (idempotent)."""
    run_tool(["ip", "link", "del", bridge], check=False)
    if shutil.which("iptables"):
        for rule in _isolation_rules(bridge):
            run_tool(["iptables", "-w", "-D", *rule], check=False)


@dataclass(frozen=True)
class Attachment:
    """What a container gets from its network: namespaces to make, eth0, and the hook that
    plugs the veth in once the shim's netns exists."""

    namespaces: int
    interface: Interface | None = None
    address: str = ""
    veth: str = ""
    bridge: str = ""

    def attach(self, shim_pid: int) -> None:
        try:
            rtnetlink.add_veth(self.veth, shim_pid, self.bridge)  # in-process: on the start's critical path
        except OSError as exc:
            raise NetworkError(str(exc)) from None


@contextlib.contextmanager
def _host_lock():
    """Serialise subnet choice and bridge creation across every state root on this host."""
    os.makedirs(os.path.dirname(_HOST_LOCK), exist_ok=True)
    with open(_HOST_LOCK, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def routed_subnets() -> set[str]:
    """IPv4 subnets the host routes now (/proc/net/route, see route(8)): bridges of any root."""
    subnets = set()
    try:
        with open("/proc/net/route") as handle:
            for line in list(handle)[1:]:
                fields = line.split()
                destination, mask = (socket.inet_ntoa(struct.pack("<L", int(f, 16))) for f in (fields[1], fields[7]))
                if mask != "0.0.0.0":
                    subnets.add(str(ipaddress.ip_network(f"{destination}/{mask}", strict=False)))
    except (OSError, ValueError, IndexError):
        pass
    return subnets


def default_bridge_name(root) -> str:
    return DEFAULT_BRIDGE_PREFIX + hashlib.sha256(str(root).encode()).hexdigest()[:4]


class Networks:
    def __init__(self, state: StateRoot):
        self.state = state

    def _path(self, name: str) -> Path:
        return self.state.networks / f"{name}.json"

    def _endpoints_dir(self, name: str) -> Path:
        return self.state.networks / f"{name}.endpoints"

    def get(self, name: str) -> dict | None:
        """The record of network `name` with its endpoints: one file per container under
        `<name>.endpoints/`, made new and deleted, never rewritten (a rename over a record made
        ext4 start writeback, 0.3 to 1.3 ms twice per run on a bridge). Endpoints a version
        before that kept in the record itself are read too, and released from it."""
        record = read_json(self._path(name))
        if record is None:
            return None
        endpoints = dict(record.get("endpoints") or {})
        try:
            entries = os.scandir(self._endpoints_dir(name))
        except FileNotFoundError:
            entries = None
        for entry in entries or ():
            if not entry.name.startswith("."):  # write_json's temporary files
                endpoint = read_json(Path(entry.path))
                if endpoint is not None:
                    endpoints[entry.name] = endpoint
        record["endpoints"] = endpoints
        return record

    def _write_record(self, record: dict) -> None:
        """The network's own fields: its endpoints live in files of their own (see `get`)."""
        write_json(self._path(record["name"]), {**record, "endpoints": {}})

    def _drop_endpoints(self, name: str, cids) -> None:
        """Delete the endpoints of containers `cids`: their files, and, once, any entry an older
        version's record holds for them. The caller holds the root's lock for the latter."""
        for cid in cids:
            (self._endpoints_dir(name) / cid).unlink(missing_ok=True)
        raw = read_json(self._path(name))
        if raw and set(raw.get("endpoints") or {}) & set(cids):
            raw["endpoints"] = {c: e for c, e in raw["endpoints"].items() if c not in cids}
            write_json(self._path(name), raw)

    def forget(self, name: str) -> None:
        """The record and its endpoints, gone."""
        self._path(name).unlink(missing_ok=True)
        shutil.rmtree(self._endpoints_dir(name), ignore_errors=True)

    def _existing(self, name: str) -> dict:
        """The record of network `name`, which the caller has just read or written."""
        record = self.get(name)
        if record is None:  # another harness process removed it in between
            raise NetworkError(f"network {name!r} was removed while in use")
        return record

    def all(self) -> list[dict]:
        return [r for p in sorted(self.state.networks.glob("*.json")) if (r := self.get(p.stem))]

    def with_label(self, label: str) -> list[dict]:
        return [r for r in self.all() if not r["is_default"] and matches_label(r["labels"], label)]

    def create(self, name: str, labels: dict, tag: str, internal: bool = False) -> dict:
        if name in ("bridge", "host", "none"):
            raise NetworkError("the name is reserved: bridge, host and none are built in")
        with self.state.lock(), _host_lock():
            if self.get(name):
                raise NetworkError("a network with this name exists")
            net_id = secrets.token_hex(32)
            record = {
                "id": net_id,
                "name": name,
                "labels": dict(labels),
                "internal": internal,
                "bridge": f"{IFACE_PREFIX}{tag}n{net_id[:6]}",
                "subnet": self._free_subnet(),
                "is_default": False,
                "endpoints": {},
            }
            self._write_record(record)
            self._bring_up(record)
        return record

    def _free_subnet(self) -> str:
        return addresses.pick_subnet({r["subnet"] for r in self.all()} | routed_subnets())

    def _default(self) -> dict:
        """The default network's record, written on first use; its bridge comes up in `prepare`."""
        record = self.get("bridge")
        if record is None:
            with self.state.lock(), _host_lock():
                record = self.get("bridge") or {
                    "id": "bridge",
                    "name": "bridge",
                    "labels": {},
                    "internal": False,
                    "bridge": default_bridge_name(self.state.root),
                    "subnet": self._free_subnet(),
                    "is_default": True,
                    "endpoints": {},
                }
                self._write_record(record)
        return record

    def _ensure_up(self, record: dict) -> dict:
        """Bring the bridge of `record` up if it is down; a subnet that another bridge took while
        it was down is exchanged for a free one (the endpoints of the old one died with its
        bridge). Under the state root's lock, which the caller holds."""
        if _is_up(record["bridge"]):
            return record
        with _host_lock():
            if record["subnet"] in routed_subnets():
                self._drop_endpoints(record["name"], list(record["endpoints"]))
                record["subnet"], record["endpoints"] = self._free_subnet(), {}
                self._write_record(record)
            self._bring_up(record)
        return record

    def _bring_up(self, record: dict) -> None:
        bridge, subnet = record["bridge"], record["subnet"]
        prefix = subnet.split("/")[1]
        run_tool(
            ["ip", "-batch", "-"],
            f"link add {bridge} type bridge\n"
            f"addr add {addresses.gateway(subnet)}/{prefix} dev {bridge}\nlink set {bridge} up\n",
        )
        if shutil.which("iptables"):
            for rule in reversed(_isolation_rules(bridge)):
                run_tool(["iptables", "-w", "-I", *rule])

    def prepare(self, network: str, cid: str, name: str, aliases: tuple[str, ...], tag: str) -> Attachment:
        """Reserve an address on `network` for container `cid` (nothing for none and host).

        The bridge is brought up and the address reserved in one hold of the state root's lock:
        the default bridge is deleted under that lock too, and only when no container holds an
        address on it (`remove_idle_default`), so once the lock is let go the bridge stays for
        this container -- even while another process sharing the root ends its run."""
        if network == "host":
            return Attachment(BASE_NAMESPACES)
        if network == "none":
            return Attachment(BASE_NAMESPACES | CLONE_NEWNET)
        if network == "bridge":
            self._default()  # its record, written on first use
        elif not self._path(network).exists():
            raise NetworkError(f"network {network!r} not found; create it first")
        with self.state.lock():  # the record (and its endpoints) read once, under the lock
            record = self._ensure_up(self._existing(network))
            address = addresses.allocate(record["subnet"], {e["address"] for e in record["endpoints"].values()})
            endpoint = {"address": address, "name": name, "aliases": list(aliases)}
            write_json(self._endpoints_dir(record["name"]) / cid, endpoint)  # a new file: no writeback
            record["endpoints"][cid] = endpoint
        interface = Interface(address, addresses.netmask(record["subnet"]), addresses.gateway(record["subnet"]))
        return Attachment(
            BASE_NAMESPACES | CLONE_NEWNET, interface, address, f"{IFACE_PREFIX}{tag}v{cid[:6]}", record["bridge"]
        )

    def remove_idle_default(self) -> bool:
        """Delete this root's default bridge if no container holds an address on it; True if it
        was deleted. Endpoints whose container folder is gone are dropped first: a container's
        folder exists before its address is reserved and goes after it is released, so those
        are what a killed harness left. Under the lock `prepare` reserves in (see there)."""
        raw = read_json(self._path("bridge"))  # a cheap look first: the bridge's name only
        if raw is None or not _is_up(raw["bridge"]):
            return False
        with self.state.lock():
            record = self.get("bridge")
            if record is None:
                return False
            live = {cid: e for cid, e in record["endpoints"].items() if (self.state.containers / cid).is_dir()}
            if live != record["endpoints"]:
                self._drop_endpoints("bridge", [cid for cid in record["endpoints"] if cid not in live])
            if live or not _is_up(record["bridge"]):
                return False
            with _host_lock():
                delete_bridge(record["bridge"])
        return True

    def hosts_file(self, network: str, cid: str, hostname: str) -> str:
        """/etc/hosts for a container: itself, and its peers on a user-defined network."""
        return _hosts_text(self.get(network) if network not in ("host", "none") else None, cid, hostname)

    def refresh_peers(self, network: str, except_cid: str = "") -> None:
        """Rewrite, in place (the bind mount follows the inode), the hosts of every peer."""
        record = self.get(network)
        if not record or record["is_default"]:
            return
        for peer_id in record["endpoints"]:
            path = self.state.containers / peer_id / "hosts"
            peer_record = read_json(self.state.containers / peer_id / "config.json")  # hostname
            if peer_id == except_cid or not path.exists() or not peer_record:
                continue
            with open(path, "r+") as handle:
                handle.write(_hosts_text(record, peer_id, peer_record["hostname"]))
                handle.truncate()

    def release(self, network: str, cid: str) -> None:
        """Give back `cid`'s address on `network`: its endpoint file goes (no lock needed: the
        address is free once the file is). An older version's record entry needs the lock."""
        try:
            (self._endpoints_dir(network) / cid).unlink()
        except FileNotFoundError:
            with self.state.lock():
                raw = read_json(self._path(network))
                if not raw or cid not in (raw.get("endpoints") or {}):
                    return
                self._drop_endpoints(network, [cid])
        self.refresh_peers(network)

    def remove(self, name: str, is_active=lambda cid: True) -> None:
        """Delete network `name` unless a running container (`is_active`) is attached to it;
        stopped containers are detached first, as Docker does."""
        record = self.get(name)
        if record is None:
            return
        active = [e["name"] for cid, e in record["endpoints"].items() if is_active(cid)]
        if active:
            raise NetworkError(f"it has active endpoints {sorted(active)}; stop or remove those containers first")
        delete_bridge(record["bridge"])
        self.forget(name)


def _is_up(bridge: str) -> bool:
    return Path(f"/sys/class/net/{bridge}").exists()


def _hosts_text(record: dict | None, cid: str, hostname: str) -> str:
    """/etc/hosts of container `cid` on the network of `record` (None: host or none)."""
    lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"]
    for peer_id, peer in sorted((record or {}).get("endpoints", {}).items()):
        if peer_id == cid:
            lines.append(f"{peer['address']}\t{hostname} {peer['name']} {' '.join(peer['aliases'])}".rstrip())
        elif record and not record["is_default"]:
            lines.append(f"{peer['address']}\t{peer['name']} {' '.join(peer['aliases'])}".rstrip())
    return "\n".join(lines) + "\n"
