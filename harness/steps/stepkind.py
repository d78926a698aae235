"""What a step kind is: what it needs from the engine, and how it runs."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from pydantic import BaseModel

from seatrial.harness.itemcontext import ItemContext
from seatrial.engines.base import BuildResult, ResourceRef


@dataclass
class StepOutcome:
    """What a step produced, for expectations and captures. `refused` is set when the engine
    refused the operation itself (an EngineError), as opposed to a command exiting non-zero."""

    exit_code: int | None = None
    stdout: str = ""
    stderr: str = ""
    build: BuildResult | None = None
    image_id: str = ""
    container: str = ""
    refused: str | None = None
    duration: float = 0.0
    detail: dict = field(default_factory=dict)
    warnings: tuple[str, ...] = ()   # what the engine said it ignored (engines/notices.py)


def refused(exc, container: str = "") -> StepOutcome:
    """The outcome of a step the engine refused: its exit code and what it said."""
    return StepOutcome(exit_code=exc.exit_code, stderr=exc.detail, refused=str(exc), container=container)


class StepRunner:
    """A step kind. `needs` is decided before any side effect, so a missing capability skips."""

    kind: ClassVar[str]

    def needs(self, body: BaseModel) -> list[str]:
        return []

    def execute(self, ctx: ItemContext, body: BaseModel) -> StepOutcome:
        raise NotImplementedError


STEP_REGISTRY: dict[str, StepRunner] = {}


def register(cls: type[StepRunner]) -> type[StepRunner]:
    STEP_REGISTRY[cls.kind] = cls()
    return cls


def track(ctx: ItemContext, ref: ResourceRef) -> ResourceRef:
    """Remember a resource so the item's teardown removes it."""
    if ref not in ctx.created:
        ctx.created.append(ref)
    return ref
