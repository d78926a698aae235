"""Scenario format v1: the scenario and its steps, as the pydantic models YAML scenarios are
validated against.

The models are the single source of truth: `seatrial schema` exports them as JSON Schema
(draft-07) into scenarios/schema.json for editors, and the loader validates with them.
Every model forbids unknown keys so that a misspelt key is an error, never silently ignored.
A step's kinds come from the registry of step kinds (harness/steps/): each kind adds its key to
`Step`, with the kind's body model, and `Step` is rebuilt whenever the registry changes.
Expectations are in harness/expectmodel.py.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator
from pydantic.fields import FieldInfo

from seatrial.engines.base import Capability
from seatrial.harness.expectmodel import Expect
from seatrial.harness.modeltypes import Name, Strict
from seatrial.harness.steps import STEP_KINDS
from seatrial.harness.steps.stepkind import when_kinds_change

Tag = Annotated[
    str,
    Field(
        pattern=r"^[a-z][a-z0-9_-]{0,62}$", description="A label for -m selection: lowercase letters, digits, '_', '-'"
    ),
]
ClaimId = Annotated[str, Field(pattern=r"^C[0-9]{2}$", description="A claim id from docs/claims.md, e.g. C07")]

__all__ = ["BenchmarkSpec", "ClaimId", "Divergence", "Name", "RatioSpec", "Scenario", "Step", "Tag"]


class Step(Strict):
    """One step: exactly one kind key, plus what to expect and what to capture."""

    # Built once its kind keys are there (`_sync_step_kinds`), not once before without them.
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)
    # The kind keys (build, run, ...) come first; `_sync_step_kinds` adds them from the registry.
    expect: Expect | None = None
    control: bool = Field(
        False,
        description=(
            "A positive control: the step shows that the probe can see the difference (e.g. under an added "
            "capability). If its checks fail, the item is an error (inconclusive), never a pass or a fail"
        ),
    )
    capture: dict[str, Literal["stdout", "stderr", "exit_code", "image_id", "image_size"]] = Field(
        default_factory=dict, description="Save a result under a name for later expectations"
    )
    note: str | None = Field(None, description="Why this step is here; shown in reports")

    @model_validator(mode="after")
    def _exactly_one_kind(self):
        kinds = [k for k in STEP_KINDS if getattr(self, k, None) is not None]
        if len(kinds) != 1:
            raise ValueError(f"a step has exactly one of {', '.join(STEP_KINDS)}; got {', '.join(kinds) or 'none'}")
        if self.expect and self.expect.image_config is not None and STEP_KINDS[kinds[0]].inspect_target != "image":
            raise ValueError(
                f"expect.image_config: a {kinds[0]} step makes no image; put it on the build step "
                "(or check another image with expect.inspect: {image: TAG, config: ...})"
            )
        inspect = self.expect.inspect if self.expect else None
        needs_container = inspect is not None and (inspect.health is not None or inspect.user is not None)
        targets = ("container",) if needs_container else ("container", "image")
        if inspect and not (inspect.container or inspect.image) and STEP_KINDS[kinds[0]].inspect_target not in targets:
            raise ValueError(
                f"expect.inspect: a {kinds[0]} step has no container"
                f"{'' if inspect.health or inspect.user else ' or image'} of its own; "
                "name one with container (or image)"
            )
        return self

    @property
    def kind(self) -> str:
        """The step's kind: its one kind key."""
        return next(k for k in STEP_KINDS if getattr(self, k, None) is not None)

    @property
    def body(self) -> Any:
        """The model under the step's kind key."""
        return getattr(self, self.kind)


class Divergence(Strict):
    """An expected, documented difference: on `engine`, a failure is reported as diverged."""

    engine: str
    reason: str
    steps: list[int] | None = Field(None, description="0-based steps the divergence covers; all if omitted")


class RatioSpec(Strict):
    """A ratio of two metrics of the same scenario on the same engine, reported with its interval
    (e.g. C11: rebuild with the wrong order over rebuild with the right order)."""

    name: Name
    numerator: Name
    denominator: Name
    summary: str | None = None


