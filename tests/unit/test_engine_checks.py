"""A parallel run's controller checks its engines before any worker gets an item: the checks of
engines driven through a command line run side by side, so the workers wait for the slowest
check, not for the sum; the records still come out in the run's order."""

from __future__ import annotations

import threading

from fakes import RecordingEngine

from seatrial.engines.cliengine import CliEngine
from seatrial.harness import baseimage, selfcheck
from seatrial.harness.events import EventLog
from seatrial.harness.runstate import RunState
from seatrial.harness.selfcheck import RUN, Fitness
from seatrial.harness.session import Session
from seatrial.reports.eventfiles import read_events


class CommandLineEngine(CliEngine):
    """An engine of the command-line kind, never driven here (the check is replaced)."""

    def __init__(self, name: str) -> None:
        super().__init__(cli=None)  # type: ignore[arg-type]
        self.name = name


def test_command_line_engines_are_checked_side_by_side_and_recorded_in_order(tmp_path, monkeypatch):
    both_probing = threading.Barrier(2, timeout=20)  # passes only if the two checks overlap
    threads = {}

    def check(engine, image, labels):
        threads[engine.name] = threading.get_ident()
        if isinstance(engine, CliEngine):
            both_probing.wait()
        return Fitness(engine.name, {RUN: "no bridge"} if engine.name == "podman" else {})

    monkeypatch.setattr(selfcheck, "check_engine", check)
    monkeypatch.setattr(baseimage, "ensure_loaded", lambda engine, archive: f"base-of-{engine.name}")
    engines = [CommandLineEngine("docker"), RecordingEngine(name="reference"), CommandLineEngine("podman")]
    state = RunState(engines=engines, results_dir=tmp_path, log=lambda line: None)
    state.session = Session.start()
    state.events = EventLog(tmp_path / "events.jsonl", "r1")
    state._base_archive = tmp_path / "base.tar"
    try:
        state.check_engines(engines)
    finally:
        state.events.close()
        state.session.close()
    checks = [r for r in read_events(tmp_path / "events.jsonl") if r["type"] == "engine_check"]
    assert [r["engine"] for r in checks] == ["docker", "reference", "podman"]
    assert [r["status"] for r in checks] == ["available", "available", "unavailable"]
    assert threads["reference"] == threading.get_ident()  # the in-process engine stays on this thread
    assert threads["docker"] != threads["podman"]
    assert state.health.reason(engines[2]) and not state.health.reason(engines[0])
    state.check_engines(engines)  # checked already: nothing runs twice
    assert len([r for r in read_events(tmp_path / "events.jsonl") if r["type"] == "engine_check"]) == 3
