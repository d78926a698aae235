"""A signal during an item leaves no verdict: the item is `interrupted`, never passed, in the
events, the claims table and every report (terminal matrix, HTML, Markdown, JUnit, JSON)."""

from __future__ import annotations

import io
import json

import pytest
from fakes import RecordingEngine
from test_runner import make_ctx, session  # noqa: F401  (fixture)

from seatrial.harness.console import ConsoleReporter
from seatrial.harness.events import EventLog
from seatrial.harness.runner import run_item
from seatrial.reports.claimstable import claims_table
from seatrial.reports.eventfiles import read_events
from seatrial.reports.render import render_all

STEPS = [
    {"run": {"name": "c", "image": "i", "detach": True, "command": ["sleep", "9"]}},
    {"exec": {"container": "c", "command": ["true"]}},
]


class SignalledEngine(RecordingEngine):
    """Takes the signal (as the runstate's SIGTERM handler raises it) during `exec`."""

    def exec(self, container, argv, *, timeout=60.0):
        raise KeyboardInterrupt("signal 15")


class SignalledTwiceEngine(SignalledEngine):
    """And once more while the item tears down: the second signal forces the teardown short."""

    def remove(self, ref):
        raise KeyboardInterrupt()


def interrupted_run(engine, session, tmp_path):
    events = EventLog(tmp_path / "run" / "events.jsonl", "run-1")
    events.write("run_start", session=session.id, engines=[{"name": engine.name}])
    events.write("item_start", scenario="t", engine=engine.name, claims=["C01"], file="t.yaml")
    with pytest.raises(KeyboardInterrupt) as raised:  # ItemInterrupted, carrying the results
        run_item(make_ctx(engine, session, STEPS), events)
    events.close()
    return raised.value, read_events(tmp_path / "run" / "events.jsonl")


def test_a_signal_during_a_step_makes_the_item_interrupted_not_passed(session, tmp_path):
    engine = SignalledEngine()
    raised, records = interrupted_run(engine, session, tmp_path)
    [end] = [r for r in records if r["type"] == "item_end"]
    assert end["outcome"] == "interrupted"
    assert end["reason"] == "interrupted (SIGTERM) in step 2 (exec)"
    assert ("remove", "container", engine.calls[0][1]) in engine.calls  # still torn down
    [result] = raised.results
    assert (result.outcome.value, result.reason) == ("interrupted", end["reason"])


def test_a_second_signal_cuts_teardown_short_and_the_item_stays_interrupted(session, tmp_path):
    raised, records = interrupted_run(SignalledTwiceEngine(), session, tmp_path)
    [end] = [r for r in records if r["type"] == "item_end"]
    assert end["outcome"] == "interrupted"
    assert "teardown cut short" in end["reason"] and "seatrial clean" in end["reason"]


def test_claims_table_never_holds_a_claim_whose_scenario_was_interrupted_or_cut_off():
    records = [
        {"type": "run_start", "engines": [{"name": "docker"}]},
        {"type": "item_start", "scenario": "a", "engine": "docker", "claims": ["C01"]},
        {"type": "item_end", "scenario": "a", "engine": "docker", "outcome": "passed"},
        {"type": "item_start", "scenario": "b", "engine": "docker", "claims": ["C01"]},
        {
            "type": "item_end",
            "scenario": "b",
            "engine": "docker",
            "outcome": "interrupted",
            "reason": "interrupted (SIGINT) in step 1 (exec)",
        },
        {"type": "item_start", "scenario": "c", "engine": "docker", "claims": ["C02"]},
    ]
    table = claims_table(records)
    assert table.cell("C01", "docker").status.value == "interrupted"
    assert "b: interrupted (SIGINT)" in table.cell("C01", "docker").reason
    assert table.cell("C02", "docker").status.value == "incomplete"  # killed: no item_end at all


def test_every_report_shows_the_interrupted_item(session, tmp_path):
    _, _ = interrupted_run(SignalledEngine(), session, tmp_path)
    out = tmp_path / "report"
    render_all([tmp_path / "run"], out, generated="")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["matrix"][0]["cells"]["fake"]["outcome"] == "interrupted"
    assert summary["claims"][0]["cells"]["fake"]["outcome"] == "interrupted"
    assert "| t | INTERRUPTED |" in (out / "summary.md").read_text()
    junit = (out / "junit-fake.xml").read_text()
    assert 'errors="1"' in junit and "interrupted (SIGTERM)" in junit
    assert 'class="interrupted"' in (out / "index.html").read_text()


def test_terminal_matrix_shows_interrupted(session, tmp_path):
    raised, _ = interrupted_run(SignalledEngine(), session, tmp_path)
    from rich.console import Console

    stream = io.StringIO()
    ConsoleReporter(Console(file=stream, width=120)).print_matrix(list(raised.results))
    text = stream.getvalue()
    assert "INTERRUPTED" in text and "held" not in text
    assert "t on fake: interrupted: interrupted (SIGTERM) in step 2 (exec)" in text
