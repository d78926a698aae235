"""The one door every engine goes through: typed specs in, typed records out.

Scenario steps call only this interface; adapters translate to their engine (a CLI, or the
bundled reference runtime in-process) and never let an engine-native dict or CLI string past
them. Specs and results are frozen dataclasses so that a step cannot mutate what it was given.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Mapping, Protocol, runtime_checkable

SESSION_LABEL = "seatrial.session"
SCENARIO_LABEL = "seatrial.scenario"
ENGINE_LABEL = "seatrial.engine"

ResourceKind = Literal["container", "image", "network", "volume"]


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
CAPABILITIES = (
    "build",               # build images from a Dockerfile
    "build.cache_report",  # per-instruction cache hit/miss in the build output
    "network.bridge",      # the default bridge network
    "network.user_defined",  # user-defined bridge networks with name resolution
    "network.host",        # the host's network namespace
    "network.none",        # loopback only
    "ports.publish",       # publishing a container port on the host
    "volumes.named",       # named volumes
    "mounts.bind",         # bind mounts of host directories
    "exec",                # exec in a running container
    "inspect.files",       # testinfra host for files inside a container
    "healthcheck",         # containers run their image's HEALTHCHECK; inspect shows their health
    "rootless",            # the engine runs as an unprivileged user (claim C29)
)


@dataclass(frozen=True)
class ResourceRef:
    """A thing an engine holds: container, image, network or volume, by id and name."""

    kind: ResourceKind
    id: str
    name: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def handle(self) -> str:
        """What to pass back to the engine: the name when there is one, else the id."""
        return self.name or self.id


@dataclass(frozen=True)
class EngineInfo:
    """Where an engine stands on this host: versions and the parts that change behaviour."""

    name: str
    is_available: bool
    client_version: str = ""
    server_version: str = ""
    oci_runtime: str = ""
    storage_driver: str = ""
    cgroup_version: str = ""
    is_rootless: bool = False
    unavailable_reason: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Capabilities:
    """What an engine lacks here, each with the reason; everything else in CAPABILITIES it has."""

    missing: Mapping[str, str] = field(default_factory=dict)

    def has(self, capability: str) -> bool:
        return capability not in self.missing

    def reason(self, capability: str) -> str:
        return self.missing.get(capability, "")


@dataclass(frozen=True)
class BuildSpec:
    """Build the Dockerfile `dockerfile` (a path inside `context`) and tag the result `tag`."""

    tag: str
    context: Path
    dockerfile: str = "Dockerfile"
    labels: Mapping[str, str] = field(default_factory=dict)
    build_args: Mapping[str, str] = field(default_factory=dict)
    target: str | None = None
    no_cache: bool = False
    timeout: float = 600.0


@dataclass(frozen=True)
class InstructionCache:
    """One Dockerfile instruction of a build and whether the engine reused a cached layer."""

    index: int                 # 0-based position among the instructions of the built stages
    instruction: str           # as the engine printed it, e.g. "RUN make"
    is_cache_hit: bool | None  # None: the engine did not say (FROM, or no report)


@dataclass(frozen=True)
class BuildResult:
    image: ResourceRef
    size: int                  # bytes, as the engine reports it
    instructions: tuple[InstructionCache, ...]
    log: str
    duration: float            # seconds, wall clock
    warnings: tuple[str, ...] = ()   # what the engine said it ignored (engines/notices.py)


@dataclass(frozen=True)
class Mount:
    """A named volume (`kind="volume"`, source = volume name) or a bind mount (source = host path)."""

    kind: Literal["volume", "bind"]
    source: str
    target: str
    read_only: bool = False


@dataclass(frozen=True)
class PortMapping:
    """Publish `container_port` on the host at `host_ip:host_port` (host_port 0: engine picks)."""

    container_port: int
    host_port: int = 0
    protocol: Literal["tcp", "udp"] = "tcp"
    host_ip: str = "127.0.0.1"


@dataclass(frozen=True)
class RunSpec:
    """Create and start a container; `detach=False` waits for it to exit and collects its output."""

    image: str
    name: str
    command: tuple[str, ...] | None = None      # None: the image's CMD
    entrypoint: tuple[str, ...] | None = None   # None: the image's ENTRYPOINT; () clears it
    env: Mapping[str, str] = field(default_factory=dict)
    network: str = "bridge"                     # bridge, host, none, or a network name
    network_aliases: tuple[str, ...] = ()
    ports: tuple[PortMapping, ...] = ()
    mounts: tuple[Mount, ...] = ()
    hostname: str | None = None
    workdir: str | None = None
    user: str | None = None
    dns: tuple[str, ...] | None = None          # None: the engine's default name servers
    privileged: bool = False
    cap_add: tuple[str, ...] = ()               # capability names without CAP_, e.g. "SYS_ADMIN"
    seccomp: Literal["default", "unconfined"] = "default"
    unmask_paths: bool = False                  # lift masked and read-only /proc, /sys paths
    no_new_privileges: bool = False
    pid: Literal["private", "host"] = "private"  # "host" only for fault injection in tests
    pull: Literal["missing", "never"] | None = None  # None: the engine's default policy
    detach: bool = False
    remove: bool = False                        # remove on exit (`run --rm`)
    labels: Mapping[str, str] = field(default_factory=dict)
    timeout: float = 120.0


@dataclass(frozen=True)
class RunResult:
    container: ResourceRef
    exit_code: int | None      # None while a detached container runs
    stdout: str
    stderr: str
    duration: float
    warnings: tuple[str, ...] = ()   # what the engine said it ignored (engines/notices.py)


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    stdout: str
    stderr: str
    duration: float


@dataclass(frozen=True)
class NetworkSpec:
    name: str
    driver: Literal["bridge"] = "bridge"
    internal: bool = False
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class VolumeSpec:
    name: str
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PruneReport:
    """What `prune_caches` removed: how many cache entries or images, the bytes freed when the
    engine says, and one line per kind of thing removed (for `seatrial clean --caches -v`)."""

    removed: int = 0
    freed_bytes: int | None = None
    details: tuple[str, ...] = ()
    note: str = ""   # e.g. why nothing could be removed

    def summary(self) -> str:
        freed = f", {self.freed_bytes / 2 ** 20:.3g} MiB freed" if self.freed_bytes else ""
        text = f"removed {self.removed} cache {'entry' if self.removed == 1 else 'entries'}{freed}"
        return f"{text} ({self.note})" if self.note else text

    def __add__(self, other: "PruneReport") -> "PruneReport":
        freed = None if self.freed_bytes is None and other.freed_bytes is None else \
            (self.freed_bytes or 0) + (other.freed_bytes or 0)
        return PruneReport(self.removed + other.removed, freed, self.details + other.details,
                           "; ".join(n for n in (self.note, other.note) if n))


def prune_caches(engine) -> PruneReport:
    """The engine's prune_caches(), or nothing for an adapter that has none (a plugin written
    before the method existed): the default is a no-op."""
    method = getattr(engine, "prune_caches", None)
    return method() if method is not None else PruneReport(note="this adapter keeps no build cache of its own")


@runtime_checkable
class Engine(Protocol):
    """A container engine as seatrial drives it. Every method may raise EngineError."""

    name: str

    def info(self) -> EngineInfo: ...
    def capabilities(self) -> Capabilities: ...
    def build(self, spec: BuildSpec) -> BuildResult: ...
    def load(self, archive: Path) -> ResourceRef: ...
    def tag(self, image: str, new_tag: str) -> None: ...
    def image_exists(self, image: str) -> bool: ...
    def run(self, spec: RunSpec) -> RunResult: ...
    def exec(self, container: str, argv: tuple[str, ...], *, timeout: float = 60.0) -> ExecResult: ...
    def logs(self, container: str) -> tuple[str, str]: ...
    def inspect(self, ref: ResourceRef) -> Mapping: ...
    def wait(self, container: str, *, timeout: float) -> int: ...
    def stop(self, container: str, *, timeout: float = 10.0) -> None: ...
    def remove(self, ref: ResourceRef) -> None: ...
    def network_create(self, spec: NetworkSpec) -> ResourceRef: ...
    def volume_create(self, spec: VolumeSpec) -> ResourceRef: ...
    def resources(self, label: str) -> list[ResourceRef]: ...
    def testinfra_host(self, container: str): ...
    # Remove the build caches seatrial's own builds made (never the base image seatrial/base:*,
    # never what carries no sign of seatrial). Optional: `prune_caches(engine)` is a no-op without it.
    def prune_caches(self) -> PruneReport: ...
