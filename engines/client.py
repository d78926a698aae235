"""Driving an engine's command-line client: argument lists in, text or JSON out, errors named.

Docker and Podman share this plumbing; their adapters differ only where the engines do. Every
call is an argument list with shell=False and a timeout, and a failure becomes an EngineError
that names the operation, the exit code and what the engine wrote on stderr.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field

from seatrial.engines.base import EngineError, Mount, PortMapping, RunSpec

# What both engines say when the thing is not there: Docker "No such container: x",
# Podman "x: image not known" / "network not found" / "no such container".
ABSENT = re.compile(r"no such|not known|not found", re.IGNORECASE)
# Exit codes with which the client itself (not the container's process) may have failed.
CLIENT_FAILURES = {125, 126, 127}
LIST_ARGS = {
    "container": ["ps", "-a", "-q", "--no-trunc"],
    "image": ["images", "-a", "-q", "--no-trunc"],
    "network": ["network", "ls", "-q"],
    "volume": ["volume", "ls", "-q"],
}
INSPECT_ARGS = {
    "container": ["container", "inspect"],
    "image": ["image", "inspect"],
    "network": ["network", "inspect"],
    "volume": ["volume", "inspect"],
}
REMOVE_ARGS = {
    "container": ["rm", "-f", "-v"],
    "image": ["rmi", "-f"],
    "network": ["network", "rm"],
    "volume": ["volume", "rm", "-f"],
}
STDERR_TAIL = 2000  # characters of stderr kept in an error message: the end is where the cause is


def info_timeout(environ: Mapping[str, str] = os.environ) -> float:
    """Seconds an engine's `info` may take before the engine counts as unavailable: 20, or
    SEATRIAL_INFO_TIMEOUT (an emulated VM under load needs more; `seatrial vm` sets it there)."""
    try:
        return max(1.0, float(environ.get("SEATRIAL_INFO_TIMEOUT", "20")))
    except ValueError:
        return 20.0


@dataclass(frozen=True)
class Cli:
    """One engine client binary plus the environment it needs (e.g. DOCKER_BUILDKIT)."""

    binary: str
    env: Mapping[str, str] = field(default_factory=dict)
    timeout: float = 60.0
    # Words before the binary, e.g. `runuser -u USER -- env XDG_RUNTIME_DIR=...` to run it as
    # another user (rootless Podman).
    prefix: tuple[str, ...] = ()
    # Words after the binary, before the subcommand: where the engine lives when it is not here
    # (`--host ssh://...`, `--context NAME`, `--remote --url ...`, `--connection NAME`).
    args: tuple[str, ...] = ()

    def run(
        self,
        operation: str,
        args: list[str],
        *,
        timeout: float | None = None,
        check: bool = True,
        merge_stderr: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        """Run `binary args...`; raise EngineError naming `operation` if it fails and `check`."""
        limit = self.timeout if timeout is None else timeout
        try:
            proc = subprocess.run(
                [*self.prefix, self.binary, *self.args, *args],
                shell=False,
                text=True,
                errors="replace",
                stdin=subprocess.DEVNULL,  # an attached `run` must never wait on our stdin
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE,
                timeout=limit,
                env={**os.environ, **self.env},
            )
        except FileNotFoundError:
            raise EngineError(operation, f"{self.binary}: not found") from None
        except subprocess.TimeoutExpired as exc:
            raise EngineError(operation, f"timed out after {limit:g}s: {' '.join(exc.cmd)}") from None
        if check and proc.returncode != 0:
            raise failure(operation, proc)
        return proc

    def json(self, operation: str, args: list[str], *, timeout: float | None = None):
        """Run and parse stdout as JSON."""
        proc = self.run(operation, args, timeout=timeout)
        try:
            return json.loads(proc.stdout or "null")
        except json.JSONDecodeError as exc:
            raise EngineError(operation, f"output is not JSON ({exc}): {proc.stdout[:200]!r}") from None


def failure(operation: str, proc: subprocess.CompletedProcess[str]) -> EngineError:
    """An EngineError for a finished command: exit code and the tail of stderr (or stdout)."""
    said = (proc.stderr or proc.stdout or "").strip()[-STDERR_TAIL:]
    return EngineError(operation, f"exit code {proc.returncode}; stderr: {said!r}", exit_code=proc.returncode)


def label_args(labels: Mapping[str, str]) -> list[str]:
    """`--label k=v` for each label, sorted so that commands are reproducible."""
    return [arg for k, v in sorted(labels.items()) for arg in ("--label", f"{k}={v}")]


def port_arg(port: PortMapping) -> str:
    """host_ip:host_port:container_port/proto; an empty host port lets the engine choose."""
    host_port = str(port.host_port) if port.host_port else ""
    return f"{port.host_ip}:{host_port}:{port.container_port}/{port.protocol}"


def mount_args(mount: Mount) -> list[str]:
    """`--volume` for an anonymous volume and a `nocopy` one (the form both engines document for
    them: `-v /path`, `-v NAME:/path:nocopy`), `--mount` for the others."""
    if not (mount.is_anonymous or mount.nocopy):
        return ["--mount", mount_arg(mount)]
    for value in (mount.source, mount.target):
        if ":" in value or "," in value:
            raise EngineError("run", f"volume path {value!r} contains ':' or ',', which --volume cannot carry")
    options = ",".join(o for o, on in (("ro", mount.read_only), ("nocopy", mount.nocopy)) if on)
    parts = [p for p in (mount.source, mount.target, options) if p]
    return ["--volume", ":".join(parts)]


def mount_arg(mount: Mount) -> str:
    """The value of `--mount`; both engines split it on commas, so a comma cannot be quoted."""
    for value in (mount.source, mount.target):
        if "," in value:
            raise EngineError("run", f"mount path {value!r} contains a comma, which --mount cannot carry")
    arg = f"type={mount.kind},source={mount.source},target={mount.target}"
    return arg + (",readonly" if mount.read_only else "")


def security_args(spec: RunSpec, unmask_option: str) -> list[str]:
    """Capabilities, seccomp, masked paths and no_new_privs; `unmask_option` is the engine's
    spelling of "no masked paths" (Docker: systempaths=unconfined, Podman: unmask=ALL)."""
    args = [a for cap in spec.cap_add for a in ("--cap-add", cap)]
    options = ["seccomp=unconfined"] if spec.seccomp == "unconfined" else []
    options += [unmask_option] if spec.unmask_paths else []
    options += ["no-new-privileges"] if spec.no_new_privileges else []
    args += [a for option in options for a in ("--security-opt", option)]
    args += ["--pid", "host"] if spec.pid == "host" else []
    args += ["--pull", spec.pull] if spec.pull else []
    return args


def run_args(spec: RunSpec, unmask_option: str = "systempaths=unconfined") -> list[str]:
    """The arguments of `run` after the subcommand: options, `--`, image, then the command.

    An entrypoint is given as its first word (`--entrypoint` takes one) and the rest goes before
    the command; `entrypoint=()` clears the image's entrypoint with `--entrypoint ""`.
    """
    args = ["-d"] if spec.detach else []
    args += ["--name", spec.name, *label_args(spec.labels), "--network", spec.network]
    args += [a for alias in spec.network_aliases for a in ("--network-alias", alias)]
    args += [a for port in spec.ports for a in ("--publish", port_arg(port))]
    args += [a for mount in spec.mounts for a in mount_args(mount)]
    args += [a for k, v in sorted(spec.env.items()) for a in ("--env", f"{k}={v}")]
    # The client takes a bare name's value from its environment, or leaves it out: ours, inherited.
    args += [a for name in spec.env_from_host for a in ("--env", name)]
    for option, value in (("--hostname", spec.hostname), ("--workdir", spec.workdir), ("--user", spec.user)):
        if value is not None:
            args += [option, value]
    args += [a for server in spec.dns or () for a in ("--dns", server)]
    args += ["--privileged"] if spec.privileged else []
    args += security_args(spec, unmask_option)
    args += ["--rm"] if spec.remove else []
    tail: list[str] = []
    if spec.entrypoint is not None:
        args += ["--entrypoint", spec.entrypoint[0] if spec.entrypoint else ""]
        tail = list(spec.entrypoint[1:])
    tail += list(spec.command or ())
    return [*args, "--", spec.image, *tail]