class BenchmarkSpec(Strict):
    """Marks a scenario as a benchmark: it runs only under `seatrial run --bench`, as one item
    spanning every engine, with the rounds of its measure steps interleaved across engines."""

    ratios: list[RatioSpec] = Field(default_factory=list)
    full_only: bool = Field(False, description="Long: runs only with --bench-full (e.g. density of 200)")
    params: dict[str, int | float | str] = Field(
        default_factory=dict, description="Parameters reports plot against, e.g. containers: 50"
    )


class Scenario(Strict):
    """A scenario: the claims it checks, what it needs, and its steps with their expectations."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="seatrial scenario, format v1", defer_build=True)
    # Where each step is written (file, then its line per step), for messages; set by the loader.
    _file: str = PrivateAttr("")
    _step_lines: tuple[int, ...] = PrivateAttr(())

    def step_place(self, index: int) -> str:
        """`file:line` of step `index` (0-based), or "" for a scenario not read from a file."""
        if not self._file or not 0 <= index < len(self._step_lines):
            return ""
        return f"{self._file}:{self._step_lines[index]}"

    schema_version: Literal[1]
    name: str | None = Field(None, description="Defaults to the file stem; must equal it if given")
    summary: str
    claims: list[ClaimId] = Field(
        default_factory=list,
        description=(
            "Behaviours of the project's claims list (C01..C32) this scenario checks; the claims table "
            "shows only these. A scenario of your own (an app's checks) needs none: give it tags"
        ),
    )
    requires: list[Capability] = Field(default_factory=list, description="Engine capabilities the scenario needs")
    tags: list[Tag] = Field(
        default_factory=list,
        description=("Free labels of your own, selectable with -m (`seatrial run -m web`); not claims"),
    )
    divergences: list[Divergence] = Field(default_factory=list)
    benchmark: BenchmarkSpec | None = Field(None, description="Present: the scenario is a benchmark")
    steps: list[Step] = Field(min_length=1)

    @model_validator(mode="after")
    def _metrics(self):
        measures = [s.body for s in self.steps if s.kind == "measure"]
        names = [m.metric for m in measures]
        if len(names) != len(set(names)):
            raise ValueError(f"measure metrics must be unique in a scenario; got {names}")
        if measures and self.benchmark is None:
            raise ValueError("a scenario with measure steps is a benchmark: add `benchmark: {}`")
        for ratio in self.benchmark.ratios if self.benchmark else []:
            for metric in (ratio.numerator, ratio.denominator):
                if metric not in names:
                    raise ValueError(
                        f"ratio {ratio.name}: no measure step has metric '{metric}'; "
                        f"metrics: {', '.join(names) or 'none'}"
                    )
        return self


_COMMON_FIELDS = dict(Step.__pydantic_fields__)
# Kind bodies that hold steps (measure's): their validators embed Step's, so they are rebuilt with it.
_HOLDING_STEPS: set[type[BaseModel]] = set()


def _sync_step_kinds() -> None:
    """Give `Step` one optional field per registered kind, in registry order, before its own
    fields; then rebuild every model whose validator embeds `Step`, so that they all validate the
    kinds registered now. A body that names `Step` cannot be complete before Step is: that is how
    the bodies holding steps are found."""
    kinds = {
        # pydantic takes any annotation here, a union too; its signature says type[Any]
        kind: FieldInfo.from_annotated_attribute(runner.body_model | None, None)  # type: ignore[arg-type]
        for kind, runner in STEP_KINDS.items()
    }
    Step.__pydantic_fields__ = {**kinds, **_COMMON_FIELDS}
    _HOLDING_STEPS.update(r.body_model for r in STEP_KINDS.values() if not r.body_model.__pydantic_complete__)
    embedding: list[type[BaseModel]] = [Step, *_HOLDING_STEPS, Scenario]
    for model in embedding:
        for attribute in ("__pydantic_core_schema__", "__pydantic_validator__", "__pydantic_serializer__"):
            if attribute in model.__dict__:
                delattr(model, attribute)  # else a rebuild reuses the schema that embeds the old Step
        model.__pydantic_complete__ = False
    for model in embedding:
        model.model_rebuild(force=True, _types_namespace={"Step": Step})


_sync_step_kinds()
when_kinds_change(_sync_step_kinds)
