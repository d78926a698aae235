"""`measure`: repeat inner steps for a benchmark and record every round's sample, raw.

A round runs the inner steps (`copies` times), times the ones not marked `untimed` with a
monotonic clock, and then removes the containers it started, untimed, so that every round starts
from the same state. Statistics are not computed here: samples go to events.jsonl as they are and
reports compute medians and intervals (DESIGN.md, Benchmarks). `measure_round` is the unit the
benchmark runner (seatrial.harness.bench) interleaves across engines; `Measure.execute` runs all rounds on
one engine, for a plain `seatrial run` or `pytest` of a benchmark scenario file.
"""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal

from pydantic import Field, model_validator

from seatrial.engines.base import EngineError
from seatrial.engines.records import ResourceRef
from seatrial.harness.expectations import apply_captures, evaluate
from seatrial.harness.itemcontext import ItemContext, StepError
from seatrial.harness.memory import footprint
from seatrial.harness.modeltypes import Name, Strict
from seatrial.harness.problem import KeyPath
from seatrial.harness.reaper import remove_all
from seatrial.harness.steps.stepkind import STEP_KINDS, StepKind, StepOutcome, register

if TYPE_CHECKING:
    from seatrial.harness.model import Step

UNITS = {"duration": "s", "first_output": "s", "image_size": "bytes"}
_ADJTIMEX = re.compile(r"time\.tv_sec:\s*(\d+)\s+time\.tv_usec:\s*(\d+)")


class MeasureStepBody(Strict):
    """Repeat inner steps for a benchmark: `warmup` rounds are run and discarded, then `rounds`
    samples of `metric` are recorded raw (event `sample`). Containers a round starts are removed
    after it (untimed), so every round starts alike; images stay, so a rebuild can hit the cache.

    Samples never decide pass/fail: statistics are computed when reporting. Under
    `seatrial run --bench` the rounds of all engines are interleaved (A B C A B C ...)."""

    metric: Name = Field(description="What is measured, e.g. start-to-exit; unique in the scenario")
    rounds: int = Field(10, ge=1, le=10000, description="Recorded rounds")
    warmup: int = Field(2, ge=0, le=1000, description="Rounds run first and marked warm-up (not in statistics)")
    value: Literal["duration", "first_output", "image_size"] = Field(
        "duration",
        description="duration: wall-clock seconds of the timed inner steps; first_output: "
        "seconds from the start of the round to the wall-clock time that the "
        "container prints first (busybox `adjtimex` output or a number); "
        "image_size: bytes of the image the last build made",
    )
    copies: int = Field(
        1, ge=1, le=1000, description="Inner steps run this many times per round (density: N containers up at once)"
    )
    memory: bool = Field(
        False,
        description="Also record `<metric>.memory`: PSS per copy of the engine's daemons, the "
        "containers' shims and their processes while all copies are up, against before the round "
        "(seatrial.harness.memory); and `<metric>.memory-runtime`: the same without the containers' own processes",
    )
    untimed: list[int] = Field(
        default_factory=list,
        description="0-based inner steps that prepare a round (e.g. an edit before a rebuild) and are not timed",
    )
    steps: list[Step] = Field(min_length=1, description="The operation measured; any step kind but measure")

    @model_validator(mode="after")
    def _inner(self):
        if any(s.kind == "measure" for s in self.steps):
            raise ValueError("a measure step cannot contain another measure step")
        bad = [i for i in self.untimed if not 0 <= i < len(self.steps)]
        if bad:
            raise ValueError(f"untimed: {bad} are not indexes of inner steps (0..{len(self.steps) - 1})")
        if len(self.untimed) >= len(self.steps) and self.value == "duration":
            raise ValueError("every inner step is untimed: nothing would be measured")
        return self


def printed_time(stdout: str) -> float:
    """The wall-clock time a container printed: busybox `adjtimex` (microseconds; busybox `date`
    has no %N) or a plain number of seconds on the first line."""
    found = _ADJTIMEX.search(stdout)
    if found:
        return int(found.group(1)) + int(found.group(2)) / 1e6
    try:
        return float(stdout.split()[0])
    except (IndexError, ValueError):
        raise StepError(
            f"first_output: no time in the container's output {stdout[:200]!r}; "
            "print `adjtimex` or seconds since the epoch first"
        ) from None


