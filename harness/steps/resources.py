"""`remove`, `network` and `volume`: the things containers use, made and removed by name."""

from __future__ import annotations

from pydantic import model_validator

from seatrial.engines.base import EngineError, NetworkSpec, ResourceKind, ResourceRef
from seatrial.harness.itemcontext import ItemContext, StepError
from seatrial.harness.modeltypes import Name, Strict
from seatrial.harness.problem import KeyPath
from seatrial.harness.steps.namebook import NameBook
from seatrial.harness.steps.stepkind import StepKind, StepOutcome, create_volume, refused, register, track


class RemoveStepBody(Strict):
    """Remove a container, image, network or volume made earlier in the scenario."""

    container: Name | None = None
    image: Name | None = None
    network: Name | None = None
    volume: Name | None = None

    @model_validator(mode="after")
    def _one_kind(self):
        given = [k for k, v in self.model_dump().items() if v is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of container, image, network, volume")
        return self


class NetworkStepBody(Strict):
    name: Name
    internal: bool = False


class VolumeStepBody(Strict):
    name: Name


@register
class Remove(StepKind):
    kind = "remove"
    body_model = RemoveStepBody

    def check_names(self, body: dict, at: KeyPath, book: NameBook) -> None:
        for noun, name in body.items():
            if noun in book.made:
                book.remove(noun, name, at + (noun,))

    def execute(self, ctx: ItemContext, body: RemoveStepBody) -> StepOutcome:
        tables: dict[ResourceKind, dict[str, str]] = {
            "container": ctx.containers,
            "image": ctx.images,
            "network": ctx.networks,
            "volume": ctx.volumes,
        }
        kind, local = next((k, name) for k in tables if (name := getattr(body, k)) is not None)
        real = tables[kind].get(local)
        if real is None:
            raise StepError(f"remove: no {kind} named '{local}' was made earlier in this scenario")
        try:
            ctx.engine.remove(ResourceRef(kind, id=real, name=real))
        except EngineError as exc:
            return refused(exc)
        return StepOutcome(exit_code=0)


@register
class Network(StepKind):
    kind = "network"
    body_model = NetworkStepBody

    def check_names(self, body: dict, at: KeyPath, book: NameBook) -> None:
        book.make("network", body.get("name"), at + ("name",))

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
class Volume(StepKind):
    kind = "volume"
    body_model = VolumeStepBody

    def check_names(self, body: dict, at: KeyPath, book: NameBook) -> None:
        book.make("volume", body.get("name"), at + ("name",))

    def needs(self, body: VolumeStepBody) -> list[str]:
        return ["volumes.named"]

    def execute(self, ctx: ItemContext, body: VolumeStepBody) -> StepOutcome:
        try:
            create_volume(ctx, body.name)
        except EngineError as exc:
            return refused(exc)
        return StepOutcome(exit_code=0)
