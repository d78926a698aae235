"""Scenario items (runner.run_item) and benchmark items (bench.run_benchmark) share one lifecycle:
the same outcome and the same `item_end` for the same event, whichever runner ran the item.

The rule they once disagreed on: a teardown leftover is never dropped. It is named in the reason
whatever the outcome; it turns a verdict into an error; an error or an interrupted item keeps its
outcome."""

from __future__ import annotations

import pytest
from fakes import RecordingEngine
from test_runner import make_ctx, session  # noqa: F401  (fixture)

from seatrial.harness.bench import run_benchmark
from seatrial.harness.events import EventLog
from seatrial.harness.outcome import ItemInterrupted, Outcome
from seatrial.harness.runner import run_item
from seatrial.reports.eventfiles import read_events

# A detached container the engine will not remove, then a step that breaks the harness's side.
BREAKS = [
    {"run": {"name": "box", "image": "i", "detach": True, "command": ["sleep", "9"]}},
    {"exec": {"container": "box", "command": ["{{ nope }}"]}},
]
SIGNALLED = [BREAKS[0], {"exec": {"container": "box", "command": ["true"]}}]


class SignalledEngine(RecordingEngine):
    """Takes a signal (Ctrl-C) during `exec`."""

    def exec(self, container, argv, *, timeout=60.0):
        raise KeyboardInterrupt()


def stuck_engine(session, cls=RecordingEngine, name="fake"):
    return cls(name=name, stuck={f"st-{session.id}-1-box"})


def both_ways(session, steps, cls=RecordingEngine):
    """The same item run by the scenario runner and by the benchmark runner: (result, result)."""
    results = []
    for run in (lambda ctx: run_item(ctx), lambda ctx: run_benchmark([ctx])[0]):
        ctx = make_ctx(stuck_engine(session, cls), session, steps, benchmark={})
        try:
            results.append(run(ctx))
        except ItemInterrupted as interrupted:
            results.append(interrupted.results[0])
        ctx.engine.stuck.clear()  # the next run's item has the same name
    return results


def test_a_teardown_leftover_after_an_error_is_named_by_both_runners(session):
    scenario, benchmark = both_ways(session, BREAKS)
    for result in (scenario, benchmark):
        assert result.outcome is Outcome.ERROR
        assert result.reason.startswith("StepError: ") and "unknown placeholder '{{ nope }}'" in result.reason
        assert result.reason.endswith(f"; teardown left container st-{session.id}-1-box")
    assert scenario.reason == benchmark.reason


def test_a_teardown_leftover_after_a_signal_is_named_and_the_item_stays_interrupted(session):
    scenario, benchmark = both_ways(session, SIGNALLED, SignalledEngine)
    for result in (scenario, benchmark):
        assert result.outcome is Outcome.INTERRUPTED
        assert result.reason.startswith("interrupted (SIGINT)")
        assert result.reason.endswith(f"; teardown left container st-{session.id}-1-box")


def test_a_teardown_leftover_turns_a_pass_into_an_error_on_both_runners(session):
    scenario, benchmark = both_ways(session, BREAKS[:1])
    assert (
        (scenario.outcome, scenario.reason)
        == (benchmark.outcome, benchmark.reason)
        == (Outcome.ERROR, f"teardown left container st-{session.id}-1-box")
    )


class CutShortEngine(RecordingEngine):
    """The second signal: it arrives while this engine's item tears down."""

    def remove(self, ref):
        self.calls.append(("remove", ref.kind, ref.handle))
        raise KeyboardInterrupt()


def test_a_signal_in_one_benchmark_engines_teardown_ends_every_engines_item(session, tmp_path):
    first, second = CutShortEngine(name="a"), RecordingEngine(name="b")
    contexts = [make_ctx(e, session, BREAKS[:1], benchmark={}) for e in (first, second)]
    contexts[1].index = 2
    events = EventLog(tmp_path / "events.jsonl", "run-1")
    with pytest.raises(ItemInterrupted) as raised:
        run_benchmark(contexts, events)
    events.close()
    ends = [r for r in read_events(tmp_path / "events.jsonl") if r["type"] == "item_end"]
    assert [(e["engine"], e["outcome"]) for e in ends] == [("a", "interrupted"), ("b", "interrupted")]
    assert all(e["reason"].startswith("interrupted (SIGINT) during teardown; teardown cut short") for e in ends)
    assert [r.outcome for r in raised.value.results] == [Outcome.INTERRUPTED] * 2
    assert not [c for c in second.calls if c[0] == "remove"]  # the run's end sweep removes it


def test_both_runners_write_the_same_item_end_fields(session, tmp_path):
    fields = []
    for i, run in enumerate((lambda ctx, ev: run_item(ctx, ev), lambda ctx, ev: run_benchmark([ctx], ev))):
        events = EventLog(tmp_path / f"{i}.jsonl", "run-1")
        run(make_ctx(RecordingEngine(), session, BREAKS[:1], benchmark={}), events)
        events.close()
        [end] = [r for r in read_events(tmp_path / f"{i}.jsonl") if r["type"] == "item_end"]
        fields.append(sorted(end))
    assert fields[0] == fields[1]
