"""One run of the suite: its session, engines, events log, base image and results.

Started lazily by the first item, so that collecting (or `pytest tests/unit`) changes nothing
on the host. Finishing reaps the session's own resources and fails the run on any leak.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from seatrial.engines.base import ENGINE_LABEL, SESSION_LABEL, Engine, EngineError
from seatrial.harness import reaper
from seatrial.harness.availability import EngineHealth
from seatrial.harness.events import EventLog, ResultsUnwritable, host_fingerprint
from seatrial.harness.hostfacts import host_facts
from seatrial.harness.outcome import ItemResult
from seatrial.harness.selfcheck import Fitness
from seatrial.harness.session import Session

if TYPE_CHECKING:
    from seatrial.harness.parallel import RunLink


def _sigterm_as_interrupt(signum, frame):
    # SIGTERM takes the same road as Ctrl-C, so every `finally` teardown runs.
    raise KeyboardInterrupt(f"signal {signum}")


class RunIdTaken(ValueError):
    """The run's events file exists already; the message says which and what to do."""


def taken_run_id(results_dir: Path, run_id: str | None) -> str | None:
    """Why `run_id` cannot be used (its events file exists), or None. Appending to an earlier
    run's events would mix two runs and hide that the earlier one was cut short."""
    if not run_id:
        return None
    events = results_dir / run_id / "events.jsonl"
    if not events.exists():
        return None
    return (
        f"run id {run_id!r} is taken: {events} holds an earlier run's results; choose another "
        "--run-id, or leave it out for a fresh one (time and session)"
    )


