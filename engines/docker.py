"""Docker through its CLI: the classic builder (`docker`) and BuildKit (`docker-buildkit`).

The client binary is /usr/bin/docker unless SEATRIAL_DOCKER names another: a newer client may
sit earlier on PATH, and the client is part of what is measured.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from seatrial.engines import buildkitcache, buildlog, capsets
from seatrial.engines.base import BuildSpec, EngineError, EngineInfo, InstructionCache, PruneReport
from seatrial.engines.cliengine import CliEngine
from seatrial.engines.client import ABSENT, Cli, failure, info_timeout
from seatrial.engines.remote import Remote

DEFAULT_BINARY = "/usr/bin/docker"


def docker_binary() -> str:
    """The Docker client to drive: $SEATRIAL_DOCKER or /usr/bin/docker."""
    return os.environ.get("SEATRIAL_DOCKER") or DEFAULT_BINARY


def docker_socket() -> str:
    """Where the daemon listens (claim C30: whoever can write there is root on the host)."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    return host.removeprefix("unix://")


class DockerEngine(CliEngine):
    """Docker with the classic builder (DOCKER_BUILDKIT=0)."""

    name = "docker"
    testinfra_scheme = "docker"
    buildkit = "0"
    documented_capabilities = capsets.DOCKER_DEFAULT

    def __init__(self, cli: Cli | None = None):
        super().__init__(cli or Cli(docker_binary(), env={"DOCKER_BUILDKIT": self.buildkit}))

    def _remote_args(self, remote: Remote) -> tuple[str, ...]:
        # --host as DOCKER_HOST would say it (ssh: the client runs `docker system dial-stdio`
        # over ssh on the far side), or a context made with `docker context create`.
        return ("--context", remote.target) if remote.is_named else ("--host", remote.url)

    def _start_hint(self) -> str:
        if self.remote:
            where = "--context" if self.remote.is_named else "--host"
            return (
                f"check that `{self.cli.binary} {where} {self.remote.target} info` answers here (ssh keys, "
                "known_hosts, the docker CLI and the daemon on the far side)"
            )
        return "start it (systemctl start docker, or setsid dockerd >/var/log/dockerd.log 2>&1 &)"

    def info(self) -> EngineInfo:
        """Versions and daemon state; unavailable (never raising) when the client or daemon is missing."""
        binary = self.cli.binary
        if not Path(binary).is_file() or not os.access(binary, os.X_OK):
            return EngineInfo(
                self.name,
                False,
                unavailable_reason=(
                    f"engine {self.name!r}: {binary} not found; install docker.io (apt-get install "
                    "docker.io; vagrant/provision.sh does) or set SEATRIAL_DOCKER to the client"
                ),
            )
        try:
            version = self.cli.run(
                "docker version", ["version", "--format", "{{json .}}"], check=False, timeout=info_timeout()
            )
            info = self.cli.run("docker info", ["info", "--format", "{{json .}}"], check=False, timeout=info_timeout())
            doc = json.loads(info.stdout) if info.returncode == 0 else {}
            versions = json.loads(version.stdout or "{}")
            said = (info.stderr or version.stderr).strip()[-300:]
        except (EngineError, json.JSONDecodeError) as exc:  # a hung daemon times out here
            doc, versions, said = {}, {}, str(exc)
        client = (versions.get("Client") or {}).get("Version", "")
        if not doc.get("ServerVersion"):
            return EngineInfo(
                self.name,
                False,
                client_version=client,
                unavailable_reason=(
                    f"engine {self.name!r}: the Docker daemon does not answer ({said}); {self._start_hint()}"
                ),
            )
        security = " ".join(doc.get("SecurityOptions") or [])
        is_rootless = "rootless" in security
        return EngineInfo(
            self.name,
            True,
            client_version=client,
            server_version=doc["ServerVersion"],
            oci_runtime=doc.get("DefaultRuntime", ""),
            storage_driver=doc.get("Driver", ""),
            cgroup_version=str(doc.get("CgroupVersion", "")),
            is_rootless=is_rootless,
            extra={
                "binary": binary,
                "builder": "buildkit" if self.buildkit == "1" else "classic",
                # The socket of a daemon on another machine is there, not here (claim C30's probe).
                "rootful_socket": "" if is_rootless or self.remote else docker_socket(),
                "cgroup_driver": doc.get("CgroupDriver", ""),
                "kernel": doc.get("KernelVersion", ""),
                **({"host": self.remote.target, "daemon_host": doc.get("Name", "")} if self.remote else {}),
            },
        )

    def image_exists(self, image: str) -> bool:
        """Whether the daemon has `image` (by name or id)."""
        proc = self.cli.run("image inspect", ["image", "inspect", "--format", "{{.Id}}", "--", image], check=False)
        if proc.returncode != 0 and not ABSENT.search(proc.stderr):
            raise failure(f"image exists {image!r}", proc)
        return proc.returncode == 0

    def _build_args(self, spec: BuildSpec, iidfile: Path) -> list[str]:
        return [*self._common_build_args(spec, iidfile), "--", str(spec.context)]

    def _cache_report(self, log: str, spec: BuildSpec) -> list[InstructionCache]:
        steps = buildlog.parse_classic(log)
        return buildlog.drop_label_steps(steps, len(spec.labels))


class DockerBuildKitEngine(DockerEngine):
    """Docker with BuildKit (DOCKER_BUILDKIT=1, plain progress output for the cache report)."""

    name = "docker-buildkit"
    buildkit = "1"

    def _build_args(self, spec: BuildSpec, iidfile: Path) -> list[str]:
        return [*self._common_build_args(spec, iidfile), "--progress=plain", "--", str(spec.context)]

    def _cache_report(self, log: str, spec: BuildSpec) -> list[InstructionCache]:
        # BuildKit does not print ENV, CMD, ...: the Dockerfile fills them in, in its order.
        dockerfile = (Path(spec.context) / spec.dockerfile).read_text()
        return buildlog.parse_buildkit(log, dockerfile, spec.target)

    def prune_caches(self) -> PruneReport:
        """The dangling images (as the classic builder), then the BuildKit cache records that
        seatrial's builds made, chosen and pruned by id (engines/buildkitcache.py says which)."""
        report = super().prune_caches()
        listed = self.cli.run("list of build cache", ["system", "df", "-v", "--format", "{{json .BuildCache}}"])
        ids = buildkitcache.chosen(buildkitcache.parse_records(listed.stdout))
        deleted, freed = 0, 0
        for filters in buildkitcache.prune_filters(ids):
            proc = self.cli.run("builder prune", ["builder", "prune", "--force", *filters])
            count, size = buildkitcache.reclaimed(proc.stdout)
            deleted, freed = deleted + count, freed + (size or 0)
        return report + PruneReport(
            deleted,
            freed,
            (
                f"{deleted} BuildKit cache records (of {len(ids)} chosen: built from a local image, or "
                "build-context snapshots; none in use)",
            ),
        )
