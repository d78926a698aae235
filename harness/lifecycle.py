"""One item's lifecycle, the same for a scenario item and for each engine of a benchmark.

start   the `item_start` record (what, where, which claims)
guard   decide skips before any side effect; a broken engine or harness makes this item an error
        and a signal makes it `interrupted`, never a pass or a fail
decide  checks that ran to the end make the verdict (outcome.decide)
teardown  in `finally`: remove what the item made; a second signal cuts it short
end     the `item_end` record, then the interrupt goes on up (ItemInterrupted) once recorded

The runner (one engine, steps in order) and the benchmark runner (engines in lock step) differ
only in how they walk the steps; both go through this class, so an item's record and outcome
mean the same whichever ran it.

A teardown leftover is never dropped: it is named in the reason whatever the outcome, and it
turns a verdict (passed, diverged, failed, skipped) into an error, since a run that left things
behind cannot vouch for what it saw. An item that was already an error or interrupted keeps its
outcome: its reason says what broke first, and then what was left.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from seatrial.engines.base import EngineError
from seatrial.harness.availability import EngineHealth
from seatrial.harness.events import EventLog
from seatrial.harness.itemcontext import ITEM_LABEL, ItemContext
from seatrial.harness.outcome import ItemResult, Outcome, decide
from seatrial.harness.reaper import remove_all

UNFINISHED = "the item stopped before its checks ran to the end"
CUT_SHORT = "teardown cut short (the next run or `seatrial clean` removes what is left)"
# Outcomes that a leftover turns into an error: they claim the item ran cleanly to a verdict.
VERDICTS = (Outcome.PASSED, Outcome.DIVERGED, Outcome.FAILED, Outcome.SKIPPED)


def signal_name(exc: BaseException) -> str:
    """ "SIGTERM" for the runstate's SIGTERM handler ("signal 15"), else "SIGINT" (Ctrl-C)."""
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


def start_item(events: EventLog, ctx: ItemContext, file: Any, **extra: Any) -> None:
    """The `item_start` record: the scenario, engine, claims and file (and a benchmark's spec)."""
    events.write(
        "item_start",
        scenario=ctx.scenario.name,
        engine=ctx.engine.name,
        claims=list(ctx.scenario.claims),
        file=str(file),
        **extra,
    )


class ItemLife:
    """One item from its first step to its `item_end`: outcome so far, events, engine health.

    The result starts as an error ("stopped before its checks ran to the end"): only `decide`
    after the last step makes a verdict. `is_open` says whether steps may still run: a skip, an
    error or a signal closes it."""

    def __init__(self, ctx: ItemContext, events: EventLog | None = None, health: EngineHealth | None = None):
        self.ctx = ctx
        self.events = events
        self.health = health
        self.result = ItemResult(ctx.scenario.name or "", ctx.engine.name, Outcome.ERROR, UNFINISHED)
        self.is_open = True
        self.interrupt: BaseException | None = None  # the signal that stopped the item
        self.teardown_cut: KeyboardInterrupt | None = None  # the signal that cut its teardown short
        self.started = time.monotonic()

    def emit(self, record_type: str, **fields: Any) -> None:
        """Write one record of this item (scenario and engine filled in); nothing without events."""
        if self.events is not None:
            self.events.write(record_type, scenario=self.result.scenario, engine=self.result.engine, **fields)

    def admit(self, needed: list[str], missing: Callable[[], list[str]]) -> bool:
        """Guard before any side effect: an engine known gone or broken in a part the item
        needs makes an error (its problem, not a verdict on the claims); capabilities it lacks
        (`missing()`, asked only of an engine that is fine) make a skip. True when the steps
        may run."""
        engine, health = self.ctx.engine, self.health
        gone = health.reason(engine) if health else None
        broken = health.problems(engine, needed) if health and not gone else []
        if gone:
            self.close(Outcome.ERROR, gone)
        elif broken:
            self.close(Outcome.ERROR, "; ".join(broken))
        else:
            reasons = missing()
            if reasons:
                self.close(Outcome.SKIPPED, "; ".join(reasons))
        return self.is_open

    def close(self, outcome: Outcome, reason: str) -> None:
        """No more steps: the item has its outcome before its checks ran to the end."""
        self.result.outcome, self.result.reason = outcome, reason
        self.is_open = False

    @contextmanager
    def guard(self) -> Iterator[None]:
        """Run part of the item: an engine or harness that breaks (StepError, EngineError, a
        harness bug) makes this item an error and the run goes on; a signal passes through."""
        try:
            yield
        except Exception as exc:
            self.close(Outcome.ERROR, f"{type(exc).__name__}: {exc}")

    def interrupted(self, exc: BaseException, where: str = "") -> None:
        """A signal stopped the item while it was open: no verdict stands."""
        self.interrupt = exc
        if self.is_open:
            self.close(Outcome.INTERRUPTED, f"interrupted ({signal_name(exc)})" + (f" {where}" if where else ""))

    def decide(self) -> None:
        """The verdict from the checks, for an item still open: its steps ran, or stopped at a
        failed check."""
        if self.is_open:
            self.close(*decide(self.ctx.scenario, self.result.engine, self.result.checks))

    def finish(self, *, cut_short: KeyboardInterrupt | None = None) -> None:
        """Tear down and write `item_end`. Afterwards `interrupt` is the signal that stopped the
        item or its teardown, for the caller to raise as ItemInterrupted once every item ended.
        `cut_short`: a signal already cut another item's teardown short (a benchmark's engines
        end one after the other), so this one is not attempted either."""
        result = self.result
        if self.health and result.outcome in (Outcome.SKIPPED, Outcome.FAILED, Outcome.ERROR):
            # What looked like a missing capability or a failed check may be an engine that died.
            gone = self.health.check(self.ctx.engine)
            if gone:
                result.outcome, result.reason = Outcome.ERROR, gone
        try:
            if cut_short is not None:
                raise cut_short
            leftovers = teardown(self.ctx)
        except KeyboardInterrupt as exc:  # a second signal forces the teardown short
            leftovers = []
            self.teardown_cut = exc
            if self.interrupt is None:  # the first signal came during teardown: no verdict stands
                result.reason = f"interrupted ({signal_name(exc)}) during teardown"
            self.interrupt = self.interrupt or exc
            result.outcome = Outcome.INTERRUPTED
            result.reason += "; " + CUT_SHORT
        finally:
            # Only now: the item's containers held its published ports until they were removed.
            self.ctx.reservations.release()
        if leftovers:
            if result.outcome in VERDICTS:
                result.outcome = Outcome.ERROR
            result.reason = (result.reason + "; " if result.reason else "") + "teardown left " + ", ".join(leftovers)
        result.duration = time.monotonic() - self.started
        result.warnings = list(self.ctx.warnings)
        self.emit(
            "item_end",
            outcome=result.outcome.value,
            reason=result.reason,
            duration=result.duration,
            warnings=result.warnings,
        )
