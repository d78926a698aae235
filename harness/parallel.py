"""Parallel runs (`seatrial run -n N`, `pytest -n N`) through pytest-xdist: one run, one events
file, one session per worker.

The controller (the process the user started) owns the run: it reaps dead sessions once, before
any worker exists; it writes `run_start` and `run_end` of the one `events.jsonl`; it checks each
engine that has items once (seatrial.harness.selfcheck), before the first item is handed out, and
leaves the verdicts in its scratch folder for the workers; and after the last worker is down it
collects their results (in the order a serial run would show them), their leaks and what they
found broken, then removes what any worker left. Each worker holds a session of its own (lock,
label, scratch folder), so nothing it makes can be taken for another's or reaped while it lives;
it appends its items' records to the run's events file (seatrial.harness.events locks each
record) and never reaps what is not its own.

Benchmarks are refused with `-n`: a benchmark item must have the machine to itself.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest

from seatrial.engines.records import ResourceRef
from seatrial.harness.availability import EngineHealth
from seatrial.harness.expectations import Check
from seatrial.harness.outcome import ItemResult, Outcome
from seatrial.harness.selfcheck import Fitness
from seatrial.harness.session import new_session_id, scratch_root
from seatrial.reports.eventfiles import read_events

KEY = "seatrial"  # in xdist's workerinput and workeroutput
HEALTH = "engines.json"  # the controller's engine checks, in its scratch folder
WORKERS = "workers"  # one empty file per worker session, in the controller's scratch folder
BENCH_REFUSED = (
    "-n runs items side by side, and a benchmark must have the machine to itself: run the "
    "benchmarks without -n (`seatrial run --bench`), and the scenarios with -n before or after"
)


def is_worker(config) -> bool:
    """An xdist worker: a process running the items the controller hands it."""
    return hasattr(config, "workerinput")


def is_controller(config) -> bool:
    """The process that hands items to xdist workers (`-n N` with N > 0)."""
    return not is_worker(config) and getattr(config.option, "dist", "no") != "no"


@dataclass(frozen=True)
class RunLink:
    """What a worker needs to join the controller's run: the run's id, its events file and the
    controller's scratch folder (engine checks, worker sessions)."""

    run_id: str
    events: str
    shared: str

    @classmethod
    def from_input(cls, config) -> RunLink:
        return cls(**config.workerinput[KEY])

    def register(self, session_id: str) -> None:
        """Name a worker's session, so that the controller sweeps it even if the worker dies."""
        folder = Path(self.shared) / WORKERS
        folder.mkdir(exist_ok=True)
        (folder / session_id).touch()


def worker_sessions(shared: Path) -> list[str]:
    """The sessions of the workers that joined the run (seatrial.harness.parallel.RunLink)."""
    folder = shared / WORKERS
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def write_health(shared: Path, health: EngineHealth) -> None:
    """The engine checks' verdicts, for the workers to read before their first item."""
    data = {
        "fitness": {name: dict(f.broken) for name, f in health.fitness.items()},
        "gone": dict(health.gone),
    }
    temporary = shared / f".{HEALTH}.tmp"
    temporary.write_text(json.dumps(data))
    os.replace(temporary, shared / HEALTH)


def read_health(shared: Path) -> EngineHealth:
    """The controller's verdicts (none when it checked no engine)."""
    health = EngineHealth()
    try:
        data = json.loads((shared / HEALTH).read_text())
    except FileNotFoundError:
        return health
    health.fitness = {name: Fitness(name, broken) for name, broken in data["fitness"].items()}
    health.gone = dict(data["gone"])
    return health


def item_engines(nodeid: str) -> list[str]:
    """The engines of a scenario item from its id (`file::name[engine]`, a benchmark's
    `name[a+b+c]`: seatrial.harness.plugin names them); none for other tests."""
    name = nodeid.rpartition("::")[2]
    path = nodeid.partition("::")[0]
    if not path.endswith((".yaml", ".yml")) or not name.endswith("]") or "[" not in name:
        return []
    return name[name.rindex("[") + 1 : -1].split("+")


def serial_order(ids: list[str]) -> dict[tuple[str, str], int]:
    """(scenario, engine) -> its place in the collection: the order a serial run shows."""
    order: dict[tuple[str, str], int] = {}
    for position, nodeid in enumerate(ids):
        name = nodeid.rpartition("::")[2]
        for engine in item_engines(nodeid):
            order.setdefault((name[: name.rindex("[")], engine), position)
    return order


