"""`network`, `volume`, `remove` and `host_write`: the things containers use, and host files."""
from __future__ import annotations

import socket

from seatrial.harness.itemcontext import ItemContext, StepError
from seatrial.engines.base import EngineError, NetworkSpec, ResourceRef, VolumeSpec
from seatrial.harness.model import HostWriteStepBody, NetworkStepBody, RemoveStepBody, TagStepBody, VolumeStepBody
from seatrial.harness.steps.stepkind import StepOutcome, StepRunner, refused, register, track


def create_volume(ctx: ItemContext, local: str) -> str:
    name = ctx.real_name(local)
    track(ctx, ctx.engine.volume_create(VolumeSpec(name=name, labels=ctx.labels)))
    ctx.volumes[local] = name
    return name


@register
class Network(StepRunner):
    kind = "network"

    def needs(self, body: NetworkStepBody) -> list[str]:
        return ["network.user_defined"]

    def execute(self, ctx: ItemContext, body: NetworkStepBody) -> StepOutcome:
        name = ctx.real_name(body.name)
        try:
            track(ctx, ctx.engine.network_create(NetworkSpec(name=name, internal=body.internal, labels=ctx.labels)))
        except EngineError as exc:
            return refused(exc)
        ctx.networks[body.name] = name
        return StepOutcome(exit_code=0)


@register
class Volume(StepRunner):
    kind = "volume"

    def needs(self, body: VolumeStepBody) -> list[str]:
        return ["volumes.named"]

    def execute(self, ctx: ItemContext, body: VolumeStepBody) -> StepOutcome:
        try:
            create_volume(ctx, body.name)
        except EngineError as exc:
            return refused(exc)
        return StepOutcome(exit_code=0)


@register
class Remove(StepRunner):
    kind = "remove"

    def execute(self, ctx: ItemContext, body: RemoveStepBody) -> StepOutcome:
        tables = {"container": ctx.containers, "image": ctx.images, "network": ctx.networks, "volume": ctx.volumes}
        kind, local = next((k, v) for k, v in body.model_dump().items() if v is not None)
        real = tables[kind].get(local)
        if real is None:
            raise StepError(f"remove: no {kind} named '{local}' was made earlier in this scenario")
        try:
            ctx.engine.remove(ResourceRef(kind, id=real, name=real))
        except EngineError as exc:
            return refused(exc)
        return StepOutcome(exit_code=0)


@register
class HostWrite(StepRunner):
    kind = "host_write"

    def execute(self, ctx: ItemContext, body: HostWriteStepBody) -> StepOutcome:
        path = ctx.inside_scratch(ctx.render(body.path))
        path.parent.mkdir(parents=True, exist_ok=True)
        if body.kind == "socket":
            # bind(2) leaves the socket's inode behind when the socket closes: that is what a
            # probe for engine sockets finds.
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.bind(str(path))
        else:
            path.write_text(ctx.render(body.content))
        if body.mode is not None:
            path.chmod(int(body.mode, 8))
        return StepOutcome(exit_code=0)


@register
class Tag(StepRunner):
    """Another reference for an image built earlier; the reference goes away with the item."""

    kind = "tag"

    def execute(self, ctx: ItemContext, body: TagStepBody) -> StepOutcome:
        image = ctx.images.get(body.image)
        if image is None:
            raise StepError(f"tag: no image named '{body.image}' was built earlier in this scenario")
        ref = ctx.render(body.ref)
        try:
            ctx.engine.tag(image, ref)
        except EngineError as exc:
            return refused(exc)
        track(ctx, ResourceRef("image", id=ref, name=ref))
        return StepOutcome(exit_code=0)
