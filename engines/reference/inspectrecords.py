"""The reference runtime's state records turned into the normalized inspect documents.

No kernel facility of its own: plain functions over the JSON records of state.py (containers,
images, networks, volumes), so that `inspect` answers with the keys of the Docker and Podman
adapters (seatrial.engines.inspection, imported here as `shared`), the record under "raw".
A container that does not run has no address, published ports or pid here, as in Docker (whose
pid then is 0, here None): its veth and port listeners went with its shim.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from seatrial.engines import inspection as shared

# What `wait` reports when the shim ended without recording pid 1's exit (it was SIGKILLed).
UNRECORDED_EXIT_CODE = 137


def container(
    record: Mapping[str, Any],
    *,
    is_running: bool,
    exit_record: Mapping[str, Any] | None,
    health_record: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """kind, id, name, image, state, exit_code, pid, ip_addresses {network: ip},
    ports {"80/tcp": host_port}, labels, user, health, raw; `exit_record` is the container's
    exit.json, `health_record` its health.json (Docker's State.Health, kept by healthcheck.py)."""
    if is_running:
        state, exit_code = "running", None
    elif "shim_pid" not in record:
        state, exit_code = "created", None  # laid out, never started
    else:
        state = "exited"
        exit_code = exit_record["exit_code"] if exit_record else UNRECORDED_EXIT_CODE
    address = record.get("address") if record.get("network") not in ("host", "none") else ""
    return {
        "kind": "container",
        "id": record["id"],
        "name": record["name"],
        "image": record.get("image", ""),
        "image_id": record.get("image_id", ""),
        "state": state,
        "exit_code": exit_code,
        "pid": record.get("pid") if is_running else None,
        "ip_addresses": {record["network"]: address} if is_running and address else {},
        "ports": {f"{p['container_port']}/{p['protocol']}": p["host_port"] for p in record.get("ports") or ()}
        if is_running
        else {},
        "labels": dict(record.get("labels") or {}),
        "user": record.get("user") or "",
        "health": _health(health_record, is_running),
        "raw": dict(record),
    }


def _health(health_record: Mapping[str, Any] | None, is_running: bool) -> dict[str, Any] | None:
    """State.Health; a container that no longer runs is `unhealthy`, as Docker marks it on exit."""
    health = shared.health(health_record)
    if health is not None and not is_running:
        health["status"] = "unhealthy"
    return health


def image(record: Mapping[str, Any]) -> dict[str, Any]:
    """kind, id ("sha256:..."), size, tags, labels, env, cmd, entrypoint, workdir,
    exposed_ports, raw; the image config's "config" part holds what `docker inspect` shows."""
    config = (record.get("config") or {}).get("config") or {}
    return {
        "kind": "image",
        "id": record["id"],
        "size": int(record.get("size") or 0),
        "tags": list(record.get("tags") or []),
        **shared.image_config(config),
        "raw": dict(record),
    }


def network(record: Mapping[str, Any]) -> dict[str, Any]:
    """kind, id, name, labels, internal, raw (the default bridge's id is "bridge")."""
    return {
        "kind": "network",
        "id": record["id"],
        "name": record["name"],
        "labels": dict(record.get("labels") or {}),
        "internal": bool(record.get("internal")),
        "raw": dict(record),
    }


def volume(record: Mapping[str, Any], mountpoint: str) -> dict[str, Any]:
    """kind, id (the name: volumes have no other id), name, labels, mountpoint, raw."""
    return {
        "kind": "volume",
        "id": record["name"],
        "name": record["name"],
        "labels": dict(record.get("labels") or {}),
        "mountpoint": mountpoint,
        "raw": dict(record),
    }
