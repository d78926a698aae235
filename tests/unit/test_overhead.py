"""The harness-overhead benchmark's reading of its rounds: sides alternate, the figure is the
paired one, and an interval wider than the issue's +-2 % says so."""

from __future__ import annotations

import re

import numpy as np

from seatrial.benchmarks.overhead import round_order, verdict_lines


def test_sides_alternate_so_neither_always_goes_first():
    orders = [round_order(n) for n in range(6)]
    assert orders[0] == ("seatrial", "shell") and orders[1] == ("shell", "seatrial")
    assert sum(order[0] == "seatrial" for order in orders) == 3


def test_a_narrow_paired_figure_is_stated_with_its_interval_and_no_warning():
    rng = np.random.default_rng(3)
    drift = rng.uniform(0.2, 0.4, 300)
    shell = list(drift * rng.lognormal(0, 0.005, 300))
    ours = list(drift * 1.02 * rng.lognormal(0, 0.005, 300))
    lines = verdict_lines("docker", ours, shell, 5.0)
    pattern = r"harness overhead on docker: \+(\S+)% \(95% CI \+(\S+)% \.\. \+(\S+)%; median of 300 paired"
    found = re.match(pattern, lines[0])
    assert found, lines[0]
    mid, low, high = map(float, found.groups())
    assert abs(mid - 2.0) < 0.2 and low < mid < high and high - low < 1
    assert len(lines) == 2


def test_a_wide_interval_says_to_run_more_rounds():
    rng = np.random.default_rng(4)
    shell = list(rng.uniform(0.2, 0.4, 20))
    ours = list(rng.uniform(0.2, 0.4, 20))
    lines = verdict_lines("podman", ours, shell, 5.0)
    assert lines[-1] == "  the interval is wider than +-2 %: run more rounds (--rounds) or on a quieter machine"


def test_earlier_runs_are_read_back_paired_by_round_and_pooled(tmp_path):
    """`--from`: the rounds of several runs' events, warm-ups and a round cut short left out."""
    from seatrial.benchmarks.overhead import SCENARIO, rounds_of
    from seatrial.harness.events import EventLog

    paths = []
    for run, shift in (("a", 0.0), ("b", 0.5)):
        log = EventLog(tmp_path / run / "events.jsonl", run)
        for n, warmup in ((-1, True), (0, False), (1, False)):
            for metric, value in (("run-via-seatrial", 1.1 + shift + n), ("run-via-shell", 1.0 + shift + n)):
                log.write(
                    "sample", scenario=SCENARIO, engine="docker", metric=metric, round=n, warmup=warmup, value=value
                )
        log.write(
            "sample", scenario=SCENARIO, engine="docker", metric="run-via-seatrial", round=2, warmup=False, value=9
        )
        log.close()
        paths.append(log.path)
    ours, theirs, engines = rounds_of(paths)
    assert engines == ["docker"]
    assert [round(x, 3) for x in ours] == [1.1, 2.1, 1.6, 2.6]
    assert [round(x, 3) for x in theirs] == [1.0, 2.0, 1.5, 2.5]
