"""What an engine says it ignored or could not do while the command itself succeeded.

A build or run that exits 0 can still have dropped part of what it was asked: Podman building
in OCI format drops HEALTHCHECK ("HEALTHCHECK is not supported for OCI image format and will be
ignored. Must use `docker` format"), Podman without systemd cannot schedule health checks
("unable to get systemd connection to add healthchecks"), Docker's classic builder leaves build
arguments unused ("[Warning] One or more build-args [X] were not consumed"), Docker's client
discards ports on the host network ("WARNING: Published ports are discarded when using host
network mode"). Such lines become warnings on the item, so that a pass that rests on an ignored
instruction is visible in the summary and not only in a log.

The forms recognised, each the engine's own and none that a program's ordinary output has:
  logrus text (Podman, Buildah, Docker's daemon errors passed through):
      time="..." level=warning msg="..."        and level=error while the command succeeded
  logrus on a terminal:                         WARN[0000] ...   ERRO[0000] ...
  Docker's client:                              WARNING: ...
  Docker's classic builder:                     [Warning] ...
  a plain line saying something is ignored or discarded (Podman 4.3: "Port mappings have been
  discarded as one of the Host, Container, Pod, and None network modes are in use")
A command's own output can imitate them (a RUN that prints "WARNING: x"): a warning is a hint
for the reader, never a verdict.
"""

from __future__ import annotations

import re

_LOGRUS = re.compile(r'\blevel=(?:warning|error) msg="((?:[^"\\]|\\.)*)"')
_LOGRUS_TTY = re.compile(r"^(?:WARN|ERRO)\[\d+\] (.+)$")
_DOCKER = re.compile(r"^(?:WARNING: |\[Warning\] )(.+)$")
_IGNORED = re.compile(
    r"\b(?:will be ignored|(?:has|have) been (?:discarded|ignored)|(?:is|are|was|were) "
    r"(?:discarded|ignored))\b",
    re.IGNORECASE,
)


def engine_warnings(output: str) -> tuple[str, ...]:
    """The warnings an engine printed in `output`, each once, in the order printed."""
    found: list[str] = []
    for line in output.splitlines():
        line = line.strip()
        match = _LOGRUS.search(line)
        if match:
            found.append(match.group(1).replace('\\"', '"').replace("\\\\", "\\"))
            continue
        match = _LOGRUS_TTY.match(line) or _DOCKER.match(line)
        if match:
            found.append(match.group(1).strip())
        elif _IGNORED.search(line):
            found.append(line)
    return tuple(dict.fromkeys(found))