@dataclass
class RunState:
    """One run; in a parallel run, the controller's (`session_id` chosen before its workers
    start) or a worker's (`joins` the controller's run: no reaping, no run_start or run_end)."""

    engines: list[Engine]
    results_dir: Path
    log: Callable[[str], None] = print
    run_id: str | None = None
    session: Session | None = None
    session_id: str | None = None
    joins: RunLink | None = None
    forced: bool = False  # a second signal cut the end-of-run cleanup short
    events: EventLog | None = None
    facts: dict[str, str] = field(default_factory=dict)
    results: list[ItemResult] = field(default_factory=list)
    leaks: dict = field(default_factory=dict)
    health: EngineHealth = field(default_factory=EngineHealth)
    _base_archive = None
    _loaded: dict[str, str] = field(default_factory=dict)
    _items: int = 0

    @property
    def is_started(self) -> bool:
        return self.session is not None

    def start(self) -> None:
        if self.session is not None:
            return
        if self.joins is not None:
            self._join(self.joins)
            return
        reaper.reap_dead_sessions(self.engines, log=self.log)
        self.session = Session.start(self.session_id)
        self.run_id = self.run_id or f"{time.strftime('%Y%m%d-%H%M%S')}-{self.session.id}"
        signal.signal(signal.SIGTERM, _sigterm_as_interrupt)
        # A new file or none: appending to an earlier run's events would hide that it was cut short.
        try:
            self.events = EventLog(self.results_dir / self.run_id / "events.jsonl", self.run_id, exclusive=True)
        except FileExistsError:  # another run took the same --run-id since the session started
            raise RunIdTaken(taken_run_id(self.results_dir, self.run_id)) from None
        self.facts = host_facts()
        self.events.write(
            "run_start", session=self.session.id, host=host_fingerprint(), engines=[e.info() for e in self.engines]
        )

    def _join(self, link: RunLink) -> None:
        """A worker's start: its own session, the controller's events file and engine checks.
        No reaping: the controller reaped before any worker started, and a worker reaping now
        could take what another worker is still making."""
        from seatrial.harness.parallel import read_health

        self.session = Session.start()
        link.register(self.session.id)
        self.run_id = link.run_id
        signal.signal(signal.SIGTERM, _sigterm_as_interrupt)
        self.events = EventLog(Path(link.events), link.run_id)
        self.health = read_health(Path(link.shared))
        self.facts = host_facts()

    def next_index(self) -> int:
        self._items += 1
        return self._items

    def base_image(self, engine: Engine) -> str:
        """The suite's base image in `engine`: built once per machine, loaded once per engine."""
        from seatrial.harness.baseimage import base_archive, ensure_loaded

        if self._base_archive is None:
            self._base_archive = base_archive()
        if engine.name not in self._loaded:
            self._loaded[engine.name] = ensure_loaded(engine, self._base_archive)
        return self._loaded[engine.name]

    def check_engine(self, engine: Engine) -> None:
        """Before an engine's first item: load the base image and check that the engine can do
        what the library needs (seatrial.harness.selfcheck). Broken parts go to `health`, so the items
        that need them become errors naming the engine, not failed claims; an engine that
        cannot start a container at all is marked gone (exit 3)."""
        if engine.name in self.health.fitness or self.health.reason(engine):
            return
        self._record_check(engine, self._probe(engine))

    def check_engines(self, engines: list[Engine]) -> None:
        """`check_engine` for several engines at once, as a parallel run's controller does before
        any worker gets an item: the checks of engines driven through a command line run side by
        side in threads (they wait on dockerd and Podman, not on this process), so the workers
        wait for the slowest check, not for the sum. An in-process engine (the reference runtime
        forks) is checked on this thread meanwhile. Records are written in the order given."""
        from seatrial.engines.cliengine import CliEngine

        todo = [e for e in engines if e.name not in self.health.fitness and not self.health.reason(e)]
        if self._base_archive is None and todo:
            from seatrial.harness.baseimage import base_archive

            self._base_archive = base_archive()  # once, before the threads ask for it
        with ThreadPoolExecutor(max_workers=max(1, len(todo))) as pool:
            running = {e.name: pool.submit(self._probe, e) for e in todo if isinstance(e, CliEngine)}
            here = {e.name: self._probe(e) for e in todo if not isinstance(e, CliEngine)}
            for engine in todo:
                self._record_check(engine, here[engine.name] if engine.name in here else running[engine.name].result())

    def _probe(self, engine: Engine) -> Fitness:
        from seatrial.harness.selfcheck import RUN, check_engine

        labels = {SESSION_LABEL: self.session.id, ENGINE_LABEL: engine.name}
        try:
            return check_engine(engine, self.base_image(engine), labels)
        except EngineError as exc:  # the base image could not even be loaded
            return Fitness(engine.name, {RUN: f"loading the base image failed: {exc}"})

    def _record_check(self, engine: Engine, fitness: Fitness) -> None:
        self.health.fitness[engine.name] = fitness
        if self.events is not None:
            self.events.write("engine_check", engine=engine.name, status=fitness.status, broken=dict(fitness.broken))
        if fitness.broken:
            self.log(f"engine {engine.name}: {fitness.summary()}")
        if fitness.status == "unavailable":
            self.health.mark(engine, fitness.problems([])[0])

    def record(self, result: ItemResult) -> None:
        self.results.append(result)

    def finish(self, *, interrupted: bool = False) -> None:
        """Remove what is left of this session, check for leaks, write the end record; then
        always close the events and the session (its lock and scratch go)."""
        if self.session is None:
            return
        try:
            self.forced = self._sweep(self.session.id) or self.forced
            if self.joins is not None:
                return  # the controller writes run_end once every worker is down
            workers: list[str] = []
            if self.session_id is not None:  # a parallel run's controller: what its workers left
                from seatrial.harness.parallel import worker_sessions

                workers = worker_sessions(self.session.scratch)
                for worker in workers:
                    self.forced = self._sweep(worker) or self.forced
            forced = self.forced
            counts: dict[str, int] = {}
            for r in self.results:
                counts[r.outcome.value] = counts.get(r.outcome.value, 0) + 1
            if self.events is not None and self.events.failure is None:
                self.events.write(
                    "run_end",
                    counts=counts,
                    interrupted=interrupted,
                    forced=forced,
                    engines_unavailable=dict(self.health.gone),
                    leaks={k: [f"{r.kind} {r.handle}" for r in v] for k, v in self.leaks.items()},
                    **({"workers": workers} if workers else {}),
                )
        except ResultsUnwritable:
            pass  # kept in self.events.failure; the caller reports it once
        finally:
            try:
                if self.events is not None:
                    self.events.close()
            except ResultsUnwritable:
                pass
            finally:
                self.session.close()
                signal.signal(signal.SIGTERM, signal.SIG_DFL)

    def _sweep(self, session_id: str) -> bool:
        """Report (as leaks) and remove what still carries this session's label, engine by
        engine; skip engines that went away. True when a second signal cut it short."""
        label = f"seatrial.session={session_id}"
        try:
            for engine in self.engines:
                if self.health.reason(engine):
                    continue
                try:
                    # Items remove what they make; anything still labelled now is a leak, reported
                    # (and failing the run) before it is swept so the next run starts clean.
                    found = reaper.leaks([engine], session_id)
                except EngineError as exc:
                    if not self.health.check(engine):
                        self.health.mark(engine, f"engine '{engine.name}' could not list what the run left: {exc}")
                    continue
                for name, refs in found.items():
                    self.leaks.setdefault(name, []).extend(refs)
                for ref in found.get(engine.name, []):
                    self.log(f"leak: {engine.name} {ref.kind} {ref.handle} still carries {label}")
                if engine.name in found:
                    reaper.remove_all(engine, found[engine.name])
                # What the engine made for the run and keeps for no one after it (the
                # reference runtime's default bridge and its iptables rules, when no
                # container of any session uses them). Not in a parallel run's worker: that
                # part of the sweep is the whole state root's, and other workers still use it.
                if self.joins is None:
                    engine.reap(session=session_id)
        except KeyboardInterrupt:
            self.log(
                "a second signal: the end-of-run cleanup was cut short; the next run or "
                "`seatrial clean` removes what is left"
            )
            return True
        return False
