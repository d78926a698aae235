"""A benchmark scenario as one pytest item spanning every engine (see seatrial.harness.bench for why).

`pytest benchmarks/ --bench` and `seatrial run --bench` both come through here. Each engine
still gets its own item_start and item_end records and its own result in the matrix.
"""
from __future__ import annotations

import time

import pytest

from seatrial.harness.outcome import ItemInterrupted, Outcome

PROGRESS_EVERY = 5.0   # seconds between progress lines: enough to see a long run move


class BenchmarkItem(pytest.Item):
    def __init__(self, *, scenario, engines, **kwargs):
        super().__init__(**kwargs)
        self.scenario = scenario
        self.engines = engines
        self.results = []

    def runtest(self):
        from seatrial.harness.bench import run_benchmark
        from seatrial.harness.itemcontext import ItemContext
        from seatrial.harness.plugin import ScenarioFailed
        plugin = self.config.pluginmanager.get_plugin("seatrial-run")
        state = plugin.run_state()
        contexts = []
        for engine in self.engines:
            contexts.append(ItemContext(engine=engine, session=state.session, scenario=self.scenario,
                                        index=state.next_index(), base_image=state.base_image, facts=state.facts))
            with plugin.results_guard():
                state.events.write("item_start", scenario=self.scenario.name, engine=engine.name,
                                   claims=list(self.scenario.claims), file=str(self.path),
                                   benchmark=self.scenario.benchmark.model_dump())
        try:
            with plugin.results_guard():
                self.results = run_benchmark(contexts, state.events, progress=self._progress(plugin._log))
        except ItemInterrupted as interrupted:
            for stopped in interrupted.results:   # shown as interrupted, then the run stops
                state.record(stopped)
            raise
        for result in self.results:
            state.record(result)
        worst = _worst([r.outcome for r in self.results])
        self.user_properties.append(("outcome", worst.value))
        broken = [r for r in self.results if r.outcome in (Outcome.FAILED, Outcome.ERROR)]
        if broken:
            raise ScenarioFailed("\n".join(f"{r.engine}: {r.outcome.value}: {r.reason}" for r in broken))
        if worst is Outcome.SKIPPED:
            pytest.skip("; ".join(r.reason for r in self.results))

    def _progress(self, log):
        last = [time.monotonic()]

        def progress(message: str) -> None:
            if time.monotonic() - last[0] >= PROGRESS_EVERY:
                last[0] = time.monotonic()
                log(f"  {self.scenario.name}: {message}")
        return progress

    def repr_failure(self, excinfo):
        return f"{self.path}: benchmark {self.scenario.name}:\n{excinfo.value}"

    def reportinfo(self):
        return self.path, 0, f"benchmark {self.scenario.name} on {', '.join(e.name for e in self.engines)}"


def _worst(outcomes: list[Outcome]) -> Outcome:
    """The item's outcome for pytest: an error or failure of any engine, else a pass if any passed."""
    for outcome in (Outcome.ERROR, Outcome.FAILED, Outcome.PASSED, Outcome.DIVERGED):
        if outcome in outcomes:
            return outcome
    return Outcome.SKIPPED