def result_to_dict(result: ItemResult) -> dict:
    return {**asdict(result), "outcome": result.outcome.value}


def result_from_dict(data: dict) -> ItemResult:
    checks = [Check(**c) for c in data.pop("checks")]
    return ItemResult(**{**data, "outcome": Outcome(data["outcome"]), "checks": checks})


def worker_output(run) -> dict:
    """What a worker sends the controller at its end (plain data: execnet carries it)."""
    state = run.state
    return {
        "results": [result_to_dict(r) for r in state.results] if state else [],
        "leaks": {e: [asdict(r) for r in refs] for e, refs in state.leaks.items()} if state else {},
        "gone": dict(state.health.gone) if state else {},
        "forced": bool(state and state.forced),
        "log": list(run.held_log or []),
        "engine_error": run.engine_error,
        "not_run": [list(pair) for pair in run.not_run],
        "results_error": run.results_error,
    }


class ControllerHooks:
    """The controller's side of a parallel run (registered by seatrial.harness.plugin)."""

    def __init__(self, run):
        self.run = run  # seatrial.harness.plugin.SeatrialPlugin
        config = run.config
        if config.getoption("seatrial_bench") or config.getoption("seatrial_bench_full"):
            raise pytest.UsageError(BENCH_REFUSED)
        self.session_id = new_session_id()
        run_id = config.getoption("seatrial_run_id") or f"{time.strftime('%Y%m%d-%H%M%S')}-{self.session_id}"
        self.link = RunLink(
            run_id, str(run.results_dir() / run_id / "events.jsonl"), str(scratch_root() / self.session_id)
        )
        self.order: dict[tuple[str, str], int] = {}
        self.merged: set[int] = set()  # the workers whose output was taken in

    def pytest_configure_node(self, node) -> None:
        node.workerinput[KEY] = asdict(self.link)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node, ids) -> None:
        """Start the run and check its engines once, before xdist hands out the first item."""
        if self.order or not any(item_engines(i) for i in ids):
            return
        self.order = serial_order(list(ids))
        state = self.run.run_state(session_id=self.session_id, run_id=self.link.run_id)
        wanted = {engine for _, engine in self.order}
        state.check_engines([engine for engine in state.engines if engine.name in wanted])
        write_health(Path(self.link.shared), state.health)

    def pytest_testnodedown(self, node, error) -> None:
        """Take in what a worker found: results, leaks, engines gone, its messages."""
        output = getattr(node, "workeroutput", {}).get(KEY)
        # xdist calls this twice for a worker that ended by a signal (finished, then down).
        if output is None or id(node) in self.merged:
            return
        self.merged.add(id(node))
        run = self.run
        for line in output["log"]:
            run._log(line)
        run.engine_error = run.engine_error or output["engine_error"]
        run.results_error = run.results_error or output["results_error"]
        run.not_run = run.not_run or [tuple(p) for p in output["not_run"]]
        state = run.state
        if state is None:
            return
        state.results += [result_from_dict(r) for r in output["results"]]
        for engine, refs in output["leaks"].items():
            state.leaks.setdefault(engine, []).extend(ResourceRef(**r) for r in refs)
        state.health.gone.update(output["gone"])
        state.forced = state.forced or output["forced"]

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session) -> None:
        """Before run_end: items whose worker never reported back (a signal stopped the run, a
        worker died) still have their item_end in the events file; that is their result."""
        state = self.run.state
        if state is None or state.events is None:
            return
        known = {(r.scenario, r.engine) for r in state.results}
        for record in read_events(Path(state.events.path)):
            key = (str(record.get("scenario", "")), str(record.get("engine", "")))
            if record["type"] == "item_end" and key not in known:
                known.add(key)
                state.results.append(
                    ItemResult(
                        key[0],
                        key[1],
                        Outcome(record["outcome"]),
                        record.get("reason", ""),
                        duration=record.get("duration") or 0.0,
                        warnings=list(record.get("warnings", [])),
                    )
                )
        state.results.sort(key=lambda r: self.order.get((r.scenario, r.engine), len(self.order)))
