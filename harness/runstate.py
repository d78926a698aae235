"""One run of the suite: its session, engines, events log, base image and results.

Started lazily by the first item, so that collecting (or `pytest tests/unit`) changes nothing
on the host. Finishing reaps the session's own resources and fails the run on any leak.
"""
from __future__ import annotations

import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from seatrial import reaper
from seatrial.engines.base import Engine
from seatrial.events import EventLog, host_fingerprint
from seatrial.hostfacts import host_facts
from seatrial.outcome import ItemResult
from seatrial.session import Session


def _sigterm_as_interrupt(signum, frame):
    # SIGTERM takes the same road as Ctrl-C, so every `finally` teardown runs.
    raise KeyboardInterrupt(f"signal {signum}")


@dataclass
class RunState:
    engines: list[Engine]
    results_dir: Path
    log: Callable[[str], None] = print
    run_id: str | None = None
    session: Session | None = None
    events: EventLog | None = None
    facts: dict[str, str] = field(default_factory=dict)
    results: list[ItemResult] = field(default_factory=list)
    leaks: dict = field(default_factory=dict)
    _base_archive = None
    _loaded: dict[str, str] = field(default_factory=dict)
    _items: int = 0

    @property
    def is_started(self) -> bool:
        return self.session is not None

    def start(self) -> None:
        if self.session is not None:
            return
        reaper.reap_dead_sessions(self.engines, log=self.log)
        self.session = Session.start()
        self.run_id = self.run_id or f"{time.strftime('%Y%m%d-%H%M%S')}-{self.session.id}"
        self.events = EventLog(self.results_dir / self.run_id / "events.jsonl", self.run_id)
        self.facts = host_facts()
        self.events.write("run_start", session=self.session.id, host=host_fingerprint(),
                          engines=[e.info() for e in self.engines])
        signal.signal(signal.SIGTERM, _sigterm_as_interrupt)

    def next_index(self) -> int:
        self._items += 1
        return self._items

    def base_image(self, engine: Engine) -> str:
        """The suite's base image in `engine`: built once per machine, loaded once per engine."""
        from seatrial.baseimage import base_archive, ensure_loaded
        if self._base_archive is None:
            self._base_archive = base_archive()
        if engine.name not in self._loaded:
            self._loaded[engine.name] = ensure_loaded(engine, self._base_archive)
        return self._loaded[engine.name]

    def record(self, result: ItemResult) -> None:
        self.results.append(result)

    def finish(self, *, interrupted: bool = False) -> None:
        """Remove what is left of this session, check for leaks, write the end record."""
        if self.session is None:
            return
        try:
            label = f"seatrial.session={self.session.id}"
            # Items remove what they make; anything still labelled now is a leak, reported
            # (and failing the run) before it is swept so the next run starts clean.
            self.leaks = reaper.leaks(self.engines, self.session.id)
            for engine_name, refs in self.leaks.items():
                for ref in refs:
                    self.log(f"leak: {engine_name} {ref.kind} {ref.handle} still carries {label}")
            for engine in self.engines:
                if engine.name in self.leaks:
                    reaper.remove_all(engine, self.leaks[engine.name])
                engine_reap = getattr(engine, "reap", None)
                if callable(engine_reap):
                    # What the engine made for the run and keeps for no one after it (the
                    # reference runtime's default bridge and its iptables rules, when no
                    # container of any session uses them).
                    engine_reap(session=self.session.id)
            counts: dict[str, int] = {}
            for r in self.results:
                counts[r.outcome.value] = counts.get(r.outcome.value, 0) + 1
            self.events.write("run_end", counts=counts, interrupted=interrupted,
                              leaks={k: [f"{r.kind} {r.handle}" for r in v] for k, v in self.leaks.items()})
        finally:
            self.events.close()
            self.session.close()
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
