"""The pytest items: a scenario on one engine, and a benchmark spanning every engine at once.

Both take the same road (`runtest`): item contexts from the run, the item lifecycle
(seatrial.harness.lifecycle) through the runner or the benchmark runner, every result recorded
in the run (those a signal stopped too, before the interrupt goes on), then pytest's verdict.
They differ in how many engines an item spans and how its outcomes read to pytest. The run is
handed to each item when collected, so an item needs nothing from the plugin module.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest

from seatrial.harness.bench import run_benchmark
from seatrial.harness.itemcontext import ItemContext
from seatrial.harness.lifecycle import start_item
from seatrial.harness.outcome import ItemInterrupted, ItemResult, Outcome
from seatrial.harness.runner import run_item

if TYPE_CHECKING:  # pytest's own names for what Node.repr_failure takes and returns
    from _pytest._code.code import TerminalRepr, TracebackStyle

PROGRESS_EVERY = 5.0  # seconds between progress lines of a benchmark: enough to see a long run move


class ScenarioFailed(Exception):
    """The scenario's checks failed on this engine; the message lists what and where."""


class LifecycleItem(pytest.Item):
    """What scenario and benchmark items share: contexts, results recorded, the verdict."""

    def __init__(self, *, scenario, engines, run, **kwargs):
        super().__init__(**kwargs)
        self.scenario = scenario
        self.engines = engines
        self.run = run  # the plugin's run (seatrial.harness.plugin.SeatrialPlugin)
        self.results: list[ItemResult] = []

    def runtest(self):
        state = self.run.run_state()
        contexts = [
            ItemContext(
                engine=engine,
                session=state.session,
                scenario=self.scenario,
                index=state.next_index(),
                base_image=state.base_image,
                facts=state.facts,
            )
            for engine in self.engines
        ]
        try:
            with self.run.results_guard():
                self.results = self.run_items(state, contexts)
        except ItemInterrupted as interrupted:
            for stopped in interrupted.results:  # shown as interrupted, then the run stops
                state.record(stopped)
            raise
        for result in self.results:
            state.record(result)
        self.user_properties.append(("outcome", worst([r.outcome for r in self.results]).value))
        # JUnit XML (--junitxml) shows them as <property name="warning" value="..."/>
        self.user_properties += [("warning", warning) for r in self.results for warning in r.warnings]
        self.verdict(self.results)

    def run_items(self, state, contexts: list[ItemContext]) -> list[ItemResult]:
        """Start and run the item on its engines; one result per engine."""
        raise NotImplementedError

    def verdict(self, results: list[ItemResult]) -> None:
        """Tell pytest the outcome: return for a pass, or skip, xfail or raise."""
        raise NotImplementedError


class ScenarioItem(LifecycleItem):
    """One scenario on one engine."""

    def __init__(self, *, engine, **kwargs):
        super().__init__(engines=[engine], **kwargs)
        self.engine = engine

    def run_items(self, state, contexts):
        state.check_engine(self.engine)
        [ctx] = contexts
        start_item(state.events, ctx, self.path)
        return [run_item(ctx, state.events, health=state.health)]

    def verdict(self, results):
        [result] = results
        if result.outcome is Outcome.SKIPPED:
            pytest.skip(result.reason)
        if result.outcome is Outcome.DIVERGED:
            pytest.xfail(f"diverged: {result.reason}")
        if result.outcome is Outcome.FAILED:
            raise ScenarioFailed("\n".join([*(c.message for c in result.failed_checks), *result.hidden]))
        if result.outcome is Outcome.ERROR:
            raise ScenarioFailed(f"error: {result.reason}")

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: TracebackStyle | None = None
    ) -> str | TerminalRepr:
        if isinstance(excinfo.value, ScenarioFailed):
            return f"{self.path}: {self.scenario.name} on {self.engine.name}:\n{excinfo.value}"
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return self.path, 0, f"scenario {self.scenario.name} on {self.engine.name}"


class BenchmarkItem(LifecycleItem):
    """A benchmark scenario on every engine at once (see seatrial.harness.bench for why). Each
    engine still gets its own item_start and item_end records and its own result in the matrix."""

    def run_items(self, state, contexts):
        for ctx in contexts:
            start_item(state.events, ctx, self.path, benchmark=self.scenario.benchmark.model_dump())
        return run_benchmark(contexts, state.events, progress=self._progress(self.run._log))

    def verdict(self, results):
        broken = [r for r in results if r.outcome in (Outcome.FAILED, Outcome.ERROR)]
        if broken:
            raise ScenarioFailed("\n".join(f"{r.engine}: {r.outcome.value}: {r.reason}" for r in broken))
        if worst([r.outcome for r in results]) is Outcome.SKIPPED:
            pytest.skip("; ".join(r.reason for r in results))

    def _progress(self, log):
        last = [time.monotonic()]

        def progress(message: str) -> None:
            if time.monotonic() - last[0] >= PROGRESS_EVERY:
                last[0] = time.monotonic()
                log(f"  {self.scenario.name}: {message}")

        return progress

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: TracebackStyle | None = None
    ) -> str | TerminalRepr:
        return f"{self.path}: benchmark {self.scenario.name}:\n{excinfo.value}"

    def reportinfo(self):
        return self.path, 0, f"benchmark {self.scenario.name} on {', '.join(e.name for e in self.engines)}"


def worst(outcomes: list[Outcome]) -> Outcome:
    """The item's outcome for pytest: an error or failure of any engine, else a pass if any passed."""
    for outcome in (Outcome.ERROR, Outcome.FAILED, Outcome.PASSED, Outcome.DIVERGED):
        if outcome in outcomes:
            return outcome
    return Outcome.SKIPPED
