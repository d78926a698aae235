"""Podman through its CLI (daemonless: the client is the engine).

The binary is $SEATRIAL_PODMAN or /usr/bin/podman. Where Podman differs from Docker: no daemon to
ask for a server version, `image exists`, Buildah's build output, and `--layers` for the cache.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from seatrial.engines import buildlog, capsets
from seatrial.engines.base import BuildSpec, EngineError, EngineInfo, InstructionCache
from seatrial.engines.cliengine import CliEngine
from seatrial.engines.client import REMOVE_ARGS, Cli, failure, info_timeout
from seatrial.engines.remote import Remote


def podman_binary() -> str:
    """The Podman binary to drive: $SEATRIAL_PODMAN, /usr/bin/podman, or podman on PATH."""
    if os.environ.get("SEATRIAL_PODMAN"):
        return os.environ["SEATRIAL_PODMAN"]
    return "/usr/bin/podman" if Path("/usr/bin/podman").is_file() else shutil.which("podman") or "podman"


class PodmanEngine(CliEngine):
    """Podman (rootful here; OCI runtime from containers.conf)."""

    name = "podman"
    testinfra_scheme = "podman"
    # `podman rm -f` first waits the stop timeout (10 s) for processes that ignore SIGTERM, such
    # as `sleep` as PID 1; Docker's `rm -f` kills at once. Match Docker.
    remove_args = {**REMOVE_ARGS, "container": ["rm", "-f", "-v", "--time", "0"]}
    unmask_option = "unmask=ALL"
    documented_capabilities = capsets.PODMAN_DEFAULT
    # The API socket a rootful `podman system service` (podman.socket) listens on, if started.
    api_socket = Path("/run/podman/podman.sock")
    # sd_booted(3): systemd is init when this directory exists.
    systemd_booted = Path("/run/systemd/system")

    def __init__(self, cli: Cli | None = None):
        super().__init__(cli or Cli(podman_binary()))

    def _remote_args(self, remote: Remote) -> tuple[str, ...]:
        # podman-remote semantics: the far side must run the API service on the URL's socket
        # (`podman system service`, or podman.socket under systemd); ssh identity from
        # CONTAINER_SSHKEY or the agent, host keys from ~/.ssh/known_hosts.
        return ("--connection", remote.target) if remote.is_named else ("--remote", "--url", remote.url)

    def info(self) -> EngineInfo:
        """Versions and store state; unavailable (never raising) when podman is missing or broken."""
        binary = self.cli.binary
        if not shutil.which(binary):
            return EngineInfo(
                self.name,
                False,
                unavailable_reason=(
                    f"engine 'podman': {binary} not found; install podman and runc (apt-get install "
                    "podman runc; vagrant/provision.sh does) or set SEATRIAL_PODMAN"
                ),
            )
        try:
            proc = self.cli.run("podman info", ["info", "--format", "json"], check=False, timeout=info_timeout())
            doc = json.loads(proc.stdout) if proc.returncode == 0 else {}
            said = proc.stderr.strip()[-300:]
        except (EngineError, json.JSONDecodeError) as exc:  # e.g. a storage lock held too long
            doc, said = {}, str(exc)
        if not doc:
            hint = (
                f"check the Podman API service on the far side ({self.remote.target}: `podman system service`, "
                "or podman.socket) and ssh (CONTAINER_SSHKEY or an agent, ~/.ssh/known_hosts)"
                if self.remote
                else 'if it names crun or cgroups, set runtime = "runc" under [engine] in /etc/containers/containers.conf'
            )
            return EngineInfo(
                self.name, False, unavailable_reason=f"engine {self.name!r}: 'podman info' failed ({said}); {hint}"
            )
        host = doc.get("host") or {}
        version = (doc.get("version") or {}).get("Version", "")
        cgroup = str(host.get("cgroupVersion", "")).lstrip("v")
        is_rootless = bool((host.get("security") or {}).get("rootless"))
        # Daemonless: no socket unless the API service runs; the CLI itself needs root here.
        socket = str(self.api_socket) if not (is_rootless or self.remote) and self.api_socket.is_socket() else ""
        return EngineInfo(
            self.name,
            True,
            client_version=version,
            server_version=version,
            oci_runtime=(host.get("ociRuntime") or {}).get("name", ""),
            storage_driver=(doc.get("store") or {}).get("graphDriverName", ""),
            cgroup_version=cgroup,
            is_rootless=is_rootless,
            extra={
                "binary": binary,
                "network_backend": host.get("networkBackend", ""),
                "rootful_socket": socket,
                "cgroup_manager": host.get("cgroupManager", ""),
                "kernel": host.get("kernel", ""),
                **({"host": self.remote.target, "daemon_host": host.get("hostname", "")} if self.remote else {}),
            },
        )

    def image_exists(self, image: str) -> bool:
        """`podman image exists`: exit code 1 means absent, anything else non-zero is an error."""
        proc = self.cli.run("image exists", ["image", "exists", "--", image], check=False)
        if proc.returncode not in (0, 1):
            raise failure(f"image exists {image!r}", proc)
        return proc.returncode == 0

    def _build_args(self, spec: BuildSpec, iidfile: Path) -> list[str]:
        # --layers keeps intermediate images, which is what makes Podman's build cache work.
        # --format docker, always: Docker's image config (Healthcheck, Shell, OnBuild), which the
        # OCI format has no place for, so Buildah drops those instructions with a warning. Every
        # Dockerfile then means what it means on Docker, whether or not it has one of them.
        return [*self._common_build_args(spec, iidfile), "--layers", "--format", "docker", "--", str(spec.context)]

    def _missing_capabilities(self, info: EngineInfo) -> dict[str, str]:
        # Podman runs health checks from transient systemd timers (`podman healthcheck run` is
        # what they call); without systemd as init, health stays `starting` for ever.
        if self.remote:
            return {
                "healthcheck": "Podman schedules health checks with systemd timers, and seatrial cannot see "
                f"whether systemd runs on the engine's machine ({self.remote.target})"
            }
        if not self.systemd_booted.is_dir():
            return {
                "healthcheck": "Podman schedules health checks with systemd timers and systemd is not "
                f"running here (no {self.systemd_booted}); health would stay 'starting'"
            }
        return {}

    def _cache_report(self, log: str, spec: BuildSpec) -> list[InstructionCache]:
        dockerfile = (Path(spec.context) / spec.dockerfile).read_text()
        steps = buildlog.parse_podman(log, dockerfile)
        return buildlog.drop_label_steps(steps, len(spec.labels))
