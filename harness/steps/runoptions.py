"""The parts of a `run` step that reach outside the container: its mounts (named, anonymous and
bind) and its published ports (given one by one, or every EXPOSEd one with `publish_all`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from seatrial.engines.base import EngineError, Mount, ResourceRef
from seatrial.harness.itemcontext import ItemContext, StepError
from seatrial.harness.modeltypes import Name, Strict
from seatrial.harness.stackmodel import mount_target_problem
from seatrial.harness.steps.stepkind import create_volume

# What `published_ports` names for a publish_all run: any port of that container may be published.
ANY_PORT = "*"
# A port to publish: (container port, host port or 0 for a free one, protocol).
Published = tuple[int, int, Literal["tcp", "udp"]]


class PortSpec(Strict):
    container: int = Field(ge=1, le=65535)
    host: int = Field(0, ge=0, le=65535, description="0: a free port chosen by the harness")
    protocol: Literal["tcp", "udp"] = "tcp"


class MountSpec(Strict):
    """At most one of volume (a named volume of this scenario) or bind (a host path); neither: an
    anonymous volume (`-v /path`), seeded from the image like a new named volume."""

    target: str
    volume: Name | None = None
    bind: str | None = None
    read_only: bool = False
    nocopy: bool = Field(
        False,
        description="A new named volume is not seeded with the image's content at target (-v NAME:/path:nocopy)",
    )

    @model_validator(mode="after")
    def _one_source(self):
        if self.volume is not None and self.bind is not None:
            raise ValueError("give one of volume, bind (or neither, for an anonymous volume)")
        if self.nocopy and self.volume is None:
            raise ValueError("nocopy: only a named volume (give volume) can be left unseeded")
        problem = mount_target_problem(self.target)
        if problem:
            raise ValueError(f"target: {problem}")
        return self


def mounts_of(ctx: ItemContext, given: list[MountSpec]) -> list[Mount]:
    """The engine's mounts for a run step's `mounts`: a named volume the scenario did not make yet is
    made with the item's labels first."""
    mounts = []
    for m in given:
        if m.volume:
            volume = ctx.volumes.get(m.volume)
            if volume is None:
                # An engine would create it silently, without our labels: make it ourselves.
                volume = create_volume(ctx, m.volume)
            mounts.append(Mount("volume", volume, m.target, m.read_only, nocopy=m.nocopy))
        elif m.bind is None:  # anonymous: the engine names it; `rm -v` removes it with the container
            mounts.append(Mount("volume", "", m.target, m.read_only))
        else:
            source = ctx.render(m.bind)
            try:
                ctx.inside_scratch(source).mkdir(parents=True, exist_ok=True)
            except StepError:
                pass  # a host path outside scratch is used as it is, never created
            mounts.append(Mount("bind", source, m.target, m.read_only))
    return mounts


def exposed_ports(ctx: ItemContext, image: str, given: list[Published]) -> list[Published]:
    """`-P`: every port the image EXPOSEs and `ports` does not publish already, as (container
    port, 0, protocol). The harness publishes them itself, each on 127.0.0.1 like every published
    port of a scenario (an engine's own -P binds every address of the host)."""
    config = ctx.engine.inspect(ResourceRef("image", "", image))["config"]
    taken = {(port, protocol) for port, _, protocol in given}
    found: list[Published] = []
    for key in sorted(config.get("ExposedPorts") or {}):
        number, _, named = str(key).partition("/")
        if not number.isdigit():
            raise EngineError("run", f"image {image!r} exposes {key!r}, which is not a port number -P can publish")
        protocol: Literal["tcp", "udp"] = "udp" if named == "udp" else "tcp"
        if (int(number), protocol) not in taken and named in ("", "tcp", "udp"):  # sctp: no PortMapping for it
            found.append((int(number), 0, protocol))
    return found
