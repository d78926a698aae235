"""The benchmark runner: one benchmark scenario on every engine at once, rounds interleaved.

Items are scenario x engine elsewhere; a benchmark cannot be, because its engines must take turns
round by round (A B C A B C ...) so that drift on the machine (page cache, thermal, other load)
hits every engine alike instead of whichever ran last. So the steps run in lock step: each
ordinary step on every engine in turn, each measure step round by round across engines. An
engine whose step fails or breaks drops out; the others go on. Each engine still gets its own
item context, events (item_start/step/sample/item_end) and teardown, like any item.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

from seatrial.harness.events import EventLog
from seatrial.harness.itemcontext import ItemContext
from seatrial.harness.lifecycle import ItemLife
from seatrial.harness.model import Scenario
from seatrial.harness.outcome import ItemInterrupted, ItemResult
from seatrial.harness.runner import emit_step, execute_step, missing_capabilities
from seatrial.harness.steps.measure import measure_round, summarize


def is_live(lane: ItemLife) -> bool:
    """Whether this engine still takes part: no skip, error or signal, and no failed check."""
    return lane.is_open and not lane.result.failed_checks


def run_benchmark(
    contexts: list[ItemContext], events: EventLog | None = None, progress: Callable[[str], None] = lambda _: None
) -> list[ItemResult]:
    """Run one benchmark scenario on every context's engine, interleaved; results per engine.

    Each engine is one item of seatrial.harness.lifecycle: guarded, decided, torn down and
    ended like any scenario item."""
    scenario: Scenario = contexts[0].scenario
    lanes = [ItemLife(ctx, events) for ctx in contexts]
    try:
        for lane in lanes:
            with lane.guard():
                lane.admit([], functools.partial(missing_capabilities, scenario, lane.ctx.engine))
        for index, step in enumerate(scenario.steps):
            live = [lane for lane in lanes if is_live(lane)]
            if not live:
                break
            if step.kind == "measure":
                _interleave(live, index, step.body, progress)
                continue
            for lane in live:
                with lane.guard():
                    lane.result.checks.extend(execute_step(lane.ctx, index, step, lane.emit))
        for lane in lanes:
            lane.decide()
    except KeyboardInterrupt as exc:
        for lane in lanes:  # a signal leaves no verdict on the engines still running
            lane.interrupted(exc)
    finally:
        forced: KeyboardInterrupt | None = None
        for lane in lanes:  # once a signal cut one engine's teardown short, the others' is not tried
            lane.finish(cut_short=forced)
            forced = forced or lane.teardown_cut
        if events:
            events.sync()
    interrupts = [lane.interrupt for lane in lanes if lane.interrupt is not None]
    if interrupts:
        raise ItemInterrupted(*(lane.result for lane in lanes)) from interrupts[0]
    return [lane.result for lane in lanes]


def _interleave(lanes: list[ItemLife], index: int, body, progress) -> None:
    """Round r on engine A, then B, then C; then round r+1. Samples are written as they come."""
    collected: dict[int, list[dict]] = {id(lane): [] for lane in lanes}
    started = time.monotonic()
    total = body.warmup + body.rounds
    for round_no in range(total):
        for lane in lanes:
            if not is_live(lane):
                continue
            with lane.guard():
                for sample in measure_round(lane.ctx, body, round_no):
                    collected[id(lane)].append(sample)
                    lane.emit("sample", **sample)
        progress(f"{body.metric}: round {round_no + 1}/{total}" + (" (warm-up)" if round_no < body.warmup else ""))
    for lane in lanes:
        if is_live(lane):
            outcome = summarize(body, collected[id(lane)], time.monotonic() - started)
            emit_step(lane.emit, index, "measure", outcome, [])
