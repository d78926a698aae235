"""The one door every engine goes through: typed specs in, typed records out.

Scenario steps call only this interface; adapters translate to their engine (a CLI, or the
bundled reference runtime in-process) and never let an engine-native dict or CLI string past
them. Specs and results are frozen dataclasses (engines/records.py, re-exported here) so that a
step cannot mutate what it was given.

An adapter subclasses `Engine` (explicitly, so that it inherits the defaults of the optional
members) and registers under the entry-point group `seatrial.engines.v1` (engines/discovery.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal, Protocol, get_args, runtime_checkable

from seatrial.engines.records import (
    BuildResult,
    BuildSpec,
    Capabilities,
    EngineInfo,
    ExecResult,
    InstructionCache,
    Mount,
    NetworkSpec,
    PortMapping,
    PruneReport,
    ResourceKind,
    ResourceRef,
    RunResult,
    RunSpec,
    VolumeSpec,
)

__all__ = [
    "SESSION_LABEL",
    "SCENARIO_LABEL",
    "ENGINE_LABEL",
    "CAPABILITIES",
    "Capability",
    "EngineError",
    "EngineUnavailable",
    "Engine",
    "ENGINE_MEMBERS",
    "protocol_gaps",
    "BuildResult",
    "BuildSpec",
    "Capabilities",
    "EngineInfo",
    "ExecResult",
    "InstructionCache",
    "Mount",
    "NetworkSpec",
    "PortMapping",
    "PruneReport",
    "ResourceKind",
    "ResourceRef",
    "RunResult",
    "RunSpec",
    "VolumeSpec",
]

SESSION_LABEL = "seatrial.session"
SCENARIO_LABEL = "seatrial.scenario"
ENGINE_LABEL = "seatrial.engine"


class EngineError(RuntimeError):
    """An engine operation failed; the message names the operation and what the engine said."""

    def __init__(self, operation: str, detail: str, *, exit_code: int | None = None):
        super().__init__(f"{operation} failed: {detail}")
        self.operation = operation
        self.detail = detail
        self.exit_code = exit_code


class EngineUnavailable(RuntimeError):
    """The engine is not installed or not running here; the message says how to fix it."""


# Capabilities a scenario may require. An engine lists the ones it lacks, each with a reason, so
# that a step needing one is skipped before any side effect.
Capability = Literal[
    "build",  # build images from a Dockerfile
    "build.cache_report",  # per-instruction cache hit/miss in the build output
    "network.bridge",  # the default bridge network
    "network.user_defined",  # user-defined bridge networks with name resolution
    "network.host",  # the host's network namespace
    "network.none",  # loopback only
    "ports.publish",  # publishing a container port on the host
    "volumes.named",  # named volumes
    "mounts.bind",  # bind mounts of host directories
    "exec",  # exec in a running container
    "inspect.files",  # testinfra host for files inside a container
    "healthcheck",  # containers run their image's HEALTHCHECK; inspect shows their health
    "rootless",  # the engine runs as an unprivileged user (claim C29)
    "host.probe",  # probes from seatrial's machine reach published ports and containers (the engine is here)
    "host.facts",  # the engine's host is seatrial's: its kernel, hostname and namespaces are known here
]
CAPABILITIES: tuple[Capability, ...] = get_args(Capability)


@runtime_checkable
class Engine(Protocol):
    """A container engine as seatrial drives it. Every method may raise EngineError.

    Four members are optional (documented_capabilities, reap, prune, prune_caches): an adapter
    that subclasses Engine inherits their defaults. Every other method it must implement
    (discovery leaves out, with a warning, an adapter that lacks one).
    """

    name: str  # the name it is registered under and labels its resources with

    # Capabilities a container gets by default, as the engine documents them (engines/capsets.py);
    # () when unknown. Scenarios compare it with what a container really holds.
    documented_capabilities: tuple[str, ...] = ()

    def info(self) -> EngineInfo:
        """Versions, OCI runtime, storage driver, cgroup version, rootless; never raises for an absent engine."""
        ...

    def capabilities(self) -> Capabilities:
        """What of CAPABILITIES the engine lacks here, each with the reason (steps are skipped on it)."""
        ...

    def build(self, spec: BuildSpec) -> BuildResult:
        """Build an image; the result reports the cache hit or miss of each instruction."""
        ...

    def load(self, archive: Path) -> ResourceRef:
        """Load a docker-archive tarball (the base image) and return the image it held."""
        ...

    def tag(self, image: str, new_tag: str) -> None:
        """Give `image` (tag or id) one more tag."""
        ...

    def image_exists(self, image: str) -> bool:
        """True when `image` (tag or id) is present here."""
        ...

    def run(self, spec: RunSpec) -> RunResult:
        """Create and start a container: detached, or to completion with its exit code and output."""
        ...

    def exec(self, container: str, argv: tuple[str, ...], *, timeout: float = 60.0) -> ExecResult:
        """Run `argv` in the running `container` and wait for it, at most `timeout` seconds."""
        ...

    def logs(self, container: str) -> tuple[str, str]:
        """What `container` wrote so far: (stdout, stderr)."""
        ...

    def inspect(self, ref: ResourceRef) -> Mapping:
        """Normalized keys of engines/inspection.py (state, exit_code, labels, ...); the raw document under "raw"."""
        ...

    def wait(self, container: str, *, timeout: float) -> int:
        """Wait for `container` to exit, at most `timeout` seconds; its exit code."""
        ...

    def stop(self, container: str, *, timeout: float = 10.0) -> None:
        """Stop `container`: SIGTERM, then SIGKILL after `timeout` seconds."""
        ...

    def remove(self, ref: ResourceRef) -> None:
        """Remove a container (forced), image, network or volume; EngineError when it stays."""
        ...

    def network_create(self, spec: NetworkSpec) -> ResourceRef:
        """Create a user-defined bridge network with name resolution between its containers."""
        ...

    def volume_create(self, spec: VolumeSpec) -> ResourceRef:
        """Create a named volume."""
        ...

    def resources(self, label: str) -> list[ResourceRef]:
        """Everything carrying `label` ("key" or "key=value"): for the reaper and the leak check."""
        ...

    def testinfra_host(self, container: str):
        """A pytest-testinfra Host inside `container` (capability inspect.files)."""
        ...

    def reap(self, session: str) -> list[str]:
        """Remove what session `session` left that `remove` cannot reach (kernel objects, processes,
        a shared bridge no container uses); called after its labelled resources were removed.
        One line per thing removed. Default: nothing, for an engine whose every object carries labels."""
        return []

    def save(self, image: str, archive: Path) -> None:
        """Write `image` to `archive` as a docker-archive tarball, as `docker save -o` does (for
        `seatrial diff`, which compares file trees). Default: an EngineError saying it cannot."""
        raise EngineError(f"save of image {image!r}", f"the {self.name} adapter cannot export images")

    def prune(self) -> list[str]:
        """Remove what belongs to no session (layers a killed build committed); one line each. Default: nothing."""
        return []

    def prune_caches(self) -> PruneReport:
        """Remove the build caches seatrial's builds made, never seatrial/base:* nor what carries no sign
        of seatrial (`seatrial clean --caches`). Default: nothing to remove."""
        return PruneReport(note="this adapter keeps no build cache of its own")


def protocol_gaps(engine: object) -> list[str]:
    """The members of Engine that `engine` lacks ([] for a complete adapter): how discovery tells a
    plugin author what to add."""
    return [n for n in ENGINE_MEMBERS if not hasattr(engine, n)]


# Every member of the interface, required and optional (annotations hold the bare `name`).
ENGINE_MEMBERS = tuple(sorted({*Engine.__annotations__, *(n for n in vars(Engine) if not n.startswith("_"))}))
