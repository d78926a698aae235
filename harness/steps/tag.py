"""`tag`: another reference for an image built earlier in the scenario."""

from __future__ import annotations

from seatrial.engines.base import EngineError, ResourceRef
from seatrial.harness.itemcontext import ItemContext, StepError
from seatrial.harness.modeltypes import Name, Strict
from seatrial.harness.problem import KeyPath
from seatrial.harness.steps.namebook import NameBook
from seatrial.harness.steps.stepkind import StepKind, StepOutcome, refused, register, track


class TagStepBody(Strict):
    """Give an image built earlier another reference, e.g. `docker.io/library/{{ image.app }}:1`."""

    image: Name
    ref: str


@register
class Tag(StepKind):
    """Another reference for an image built earlier; the reference goes away with the item."""

    kind = "tag"
    body_model = TagStepBody

    def check_names(self, body: dict, at: KeyPath, book: NameBook) -> None:
        book.use("image", body.get("image"), at + ("image",))

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
