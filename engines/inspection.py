"""Engine inspect documents turned into the normalized keys seatrial reads.

Docker and Podman mostly agree on container and image documents; they differ for networks
(Podman's netavark documents use lowercase keys) and in small ways noted below. The raw document
always travels along under "raw" for anything the normalized keys do not cover.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

# Podman calls its default bridge network "podman"; RunSpec calls it "bridge" on every engine.
DEFAULT_NETWORK_NAMES = {"podman": "bridge"}
# Podman's state before start is "configured" in some versions; Docker says "created".
STATE_NAMES = {"configured": "created"}


def container(doc: Mapping[str, Any]) -> dict[str, Any]:
    """id, name, state, exit_code, ip_addresses {network: ip}, ports {"80/tcp": port}, labels,
    user (as the container runs: `run --user` or the image's USER), health (see `health`)."""
    state = doc.get("State") or {}
    settings = doc.get("NetworkSettings") or {}
    networks = settings.get("Networks") or {}
    ports = {}
    for key, bindings in (settings.get("Ports") or {}).items():
        if bindings:
            ports[key] = int(bindings[0]["HostPort"])
    status = str(state.get("Status", "")).lower()
    return {
        "kind": "container",
        "id": doc.get("Id", ""),
        "name": str(doc.get("Name", "")).lstrip("/"),
        "image": (doc.get("Config") or {}).get("Image", ""),
        "image_id": _with_algorithm(str(doc.get("Image") or "")),
        "state": STATE_NAMES.get(status, status),
        "exit_code": state.get("ExitCode"),
        "pid": state.get("Pid"),
        "ip_addresses": {
            DEFAULT_NETWORK_NAMES.get(n, n): v.get("IPAddress") for n, v in networks.items() if v.get("IPAddress")
        },
        "ports": ports,
        "labels": dict((doc.get("Config") or {}).get("Labels") or {}),
        "user": (doc.get("Config") or {}).get("User") or "",
        # Podman 4 writes both State.Health and (older name) State.Healthcheck.
        "health": health(state.get("Health") or state.get("Healthcheck")),
        "raw": doc,
    }


def health(doc: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """{"status": starting|healthy|unhealthy, "failing_streak": n, "log": [{"exit_code",
    "output", "start", "end"}]} from Docker's State.Health; None for a container whose image and
    run declare no health check (Docker then has no State.Health)."""
    if not doc or not doc.get("Status"):
        return None
    return {
        "status": str(doc["Status"]).lower(),
        "failing_streak": int(doc.get("FailingStreak") or 0),
        "log": [
            {
                "exit_code": entry.get("ExitCode"),
                "output": entry.get("Output", ""),
                "start": entry.get("Start", ""),
                "end": entry.get("End", ""),
            }
            for entry in doc.get("Log") or ()
        ],
    }


def image(doc: Mapping[str, Any]) -> dict[str, Any]:
    """id (always "sha256:..."), size, tags, labels, env, cmd, entrypoint, workdir, exposed_ports,
    config (Docker's image Config, Healthcheck included)."""
    config = dict(doc.get("Config") or {})
    if doc.get("Healthcheck") and not config.get("Healthcheck"):
        # Podman keeps a docker-format image's Healthcheck beside Config, not in it.
        config["Healthcheck"] = doc["Healthcheck"]
    image_id = doc.get("Id", "")
    return {
        "kind": "image",
        # Podman prints the bare hex digest, Docker prefixes the algorithm.
        "id": _with_algorithm(image_id),
        "size": int(doc.get("Size") or 0),
        "tags": list(doc.get("RepoTags") or []),
        **image_config(config),
        "raw": doc,
    }


def image_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """labels, env, cmd, entrypoint, workdir, exposed_ports of an image config's "config" part
    (Docker's and the OCI image config's keys), which the reference runtime's records keep too;
    the whole of it under "config", for checks of any key (Healthcheck, User, OnBuild ...)."""
    return {
        "config": dict(config),
        "labels": dict(config.get("Labels") or {}),
        "env": list(config.get("Env") or []),
        "cmd": list(config.get("Cmd") or []),
        "entrypoint": list(config.get("Entrypoint") or []),
        "workdir": config.get("WorkingDir") or "",
        "exposed_ports": sorted(config.get("ExposedPorts") or {}),
    }


def network(doc: Mapping[str, Any]) -> dict[str, Any]:
    """id, name, labels, internal (Docker's keys are capitalized, netavark's are not)."""

    def get(key: str):
        return doc.get(key, doc.get(key.lower()))

    return {
        "kind": "network",
        "id": get("Id") or "",
        "name": get("Name") or "",
        "labels": dict(get("Labels") or {}),
        "internal": bool(get("Internal")),
        "raw": doc,
    }


def volume(doc: Mapping[str, Any]) -> dict[str, Any]:
    """id (the name: volumes have no other id), name, labels, mountpoint."""
    name = doc.get("Name", "")
    return {
        "kind": "volume",
        "id": name,
        "name": name,
        "labels": dict(doc.get("Labels") or {}),
        "mountpoint": doc.get("Mountpoint", ""),
        "raw": doc,
    }


def children_first(images: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Normalized images ordered so that none comes before an image built on it (by Parent)."""
    parent = {i["id"]: _with_algorithm(i["raw"].get("Parent") or "") for i in images}

    def depth(image_id: str) -> int:
        seen = 0
        while parent.get(image_id) and seen < len(parent):
            image_id, seen = parent[image_id], seen + 1
        return seen

    return sorted(images, key=lambda i: -depth(i["id"]))


def _with_algorithm(image_id: str) -> str:
    return image_id if ":" in image_id or not image_id else f"sha256:{image_id}"


NORMALIZERS = {"container": container, "image": image, "network": network, "volume": volume}


def json_list(text: str) -> list:
    """The documents of a multi-argument inspect; empty when it printed nothing usable."""
    try:
        docs = json.loads(text or "[]")
    except json.JSONDecodeError:
        return []
    return docs if isinstance(docs, list) else []
