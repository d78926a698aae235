"""The records that cross the engine door: specs going in, results coming out.

Frozen dataclasses, so that a step cannot change what it was given and no engine-native dict or
CLI string travels past an adapter. engines/base.py re-exports every one of them: import them
from there (`from seatrial.engines.base import RunSpec`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

ResourceKind = Literal["container", "image", "network", "volume"]


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
        """True unless the engine lacks `capability` here."""
        return capability not in self.missing

    def reason(self, capability: str) -> str:
        """Why the engine lacks `capability` ("" when it has it)."""
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

    index: int  # 0-based position among the instructions of the built stages
    instruction: str  # as the engine printed it, e.g. "RUN make"
    is_cache_hit: bool | None  # None: the engine did not say (FROM, or no report)


@dataclass(frozen=True)
class BuildResult:
    """A finished build: the image, its size, the cache report per instruction and the log."""

    image: ResourceRef
    size: int  # bytes, as the engine reports it
    instructions: tuple[InstructionCache, ...]
    log: str
    duration: float  # seconds, wall clock
    warnings: tuple[str, ...] = ()  # what the engine said it ignored (engines/notices.py)


@dataclass(frozen=True)
class Mount:
    """A named volume (`kind="volume"`, source = volume name; an empty source is an anonymous
    volume, `-v /path`) or a bind mount (source = host path). A new volume receives a copy of
    the image's content at the target unless `nocopy` (`-v NAME:/path:nocopy`)."""

    kind: Literal["volume", "bind"]
    source: str
    target: str
    read_only: bool = False
    nocopy: bool = False

    @property
    def is_anonymous(self) -> bool:
        """A volume the engine makes and names for this container (`-v /path`)."""
        return self.kind == "volume" and not self.source


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
    command: tuple[str, ...] | None = None  # None: the image's CMD
    entrypoint: tuple[str, ...] | None = None  # None: the image's ENTRYPOINT; () clears it
    env: Mapping[str, str] = field(default_factory=dict)
    # `-e NAME` without a value: the variable as the engine's client (this process) has it; a
    # variable it does not have is left out, as `docker run` does
    env_from_host: tuple[str, ...] = ()
    network: str = "bridge"  # bridge, host, none, or a network name
    network_aliases: tuple[str, ...] = ()
    ports: tuple[PortMapping, ...] = ()
    mounts: tuple[Mount, ...] = ()
    hostname: str | None = None
    workdir: str | None = None
    user: str | None = None
    dns: tuple[str, ...] | None = None  # None: the engine's default name servers
    privileged: bool = False
    cap_add: tuple[str, ...] = ()  # capability names without CAP_, e.g. "SYS_ADMIN"
    seccomp: Literal["default", "unconfined"] = "default"
    unmask_paths: bool = False  # lift masked and read-only /proc, /sys paths
    no_new_privileges: bool = False
    pid: Literal["private", "host"] = "private"  # "host" only for fault injection in tests
    pull: Literal["missing", "never"] | None = None  # None: the engine's default policy
    detach: bool = False
    remove: bool = False  # remove on exit (`run --rm`)
    labels: Mapping[str, str] = field(default_factory=dict)
    timeout: float = 120.0

    def host_env(self, environ: Mapping[str, str]) -> dict[str, str]:
        """`env` with each of `env_from_host` that `environ` has, for an engine without a client
        of its own (the reference runtime reads this process's environment as a client would)."""
        return {**self.env, **{name: environ[name] for name in self.env_from_host if name in environ}}


@dataclass(frozen=True)
class RunResult:
    """A started container; for a run to completion also its exit code and output."""

    container: ResourceRef
    exit_code: int | None  # None while a detached container runs
    stdout: str
    stderr: str
    duration: float
    warnings: tuple[str, ...] = ()  # what the engine said it ignored (engines/notices.py)


@dataclass(frozen=True)
class ExecResult:
    """A command run in a running container: its exit code, output and wall-clock time."""

    exit_code: int
    stdout: str
    stderr: str
    duration: float


@dataclass(frozen=True)
class NetworkSpec:
    """A user-defined network to create (`internal`: no route out of it)."""

    name: str
    driver: Literal["bridge"] = "bridge"
    internal: bool = False
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class VolumeSpec:
    """A named volume to create."""

    name: str
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PruneReport:
    """What `prune_caches` removed: how many cache entries or images, the bytes freed when the
    engine says, and one line per kind of thing removed (for `seatrial clean --caches -v`)."""

    removed: int = 0
    freed_bytes: int | None = None
    details: tuple[str, ...] = ()
    note: str = ""  # e.g. why nothing could be removed

    def summary(self) -> str:
        """One line for `seatrial clean --caches`: what was removed and freed."""
        freed = f", {self.freed_bytes / 2**20:.3g} MiB freed" if self.freed_bytes else ""
        text = f"removed {self.removed} cache {'entry' if self.removed == 1 else 'entries'}{freed}"
        return f"{text} ({self.note})" if self.note else text

    def __add__(self, other: PruneReport) -> PruneReport:
        """Both reports as one (an engine that prunes in several passes)."""
        freed = (
            None
            if self.freed_bytes is None and other.freed_bytes is None
            else (self.freed_bytes or 0) + (other.freed_bytes or 0)
        )
        return PruneReport(
            self.removed + other.removed,
            freed,
            self.details + other.details,
            "; ".join(n for n in (self.note, other.note) if n),
        )
