"""What a step kind is, and the registry of them.

A step kind is one class: its YAML key, its body model, what it needs from the engine, the names
it makes and uses (for the checks across steps at load time), whether its command must exit 0,
and how it runs. The scenario model's `Step`, the list of kinds in messages, the cross-step name
checks and the JSON Schema are all derived from `STEP_KINDS`, so a new kind is one new module.

A new kind: a module in harness/steps/ with a body model (a `Strict` subclass named
`<Kind>StepBody`) and a `@register`ed `StepKind` subclass that sets `kind` and `body_model` and
overrides `execute` (and `needs`, `check_names`, ... where it has something to say); the
package imports every module of the folder; then regenerate scenarios/schema.json
(`seatrial schema -o scenarios/schema.json`) and reinstall an editable install.
tests/unit/test_step_kinds.py registers one from a test module and runs it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel

from seatrial.engines.base import BuildResult, ResourceRef, VolumeSpec
from seatrial.harness.problem import KeyPath
from seatrial.harness.steps.namebook import NameBook

if TYPE_CHECKING:
    from seatrial.harness.itemcontext import ItemContext


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
    warnings: tuple[str, ...] = ()  # what the engine said it ignored (engines/notices.py)


def refused(exc, container: str = "") -> StepOutcome:
    """The outcome of a step the engine refused: its exit code and what it said."""
    return StepOutcome(exit_code=exc.exit_code, stderr=exc.detail, refused=str(exc), container=container)


class StepKind:
    """The base of every step kind; subclasses set `kind` and `body_model` and override `execute`.

    `needs` is decided before any side effect, so a missing capability skips the item."""

    kind: ClassVar[str]  # the step's YAML key, e.g. "run"
    body_model: ClassVar[type[BaseModel]]  # the model of the mapping under that key
    # Steps whose command result is the point: with no `expect`, they must exit 0.
    is_command: ClassVar[bool] = False
    # What an `expect.inspect` without `container` or `image` looks at: the step's own container
    # (its health, its user, its image's config), or the image it made (config only).
    inspect_target: ClassVar[Literal["container", "image"] | None] = None

    def needs(self, body: Any) -> list[str]:
        """The engine capabilities this step needs."""
        return []

    def must_exit_zero(self, body: Any) -> bool:
        """With no `expect`, the step passes only when it exits 0."""
        return self.is_command

    def check_names(self, body: dict, at: KeyPath, book: NameBook) -> None:
        """Note in `book` the names the step makes, uses and removes. `body` is the raw YAML
        mapping (the schema may have refused it: read it defensively), `at` its key path."""

    def published_ports(self, body: dict) -> Iterable[str]:
        """The `CONTAINER.PORT` names the step publishes, as `{{ port.CONTAINER.PORT }}` reads them."""
        return ()

    def inner_steps(self, body: dict) -> Iterable[tuple[KeyPath, dict]]:
        """Steps nested in this one (relative key path, raw mapping), checked for names after it."""
        return ()

    def execute(self, ctx: ItemContext, body: Any) -> StepOutcome:
        """Run the step on the item's engine."""
        raise NotImplementedError


# Every step kind by its YAML key, in the order messages list them (registration order).
STEP_KINDS: dict[str, StepKind] = {}
_listeners: list[Callable[[], None]] = []


def register(cls: type[StepKind]) -> type[StepKind]:
    """Class decorator: make `cls` a step kind; the scenario model follows at once."""
    STEP_KINDS[cls.kind] = cls()
    _changed()
    return cls


def unregister(kind: str) -> None:
    """Forget a step kind (a test's own, once the test is done)."""
    if STEP_KINDS.pop(kind, None) is not None:
        _changed()


def when_kinds_change(listener: Callable[[], None]) -> None:
    """Call `listener` after every change of STEP_KINDS (the scenario model rebuilds `Step`)."""
    _listeners.append(listener)


def _changed() -> None:
    for listener in _listeners:
        listener()


def check_step_names(step: dict, at: KeyPath, book: NameBook) -> None:
    """Every kind key of a raw step, checked for the names it makes, uses and removes."""
    for kind, runner in STEP_KINDS.items():
        body = step.get(kind)
        if isinstance(body, dict):
            runner.check_names(body, at + (kind,), book)


def track(ctx: ItemContext, ref: ResourceRef) -> ResourceRef:
    """Remember a resource so the item's teardown removes it."""
    if ref not in ctx.created:
        ctx.created.append(ref)
    return ref


def create_volume(ctx: ItemContext, local: str) -> str:
    """Make the scenario's volume `local` with the item's labels; its real name."""
    name = ctx.real_name(local)
    track(ctx, ctx.engine.volume_create(VolumeSpec(name=name, labels=ctx.labels)))
    ctx.volumes[local] = name
    return name
