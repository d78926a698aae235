"""The benchmark runner: one benchmark scenario on every engine at once, rounds interleaved.

Items are scenario x engine elsewhere; a benchmark cannot be, because its engines must take turns
round by round (A B C A B C ...) so that drift on the machine (page cache, thermal, other load)
hits every engine alike instead of whichever ran last. So the steps run in lock step: each
ordinary step on every engine in turn, each measure step round by round across engines. An
engine whose step fails or breaks drops out; the others go on. Each engine still gets its own
item context, events (item_start/step/sample/item_end) and teardown, like any item.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from seatrial.harness.itemcontext import ItemContext, StepError
from seatrial.engines.base import EngineError, EngineUnavailable
from seatrial.harness.events import EventLog
from seatrial.harness.model import Scenario
from seatrial.harness.outcome import ItemInterrupted, ItemResult, Outcome, decide
from seatrial.harness.runner import signal_name, emit_step, execute_step, missing_capabilities, teardown
from seatrial.harness.steps.measure import measure_round, summarize

BROKEN = (StepError, EngineError, EngineUnavailable)


@dataclass
class Lane:
    """One engine's part of a benchmark: its context, result and when it started."""

    ctx: ItemContext
    result: ItemResult
    started: float

    @property
    def is_live(self) -> bool:
        return self.result.outcome is Outcome.PASSED and not self.result.failed_checks


def run_benchmark(contexts: list[ItemContext], events: EventLog | None = None,
                  progress: Callable[[str], None] = lambda _: None) -> list[ItemResult]:
    """Run one benchmark scenario on every context's engine, interleaved; results per engine."""
    scenario: Scenario = contexts[0].scenario
    lanes = [Lane(ctx, ItemResult(scenario.name or "", ctx.engine.name, Outcome.PASSED), time.monotonic())
             for ctx in contexts]
    emitters = {id(lane): _emitter(events, scenario.name or "", lane.ctx.engine.name) for lane in lanes}
    interrupt: BaseException | None = None
    try:
        for lane in lanes:
            reasons = missing_capabilities(scenario, lane.ctx.engine)
            if reasons:
                lane.result.outcome, lane.result.reason = Outcome.SKIPPED, "; ".join(reasons)
        for index, step in enumerate(scenario.steps):
            live = [lane for lane in lanes if lane.is_live]
            if not live:
                break
            if step.kind == "measure":
                _interleave(live, index, step.measure, emitters, progress)
                continue
            for lane in live:
                _guarded(lane, lambda: lane.result.checks.extend(
                    execute_step(lane.ctx, index, step, emitters[id(lane)])))
    except KeyboardInterrupt as exc:
        interrupt = exc
        for lane in lanes:   # a signal leaves no verdict on the engines still running
            if lane.result.outcome is Outcome.PASSED:
                lane.result.outcome, lane.result.reason = Outcome.INTERRUPTED, f"interrupted ({signal_name(exc)})"
    finally:
        for lane in lanes:
            _finish(lane, emitters[id(lane)])
        if events:
            events.sync()
    if interrupt is not None:
        raise ItemInterrupted(*(lane.result for lane in lanes)) from interrupt
    return [lane.result for lane in lanes]


def _interleave(lanes: list[Lane], index: int, body, emitters, progress) -> None:
    """Round r on engine A, then B, then C; then round r+1. Samples are written as they come."""
    collected: dict[int, list[dict]] = {id(lane): [] for lane in lanes}
    started = time.monotonic()
    total = body.warmup + body.rounds
    for round_no in range(total):
        for lane in lanes:
            if not lane.is_live:
                continue

            def one_round(lane=lane):
                for sample in measure_round(lane.ctx, body, round_no):
                    collected[id(lane)].append(sample)
                    emitters[id(lane)]("sample", **sample)
            _guarded(lane, one_round)
        progress(f"{body.metric}: round {round_no + 1}/{total}"
                 + (" (warm-up)" if round_no < body.warmup else ""))
    for lane in lanes:
        if lane.is_live:
            outcome = summarize(body, collected[id(lane)], time.monotonic() - started)
            emit_step(emitters[id(lane)], index, "measure", outcome, [])


def _guarded(lane: Lane, action: Callable[[], None]) -> None:
    """Run an action for one engine; a broken engine drops out with the reason, others go on."""
    try:
        action()
    except BROKEN as exc:
        lane.result.outcome, lane.result.reason = Outcome.ERROR, f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # a harness bug: this engine's item errs, the run goes on
        lane.result.outcome, lane.result.reason = Outcome.ERROR, f"{type(exc).__name__}: {exc}"


def _finish(lane: Lane, emit) -> None:
    result = lane.result
    if result.outcome is Outcome.PASSED:
        result.outcome, result.reason = decide(lane.ctx.scenario, result.engine, result.checks)
    leftovers = teardown(lane.ctx)
    if leftovers and result.outcome is not Outcome.SKIPPED:
        result.outcome = Outcome.ERROR
        result.reason = (result.reason + "; " if result.reason else "") + "teardown left " + ", ".join(leftovers)
    result.duration = time.monotonic() - lane.started
    emit("item_end", outcome=result.outcome.value, reason=result.reason, duration=result.duration)


def _emitter(events: EventLog | None, scenario: str, engine: str):
    if events is None:
        return lambda *a, **k: None
    return lambda record_type, **f: events.write(record_type, scenario=scenario, engine=engine, **f)
