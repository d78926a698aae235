"""An engine's health before its behaviour is judged: a quick functional check of what the
scenario library needs, run once per engine and run (and by `seatrial engines`).

An engine can answer `info()` and still be unable to start a container on a bridge (rootless
Podman without /dev/net/tun, say). Judged on scenarios alone, that breakage would show up as
failed claims (C20, C29 "failed"); checked first, it makes the items that need the broken part
errors that name the engine's problem, and the claims stay unjudged.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from seatrial.engines.base import BuildSpec, Engine, Mount, NetworkSpec, ResourceRef, RunSpec, VolumeSpec

# Not in CAPABILITIES: every scenario needs it, so an engine that cannot start a container at
# all is unusable rather than lacking a capability.
RUN = "run"

# What to do about each kind of breakage, shown with the engine's own words.
HINTS = {
    RUN: "check the engine's own logs; `seatrial engines` repeats this check",
    "network.bridge": "check the engine's bridge networking (for rootless Podman: /dev/net/tun must "
    "be mode 0666 and slirp4netns installed; vagrant/provision.sh does both)",
    "network.user_defined": "check that the engine can create networks (for Podman's CNI backend: the "
    "dnsname plugin; vagrant/provision.sh installs it)",
    "build": "check that the engine can build from a local base image with no registry",
    "volumes.named": "check the engine's volume storage",
}


@dataclass(frozen=True)
class Fitness:
    """The outcome of the check: each broken part with why, in one line."""

    engine: str
    broken: Mapping[str, str] = field(default_factory=dict)

    @property
    def status(self) -> str:
        """available, degraded (some parts broken) or unavailable (cannot start a container)."""
        if RUN in self.broken:
            return "unavailable"
        return "degraded" if self.broken else "available"

    def problems(self, needed: list[str]) -> list[str]:
        """For the parts in `needed` (a container start is always needed) that are broken, what
        went wrong and what to do, each naming the engine."""
        return [
            f"engine '{self.engine}' cannot {_doing(part)} here: {self.broken[part]} ({HINTS[part]})"
            for part in dict.fromkeys([RUN, *needed])
            if part in self.broken
        ]

    def summary(self) -> str:
        """One line: `available`, or `degraded: network.bridge (why)`."""
        if not self.broken:
            return self.status
        return f"{self.status}: " + "; ".join(f"{part} ({why})" for part, why in self.broken.items())


def _doing(part: str) -> str:
    return {
        RUN: "start a container",
        "network.bridge": "start a container on the default bridge",
        "network.user_defined": "start a container on a user-defined network",
        "build": "build an image",
        "volumes.named": "use a named volume",
    }[part]


def check_engine(engine: Engine, image: str, labels: Mapping[str, str]) -> Fitness:
    """Run each probe that the engine's capabilities say it can do; everything it makes carries
    `labels` and is removed before this returns."""
    capabilities = engine.capabilities()
    broken: dict[str, str] = {}
    made: list[ResourceRef] = []
    prefix = f"st-check-{uuid.uuid4().hex[:8]}"
    try:
        for part, probe in PROBES.items():
            if part != RUN and (not capabilities.has(part) or RUN in broken):
                continue
            try:
                probe(engine, image, labels, f"{prefix}-{part.replace('.', '-')}", made)
            except Exception as exc:  # an engine's failure, in whatever form its adapter raises it
                broken[part] = _one_line(str(exc) or type(exc).__name__)
    finally:
        _remove(engine, made)
    return Fitness(engine.name, broken)


def _run(engine: Engine, image: str, labels, name: str, made: list[ResourceRef], **options) -> None:
    made.append(ResourceRef("container", "", name))
    result = engine.run(RunSpec(image, name, command=("true",), labels=labels, timeout=60, **options))
    if result.exit_code != 0:
        raise RuntimeError(f"`true` exited {result.exit_code}: {result.stderr.strip()[-300:]}")


def _probe_run(engine, image, labels, name, made) -> None:
    _run(engine, image, labels, name, made, network="none")


def _probe_bridge(engine, image, labels, name, made) -> None:
    _run(engine, image, labels, name, made, network="bridge")


def _probe_user_network(engine, image, labels, name, made) -> None:
    made.append(engine.network_create(NetworkSpec(name, labels=labels)))
    _run(engine, image, labels, f"{name}-c", made, network=name)


def _probe_volume(engine, image, labels, name, made) -> None:
    made.append(engine.volume_create(VolumeSpec(name, labels=labels)))
    _run(engine, image, labels, f"{name}-c", made, network="none", mounts=(Mount("volume", name, "/data"),))


def _probe_build(engine, image, labels, name, made) -> None:
    with tempfile.TemporaryDirectory(prefix="seatrial-check-") as context:
        (Path(context) / "Dockerfile").write_text(f"FROM {image}\nRUN true\n")
        result = engine.build(
            BuildSpec(tag=f"{name}:1", context=Path(context), labels=labels, no_cache=True, timeout=120)
        )
    made.append(result.image)


PROBES: dict[str, Callable[..., None]] = {
    RUN: _probe_run,
    "network.bridge": _probe_bridge,
    "network.user_defined": _probe_user_network,
    "volumes.named": _probe_volume,
    "build": _probe_build,
}


def _remove(engine: Engine, made: list[ResourceRef]) -> None:
    # Containers first: they hold the network, the volume and the image.
    for ref in sorted(made, key=lambda r: r.kind != "container"):
        try:
            engine.remove(ref)
        except Exception:
            pass  # the item teardown's label sweep and the leak check see whatever stays


def _one_line(text: str) -> str:
    return " ".join(text.split())[:400]