def measure_round(ctx: ItemContext, body: MeasureStepBody, round_no: int) -> list[dict]:
    """Run one round; return its sample records (metric, round, value, unit, warmup).

    `round_no` counts warm-ups first: rounds below `body.warmup` are recorded as warm-up with a
    negative round number, so raw data keeps them but statistics leave them out."""
    mark = len(ctx.created)
    before = footprint(ctx.engine, []) if body.memory else None
    timed = 0.0
    round_wall: float | None = None  # when the first timed step of the round began
    last: StepOutcome | None = None  # the last timed step's outcome
    try:
        for copied in range(body.copies):
            for j, step in enumerate(body.steps):
                wall, start = time.time(), time.perf_counter()
                kind = STEP_KINDS[step.kind]
                outcome = kind.execute(ctx, step.body)
                elapsed = time.perf_counter() - start
                failed = [
                    c
                    for c in evaluate(ctx, j, step.expect, outcome, implicit_success=kind.must_exit_zero(step.body))
                    if not c.ok
                ]
                if failed:
                    raise StepError(
                        f"measure {body.metric}: round {round_no}, "
                        + (f"copy {copied + 1} of {body.copies}, " if body.copies > 1 else "")
                        + f"inner step {j} ({step.kind}): {failed[0].message}"
                    )
                apply_captures(ctx, step.capture, outcome)
                if j not in body.untimed:
                    timed += elapsed
                    round_wall = wall if round_wall is None else round_wall
                    last = outcome
        if before is not None:
            up = [r for r in ctx.created[mark:] if r.kind == "container"]
            after = footprint(ctx.engine, up)
            runtime = (after.daemons - before.daemons + after.shims) / body.copies
            memory_taken = runtime + after.containers / body.copies
    except (StepError, EngineError) as exc:
        # Where a density round stopped says how far the engine goes: name the copy.
        if body.copies > 1 and "copy " not in str(exc):
            raise StepError(
                f"measure {body.metric}: round {round_no} stopped at copy {copied + 1} of {body.copies}: {exc}"
            ) from exc
        raise
    finally:
        _remove_round_containers(ctx, mark)
    if body.value == "first_output":
        if last is None or round_wall is None:
            raise StepError(f"measure {body.metric}: value first_output needs a timed step")
        value = printed_time(last.stdout) - round_wall
    elif body.value == "image_size":
        if last is None or last.build is None:
            raise StepError(f"measure {body.metric}: value image_size needs a timed build step")
        value = float(last.build.size)
    else:
        value = timed
    base = {"round": round_no - body.warmup, "warmup": round_no < body.warmup}
    samples = [{"metric": body.metric, "value": value, "unit": UNITS[body.value], **base}]
    if body.memory:
        samples.append({"metric": f"{body.metric}.memory", "value": memory_taken, "unit": "bytes", **base})
        samples.append({"metric": f"{body.metric}.memory-runtime", "value": runtime, "unit": "bytes", **base})
    return samples


def _remove_round_containers(ctx: ItemContext, mark: int) -> None:
    """Remove the containers this round started, so the next round starts alike; images and
    networks stay (a rebuild measures the cache the previous round left)."""
    started = [r for r in ctx.created[mark:] if r.kind == "container"]
    # By id: a lookup by name may scan every container, and a density round removes 1,000.
    left = remove_all(ctx.engine, [ResourceRef(r.kind, r.id) if r.id else r for r in started])
    if left:
        raise StepError("measure: could not remove " + ", ".join(r.handle for r in left))
    names = {r.handle for r in started}
    ctx.created[mark:] = [r for r in ctx.created[mark:] if r.kind != "container"]
    for local in [k for k, v in ctx.containers.items() if v in names]:
        del ctx.containers[local]


@register
class Measure(StepKind):
    kind = "measure"
    body_model = MeasureStepBody

    def needs(self, body: MeasureStepBody) -> list[str]:
        return [need for step in body.steps for need in STEP_KINDS[step.kind].needs(step.body)]

    def inner_steps(self, body: dict) -> Iterable[tuple[KeyPath, dict]]:
        # Inner steps repeat each round; what they use must exist, checked like any step.
        inner = found if isinstance(found := body.get("steps"), list) else []
        return [(("steps", j), step) for j, step in enumerate(inner) if isinstance(step, dict)]

    def execute(self, ctx: ItemContext, body: MeasureStepBody) -> StepOutcome:
        """Every round on this engine alone (no interleaving: that needs all engines at once)."""
        started = time.monotonic()
        samples = [s for r in range(body.warmup + body.rounds) for s in measure_round(ctx, body, r)]
        return summarize(body, samples, time.monotonic() - started)


def summarize(body: MeasureStepBody, samples: list[dict], duration: float) -> StepOutcome:
    """The step's outcome: samples in `detail` (the runner writes them as events), a median in
    stdout for people reading the step record."""
    kept = [s["value"] for s in samples if s["metric"] == body.metric and not s["warmup"]]
    text = f"{body.metric}: median {statistics.median(kept):.6g} {UNITS[body.value]} of {len(kept)} rounds\n"
    return StepOutcome(exit_code=0, stdout=text, duration=duration, detail={"samples": samples})
