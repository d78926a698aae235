"""Running one item (scenario x engine): plan, steps, checks, and teardown in `finally`.

The order matters and reads top to bottom: decide skips before any side effect; run the steps
in order, each followed by its checks and captures; stop at the first step whose checks fail
(later steps depend on earlier ones); always remove what the item made.
"""
from __future__ import annotations

import dataclasses
import signal
import time
from typing import Callable

from seatrial.harness.availability import EngineHealth
from seatrial.harness.itemcontext import ITEM_LABEL, ItemContext, StepError
from seatrial.engines.base import EngineError, EngineUnavailable
from seatrial.harness.events import EventLog
from seatrial.harness.expectations import apply_captures, evaluate
from seatrial.harness.model import Scenario
from seatrial.harness.outcome import ItemInterrupted, ItemResult, Outcome, decide, divergence_reason
from seatrial.harness.reaper import remove_all
from seatrial.harness.steps import STEP_KINDS


def goes_on_after(scenario: Scenario, engine: str, step, index: int, checks: list) -> bool:
    """After a step whose failed checks are an expected difference of this engine (a divergence
    that names the step) the next steps still run, so that one documented gap does not hide
    every check after it. Not when the engine refused the step: what it should have made is not
    there, and the steps after it would fail for that reason alone."""
    failed = [c for c in checks if not c.ok]
    refused = any(c.what == "engine accepts the step" for c in failed)
    return not refused and not step.control and divergence_reason(scenario, engine, failed, named_only=True) is not None


def needed_capabilities(scenario: Scenario) -> list[str]:
    """The capabilities the scenario declares and those its steps need, each once."""
    needed = list(scenario.requires)
    for step in scenario.steps:
        needed.extend(STEP_KINDS[step.kind].needs(step.body))
        if step.expect and step.expect.files:
            needed.append("inspect.files")
        if step.expect and step.expect.inspect and step.expect.inspect.health not in (None, "none"):
            needed.append("healthcheck")  # an engine that runs no checks would stay `starting`
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
    if not outcome.duration:   # steps that time nothing themselves (remove, volume, a refusal)
        outcome.duration = time.monotonic() - started
    checks = evaluate(ctx, index, step.expect, outcome, implicit_success=kind.must_exit_zero(step.body))
    where = ", ".join(filter(None, (step.kind, ctx.scenario.step_place(index))))
    checks = [dataclasses.replace(c, where=where, what=_timed_out(c.what, outcome) if not c.ok else c.what)
              for c in checks]
    apply_captures(ctx, step.capture, outcome)
    emit_step(emit, index, step.kind, outcome, checks)
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
    return (f"{what} (timed out: {detail.get('attempts')} tries in {outcome.duration:.1f} s of its "
            f"{detail.get('timeout'):g} s; the last try's result)")


def emit_step(emit: Callable[..., None], index: int, kind: str, outcome, checks) -> None:
    """The `step` record: what ran, how long, what it printed (tail), cache report and checks."""
    emit("step", index=index, kind=kind, duration=outcome.duration, exit_code=outcome.exit_code,
         refused=outcome.refused, stdout=outcome.stdout[-2000:], stderr=outcome.stderr[-2000:],
         cache=[{"index": i.index, "instruction": i.instruction, "hit": i.is_cache_hit}
                for i in outcome.build.instructions] if outcome.build else None,
         checks=[{"what": c.what, "expected": c.expected, "actual": c.actual, "ok": c.ok} for c in checks])


