"""A pytest-testinfra backend that runs commands inside a reference container.

Kernel facilities: those of nsexec.exec_in (setns(2) by pidfd, chroot(2), fork(2), execve(2)).
Registered in testinfra.backend.BACKENDS as `seatrial-reference`, so
`testinfra.get_host("seatrial-reference://NAME")` works against the default state root;
ReferenceEngine.testinfra_host(NAME) binds the engine (and its root) directly.
"""

from __future__ import annotations

from typing import Any

import testinfra.backend
import testinfra.host
from testinfra.backend import base

NAME = "seatrial-reference"


class SeatrialReferenceBackend(base.BaseBackend):
    NAME = NAME

    def __init__(self, name: str, *args: Any, engine=None, **kwargs: Any):
        self.name = name
        self.engine = engine
        super().__init__(name, *args, **kwargs)

    def run(self, command: str, *args: str, **kwargs: Any) -> base.CommandResult:
        if self.engine is None:
            from .adapter import ReferenceEngine

            self.engine = ReferenceEngine()
        cmd = self.get_command(command, *args)
        result = self.engine.exec(self.name, ("/bin/sh", "-c", cmd))
        return self.result(result.exit_code, self.encode(cmd), result.stdout, result.stderr)


testinfra.backend.BACKENDS.setdefault(NAME, f"{__name__}.SeatrialReferenceBackend")


def host_for(engine, container: str) -> testinfra.host.Host:
    return testinfra.host.Host(SeatrialReferenceBackend(container, engine=engine))
