"""The parts of a parallel run (`-n`) that need no engine: item ids, the serial order, what
workers send back, the engine checks handed to workers, session locks under a concurrent
reaper, and several processes appending to one events file."""

from __future__ import annotations

import fcntl
import json
import multiprocessing
import os

from seatrial.harness import parallel
from seatrial.harness.availability import EngineHealth
from seatrial.harness.events import EventLog
from seatrial.harness.expectations import Check
from seatrial.harness.outcome import ItemResult, Outcome
from seatrial.harness.selfcheck import Fitness
from seatrial.harness.session import Session, forget_dead_locks, is_alive, lock_dir


def test_item_engines_reads_scenario_and_benchmark_ids_and_ignores_other_tests():
    assert parallel.item_engines("scenarios/network/a-b.yaml::a-b[docker-buildkit]") == ["docker-buildkit"]
    assert parallel.item_engines("benchmarks/start.yaml::start[docker+podman+reference]") == [
        "docker",
        "podman",
        "reference",
    ]
    assert parallel.item_engines("tests/unit/test_x.py::test_y[docker]") == []


def test_serial_order_follows_the_collection():
    ids = ["s/b.yaml::b[docker]", "s/b.yaml::b[reference]", "s/a.yaml::a[docker]"]
    assert parallel.serial_order(ids) == {("b", "docker"): 0, ("b", "reference"): 1, ("a", "docker"): 2}


def test_an_item_result_survives_the_trip_from_worker_to_controller():
    result = ItemResult(
        "shadow",
        "podman",
        Outcome.FAILED,
        "a check failed",
        [Check(1, "stdout equals", "a", "b", False, "exec, x.yaml:3")],
        1.5,
        ["step 2 (run): ignored"],
    )
    sent = json.loads(json.dumps(parallel.result_to_dict(result)))  # execnet carries plain data
    assert parallel.result_from_dict(sent) == result


def test_workers_read_the_controllers_engine_checks(tmp_path):
    health = EngineHealth()
    health.fitness = {"podman": Fitness("podman", {"network.bridge": "no tun"}), "docker": Fitness("docker")}
    health.gone = {"docker": "engine 'docker' became unavailable: gone"}
    parallel.write_health(tmp_path, health)
    read = parallel.read_health(tmp_path)
    assert read.fitness == health.fitness and read.gone == health.gone
    assert read.degraded() == {"podman": "degraded: network.bridge (no tun)"}
    assert parallel.read_health(tmp_path / "none").fitness == {}


def test_a_session_whose_lock_file_a_reaper_unlinked_meanwhile_locks_a_fresh_one(monkeypatch):
    # The race: our open(2), then another run's reaper finds the lock free and unlinks it, then
    # our flock(2) locks a file no one can see, and the session looks dead to every reaper.
    real_flock, raced = fcntl.flock, []

    def flock_after_a_reaper(fd, operation):
        if not raced:
            raced.append(True)
            (lock_dir() / "feed0001.lock").unlink()
        return real_flock(fd, operation)

    monkeypatch.setattr(fcntl, "flock", flock_after_a_reaper)
    session = Session.start("feed0001")
    monkeypatch.setattr(fcntl, "flock", real_flock)
    try:
        assert raced and is_alive("feed0001")
        assert forget_dead_locks() == []
        assert (lock_dir() / "feed0001.lock").exists()
    finally:
        session.close()


def _append(path, worker: int) -> None:
    log = EventLog(path, "run")
    for n in range(300):
        log.write("step", worker=worker, n=n, stdout="x" * (n * 37 % 5000))
    log.close()


def test_two_processes_append_whole_records_to_one_events_file(tmp_path):
    path = tmp_path / "events.jsonl"
    EventLog(path, "run", exclusive=True).close()
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_append, args=(path, w)) for w in (1, 2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert [w.exitcode for w in workers] == [0, 0]
    records = [json.loads(line) for line in path.read_text().splitlines()]  # every line whole
    for worker in (1, 2):
        assert [r["n"] for r in records if r["worker"] == worker] == list(range(300))
    assert os.path.getsize(path) == sum(len(line) + 1 for line in path.read_text().splitlines())
