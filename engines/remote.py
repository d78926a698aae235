"""Engines on other machines: the `NAME@TARGET` engine spec and what such an engine cannot do.

`docker@ssh://user@host[:port]` drives Docker's client with `--host` (DOCKER_HOST semantics:
the client runs `ssh ... docker system dial-stdio` on the far side); `docker@NAME` with
`--context NAME`. `podman@ssh://user@host[:port][/socket]` drives `podman --remote --url` (the
far side needs Podman's API service listening on that socket); `podman@NAME` uses the saved
`--connection NAME`. Every command then travels through that connection, labels, the reaper and
the leak check included, so nothing is left on the far side either.

The engine's name in a run is `docker@HOST`, HOST being the host part of the URL (or the context
or connection name): results carry it, and reports show the column `docker@HOST`, as they do for
runs inside a VM. What needs this machine and the engine's to be one is missing, with the reason:
bind mounts name paths here, probes connect from here, host facts are this machine's.
"""

from __future__ import annotations

import copy
import dataclasses
import re
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

# Label put on everything a remote engine makes: the reaper of this machine judges only its own
# sessions' resources on a daemon that other machines may drive too (their lock files are not here).
ORIGIN_LABEL = "seatrial.origin"
SCHEMES = ("ssh", "tcp")
# Docker context and Podman connection names: letters, digits, `.`, `_`, `-` (Docker's rule).
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
# The engines `--host` places when no --engine is named: the adapters with a remote mode.
REMOTE_DEFAULT = ("docker", "docker-buildkit", "podman")
# What each adapter family reads from the environment, as its client does.
ENVIRONMENT = {"docker": "DOCKER_HOST", "podman": "CONTAINER_HOST"}


Spec = TypeVar("Spec", bound=Any)


class RemoteSpecError(ValueError):
    """An engine spec whose target is not a URL or name seatrial can drive; says what to write."""


@dataclass(frozen=True)
class Remote:
    """Where a remote engine lives: a URL (`ssh://root@vm:22`) or a context/connection name."""

    target: str
    url: str = ""  # "" when `target` names a Docker context or a Podman connection
    label: str = ""  # the host part of the URL, or the name: `engine@label` in results

    @property
    def is_named(self) -> bool:
        return not self.url


def split_spec(spec: str) -> tuple[str, str]:
    """`docker@ssh://root@vm` -> ("docker", "ssh://root@vm"); `docker` -> ("docker", "")."""
    name, _, target = spec.partition("@")
    return name, target


def parse_target(target: str) -> Remote:
    """The Remote a spec's target names; RemoteSpecError for anything else."""
    if "://" not in target:
        if not NAME.match(target):
            raise RemoteSpecError(
                f"{target!r} is neither a URL (ssh://user@host[:port], tcp://host:port) nor a Docker context "
                "or Podman connection name (letters, digits, '.', '_', '-')"
            )
        return Remote(target, "", target)
    parts = urlsplit(target)
    if parts.scheme not in SCHEMES:
        raise RemoteSpecError(
            f"{target!r}: scheme {parts.scheme!r} is not one of {', '.join(SCHEMES)}; an engine on this machine "
            "needs no @ (a unix socket here: set DOCKER_HOST or CONTAINER_HOST for that engine alone)"
        )
    try:
        host = parts.hostname
        parts.port  # noqa: B018 -- urlsplit checks the port only when asked
    except ValueError as exc:
        raise RemoteSpecError(f"{target!r}: {exc}") from None
    if not host:
        raise RemoteSpecError(f"{target!r} names no host; write {parts.scheme}://user@host[:port]")
    return Remote(target, target, host)


def from_environment(adapter: str, environ: Mapping[str, str]) -> Remote | None:
    """The remote that DOCKER_HOST (docker, docker-buildkit) or CONTAINER_HOST (podman) names, if it
    names one: the client would go there without being told, so the engine is labelled as remote."""
    variable = ENVIRONMENT.get(adapter.split("-")[0])
    value = environ.get(variable or "", "")
    return parse_target(value) if value and urlsplit(value).scheme in SCHEMES else None


def remote_name(adapter: str, remote: Remote) -> str:
    """The engine's name in a run: `docker@vm1`."""
    return f"{adapter}@{remote.label}"


def with_host(engines: list[str], host: str) -> list[str]:
    """`--host URL`: each engine named without a target (or, with none named, REMOTE_DEFAULT) at URL."""
    return [name if "@" in name else f"{name}@{host}" for name in engines or REMOTE_DEFAULT]


def adapter_of(engine_name: str) -> str:
    """The adapter a (possibly remote) engine name runs: `podman@vm1` -> `podman`. Divergences
    and the scenario's engine-specific notes name adapters, so they hold on every host."""
    return engine_name.partition("@")[0]


def host_of(engine_name: str) -> str:
    """The host label of a remote engine's name ("" for an engine on this machine)."""
    return engine_name.partition("@")[2]


def missing_here(engine_name: str, remote: Remote) -> dict[str, str]:
    """The capabilities an engine on another machine lacks, each with the reason."""
    where = f"{engine_name} runs on another machine ({remote.target})"
    return {
        "mounts.bind": f"bind mounts name paths on the engine's machine, and {where}: the scenario's "
        "folders are on this one",
        "host.probe": f"probe steps connect from this machine to published ports and container addresses, "
        f"and {where}: they would not reach it",
        "host.facts": f"the scenario compares containers with this machine's kernel, hostname and "
        f"namespaces, and {where}",
    }


def origin() -> str:
    """This machine's name, the value of ORIGIN_LABEL."""
    return socket.gethostname()


def stamped(spec: Spec, remote: Remote | None) -> Spec:
    """`spec` with ORIGIN_LABEL added to its labels when the engine is remote (unchanged when not)."""
    if remote is None:
        return spec
    return dataclasses.replace(spec, labels={**spec.labels, ORIGIN_LABEL: origin()})


def own_resources(refs: Iterable[Any], remote: Remote | None) -> list[Any]:
    """Of the labelled resources an engine listed, those this machine's sessions made: all of
    them on this machine; on another, those carrying this machine's ORIGIN_LABEL."""
    if remote is None:
        return list(refs)
    here = origin()
    return [ref for ref in refs if ref.labels.get(ORIGIN_LABEL) == here]


class Placeable:
    """What a CLI-driven adapter needs to run its engine elsewhere: `on_host` gives a copy whose
    client (`self.cli`, engines/client.py) carries the words that point it there."""

    name: str
    cli: Any
    remote: Remote | None = None  # where the engine lives when not on this machine

    def on_host(self, remote: Remote):
        """This adapter driving the engine at `remote`, named `adapter@host`: every command,
        cleanup included, goes through that connection."""
        engine = copy.copy(self)
        engine.cli = dataclasses.replace(self.cli, args=(*self.cli.args, *self._remote_args(remote)))
        engine.remote = remote
        engine.name = remote_name(self.name, remote)
        return engine

    def _remote_args(self, remote: Remote) -> tuple[str, ...]:
        raise RemoteSpecError(f"engine {self.name!r} runs only on this machine; leave out @{remote.target}")
