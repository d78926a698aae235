"""pytest-testinfra hosts for containers, reached through the adapter's own client binary.

testinfra's docker and podman backends run ``docker exec ...`` through a shell, so they use
whatever ``docker`` comes first on PATH; here that may be a newer client than the one the adapter
drives (/usr/local/bin/docker before /usr/bin/docker). These subclasses name the binary.
"""

from __future__ import annotations

import testinfra.host
from testinfra.backend import base
from testinfra.backend.docker import DockerBackend
from testinfra.backend.podman import PodmanBackend

BACKENDS = {"docker": DockerBackend, "podman": PodmanBackend}


def container_host(
    scheme: str, binary: str, container: str, prefix: tuple[str, ...] = (), client_args: tuple[str, ...] = ()
) -> testinfra.host.Host:
    """A Host for `container` whose commands run as `[PREFIX...] <binary> [CLIENT_ARGS...] exec [-u USER] NAME /bin/sh -c CMD`
    (a prefix such as `runuser -u USER --` reaches a rootless engine's containers; client args such as
    `--host ssh://...` an engine on another machine)."""

    engine_backend: type[base.BaseBackend] = BACKENDS[scheme]

    class Backend(engine_backend):
        def run(self, command: str, *args: str, **kwargs) -> base.CommandResult:
            cmd = self.get_command(command, *args)
            user = ["-u", self.user] if self.user is not None else []
            # run_local quotes every %s argument, so the binary path and names stay single words.
            template = " ".join(
                ["%s"] * (len(prefix) + 1 + len(client_args))
                + ["exec", *(["%s", "%s"] if user else []), "%s", "/bin/sh", "-c", "%s"]
            )
            out = self.run_local(template, *prefix, binary, *client_args, *user, self.name, cmd)
            out.command = self.encode(cmd)
            return out

    backend = Backend(container)
    host = testinfra.host.Host(backend)
    backend.set_host(host)
    return host