def run_item(ctx: ItemContext, events: EventLog | None = None,
             progress: Callable[[str], None] = lambda _: None,
             health: EngineHealth | None = None) -> ItemResult:
    """Run one item to its outcome, always tearing down and writing its `item_end`.

    Only checks that ran to the end make a pass: the result starts as an error, a signal makes
    it `interrupted` (raised on as ItemInterrupted once recorded), and an engine that stopped
    answering (`health`) makes it an error saying so, whatever its steps saw meanwhile."""
    scenario, engine = ctx.scenario, ctx.engine
    name = scenario.name or ""
    emit = (lambda record_type, **f: events.write(record_type, scenario=name, engine=engine.name, **f)) if events else (lambda *a, **k: None)
    started = time.monotonic()
    result = ItemResult(name, engine.name, Outcome.ERROR, "the item stopped before its checks ran to the end")
    interrupt: BaseException | None = None
    where = "before its first step"
    try:
        gone = health.reason(engine) if health else None
        broken = health.problems(engine, needed_capabilities(scenario)) if health and not gone else []
        reasons = [] if gone or broken else missing_capabilities(scenario, engine)
        if gone:
            result.reason = gone
        elif broken:  # the engine is broken here: its problem, not a verdict on the claims
            result.reason = "; ".join(broken)
        elif reasons:
            result.outcome, result.reason = Outcome.SKIPPED, "; ".join(reasons)
        else:
            stopped_at = None
            for index, step in enumerate(scenario.steps):
                where = f"in step {index + 1} ({step.kind})"
                progress(f"step {index + 1} {step.kind}")
                checks = execute_step(ctx, index, step, emit)
                result.checks.extend(checks)
                if any(not c.ok for c in checks) and not goes_on_after(scenario, engine.name, step, index, checks):
                    stopped_at = index
                    break
            result.outcome, result.reason = decide(scenario, engine.name, result.checks)
            if stopped_at is not None and stopped_at + 1 < len(scenario.steps) \
                    and result.outcome is Outcome.DIVERGED:
                # Say what the divergence kept from being checked: those steps held nothing.
                first, last = stopped_at + 2, len(scenario.steps)
                unrun = f"step {first} did not" if first == last else f"steps {first}..{last} did not"
                result.reason += f" ({unrun} run: the item stopped at step {stopped_at + 1})"
    except KeyboardInterrupt as exc:
        interrupt = exc
        result.outcome, result.reason = Outcome.INTERRUPTED, f"interrupted ({signal_name(exc)}) {where}"
    except (StepError, EngineError, EngineUnavailable) as exc:
        result.outcome, result.reason = Outcome.ERROR, f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # a harness bug: report it as an error of this item, keep the run going
        result.outcome, result.reason = Outcome.ERROR, f"{type(exc).__name__}: {exc}"
    finally:
        if health and result.outcome in (Outcome.SKIPPED, Outcome.FAILED, Outcome.ERROR):
            # What looked like a missing capability or a failed check may be an engine that died.
            gone = health.check(engine)
            if gone:
                result.outcome, result.reason = Outcome.ERROR, gone
        try:
            leftovers = teardown(ctx)
        except KeyboardInterrupt as exc:  # a second signal forces the teardown short
            leftovers = []
            if interrupt is None:  # the first signal came during teardown: no verdict stands
                result.reason = f"interrupted ({signal_name(exc)}) during teardown"
            interrupt = interrupt or exc
            result.outcome = Outcome.INTERRUPTED
            result.reason += "; teardown cut short (the next run or `seatrial clean` removes what is left)"
        if leftovers and result.outcome in (Outcome.PASSED, Outcome.DIVERGED, Outcome.FAILED):
            result.outcome = Outcome.ERROR
            result.reason = (result.reason + "; " if result.reason else "") + "teardown left " + ", ".join(leftovers)
        result.duration = time.monotonic() - started
        result.warnings = list(ctx.warnings)
        emit("item_end", outcome=result.outcome.value, reason=result.reason, duration=result.duration,
             warnings=result.warnings)
        if events:
            events.sync()
    if interrupt is not None:
        raise ItemInterrupted(result) from interrupt
    return result


def signal_name(exc: BaseException) -> str:
    """"SIGTERM" for the runstate's SIGTERM handler ("signal 15"), else "SIGINT" (Ctrl-C)."""
    text = str(exc)
    if text.startswith("signal "):
        try:
            return signal.Signals(int(text.split()[1])).name
        except ValueError:
            return text
    return "SIGINT"


def teardown(ctx: ItemContext) -> list[str]:
    """Remove what the item made: what it tracked, then anything else carrying its item label
    (intermediate build layers inherit the label from the item's base image)."""
    engine = ctx.engine
    left = remove_all(engine, reversed(ctx.created))
    try:
        labelled = engine.resources(f"{ITEM_LABEL}={ctx.item_id}")
        left = remove_all(engine, labelled) if labelled else []
        if left:
            left = remove_all(engine, engine.resources(f"{ITEM_LABEL}={ctx.item_id}"))
    except EngineError:
        pass
    ctx.cleanup_scratch()
    return [f"{r.kind} {r.handle}" for r in left]
