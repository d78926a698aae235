"""Running one item (scenario x engine): plan, steps, checks, and teardown in `finally`.

The order matters and reads top to bottom: decide skips before any side effect; run the steps
in order, each followed by its checks and captures; after a step whose checks fail, skip the
later steps that use what it made (harness/dependence.py) and run the others, so that the item
reports every failed check; stop only at a failed positive control (the item is inconclusive);
always remove what the item made. Guarding, deciding, teardown and the `item_end` record are the
item lifecycle's (seatrial.harness.lifecycle), shared with the benchmark runner.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Callable

from seatrial.harness.availability import EngineHealth
from seatrial.harness.dependence import Dependence, Hidden
from seatrial.harness.events import EventLog
from seatrial.harness.expectations import apply_captures, evaluate
from seatrial.harness.itemcontext import ItemContext
from seatrial.harness.lifecycle import ItemLife
from seatrial.harness.model import Scenario
from seatrial.harness.outcome import ItemInterrupted, ItemResult, Outcome, divergence_reason
from seatrial.harness.steps import STEP_KINDS


def goes_on_after(scenario: Scenario, engine: str, step, index: int, checks: list) -> bool:
    """After a step whose failed checks are an expected difference of this engine (a divergence
    that names the step) even the steps that use what it made still run, so that one documented
    gap does not hide the checks after it. Not when the engine refused the step: what it should
    have made is not there, and the steps using it would fail for that reason alone."""
    failed = [c for c in checks if not c.ok]
    refused = any(c.what == "engine accepts the step" for c in failed)
    return not refused and not step.control and divergence_reason(scenario, engine, failed, named_only=True) is not None


# `host_env` is not one: `-e NAME` takes its value on the client side, here, for a remote engine too
HOST_FACT = re.compile(r"\{\{\s*host_(?!env\.)")


def step_dependence(scenario: Scenario) -> Dependence:
    """The names the scenario's steps make and use, read from its model as the loader read the
    file (only the keys the file gave)."""
    return Dependence.of_steps(scenario.model_dump(mode="json", exclude_unset=True)["steps"])


def needed_capabilities(scenario: Scenario) -> list[str]:
    """The capabilities the scenario declares and those its steps need, each once."""
    needed: list[str] = list(scenario.requires)
    for step in scenario.steps:
        needed.extend(STEP_KINDS[step.kind].needs(step.body))
        if step.expect and step.expect.files:
            needed.append("inspect.files")
        if step.expect and step.expect.inspect and step.expect.inspect.health not in (None, "none"):
            needed.append("healthcheck")  # an engine that runs no checks would stay `starting`
    if HOST_FACT.search(scenario.model_dump_json()):
        needed.append("host.facts")  # this machine's facts: of another machine's engine they say nothing
    return list(dict.fromkeys(needed))


def missing_capabilities(scenario: Scenario, engine) -> list[str]:
    """Reasons this engine cannot run the scenario, decided from capabilities alone."""
    caps = engine.capabilities()
    reasons = []
    for capability in needed_capabilities(scenario):
        if not caps.has(capability):
            reasons.append(f"{capability} is not available on {engine.name} ({caps.reason(capability)})")
    return reasons


def execute_step(ctx: ItemContext, index: int, step, emit: Callable[..., None]) -> list:
    """Run one step, check it, apply its captures and record it (with any benchmark samples)."""
    started = time.monotonic()
    kind = STEP_KINDS[step.kind]
    outcome = kind.execute(ctx, step.body)
    if not outcome.duration:  # steps that time nothing themselves (remove, volume, a refusal)
        outcome.duration = time.monotonic() - started
    checks = evaluate(ctx, index, step.expect, outcome, implicit_success=kind.must_exit_zero(step.body))
    where = ", ".join(filter(None, (step.kind, ctx.scenario.step_place(index))))
    checks = [
        dataclasses.replace(c, where=where, what=_timed_out(c.what, outcome) if not c.ok else c.what) for c in checks
    ]
    apply_captures(ctx, step.capture, outcome)
    emit_step(emit, index, step.kind, outcome, checks, place=ctx.scenario.step_place(index))
    for message in outcome.warnings:  # the engine ignored something: shown, never a verdict
        emit("warning", index=index, kind=step.kind, message=message)
        ctx.warnings.append(f"step {index + 1} ({step.kind}): {message}")
    for sample in outcome.detail.get("samples", ()):
        emit("sample", **sample)
    return checks


def _timed_out(what: str, outcome) -> str:
    """A bounded wait that ran out says so, how long and how many tries it took: its checks
    are about the last try."""
    detail = outcome.detail
    if not detail.get("timed_out"):
        return what
    return (
        f"{what} (timed out: {detail.get('attempts')} tries in {outcome.duration:.1f} s of its "
        f"{detail.get('timeout'):g} s; the last try's result)"
    )


def emit_step(emit: Callable[..., None], index: int, kind: str, outcome, checks, place: str = "") -> None:
    """The `step` record: what ran (and where the file writes it), how long, what it printed
    (tail), cache report and checks."""
    emit(
        "step",
        index=index,
        kind=kind,
        place=place,
        duration=outcome.duration,
        exit_code=outcome.exit_code,
        refused=outcome.refused,
        stdout=outcome.stdout[-2000:],
        stderr=outcome.stderr[-2000:],
        cache=[
            {"index": i.index, "instruction": i.instruction, "hit": i.is_cache_hit} for i in outcome.build.instructions
        ]
        if outcome.build
        else None,
        checks=[{"what": c.what, "expected": c.expected, "actual": c.actual, "ok": c.ok} for c in checks],
    )


def run_item(
    ctx: ItemContext,
    events: EventLog | None = None,
    progress: Callable[[str], None] = lambda _: None,
    health: EngineHealth | None = None,
) -> ItemResult:
    """Run one item to its outcome, always tearing down and writing its `item_end`
    (seatrial.harness.lifecycle: guard, decide, teardown, end).

    Only checks that ran to the end make a pass: the result starts as an error, a signal makes
    it `interrupted` (raised on as ItemInterrupted once recorded), and an engine that stopped
    answering (`health`) makes it an error saying so, whatever its steps saw meanwhile."""
    scenario, engine = ctx.scenario, ctx.engine
    life = ItemLife(ctx, events, health)
    where = "before its first step"
    stopped_at = None
    hidden: list[Hidden] = []
    try:
        with life.guard():
            if life.admit(needed_capabilities(scenario), lambda: missing_capabilities(scenario, engine)):
                dependence = step_dependence(scenario)
                for index, step in enumerate(scenario.steps):
                    where = f"in step {index + 1} ({step.kind})"
                    blocked = dependence.hidden(index)
                    if blocked is not None:
                        hidden.append(blocked)
                        dependence.record(index, has_failed=True, cause=blocked.cause)
                        life.emit("step_hidden", index=index, kind=step.kind, message=blocked.message)
                        continue
                    progress(f"step {index + 1} {step.kind}")
                    checks = execute_step(ctx, index, step, life.emit)
                    life.result.checks.extend(checks)
                    has_failed = any(not c.ok for c in checks)
                    if has_failed and step.control:
                        stopped_at = index  # inconclusive: the checks it guards prove nothing
                        break
                    dependence.record(
                        index, has_failed=has_failed and not goes_on_after(scenario, engine.name, step, index, checks)
                    )
                life.decide()
                _note_unrun_steps(life.result, len(scenario.steps), stopped_at, hidden)
    except KeyboardInterrupt as exc:
        life.interrupted(exc, where)
    finally:
        life.finish()
        if events:
            events.sync()
    if life.interrupt is not None:
        raise ItemInterrupted(life.result) from life.interrupt
    return life.result


def _note_unrun_steps(result: ItemResult, steps: int, stopped_at: int | None, hidden: list[Hidden]) -> None:
    """Say which steps a failure kept from running, and why: those steps held nothing."""
    if result.outcome not in (Outcome.DIVERGED, Outcome.FAILED):
        return
    notes = result.hidden = [h.message for h in hidden]
    if stopped_at is not None and stopped_at + 1 < steps:
        first, last = stopped_at + 2, steps
        unrun = f"step {first} did not" if first == last else f"steps {first}..{last} did not"
        notes.append(f"{unrun} run: the item stopped at step {stopped_at + 1}")
    if notes:
        result.reason += f" ({'; '.join(notes)})"
