"""Harness overhead: a `run --rm true` through seatrial's measure step against the very same
engine command line timed inside a plain shell script (benchmarks/overhead.sh), round by round.

    .venv/bin/python benchmarks/overhead.py [--engine docker] [--rounds 300] [--warmup 5]

What counts as overhead: everything seatrial adds around one engine command in a benchmark
round (the step runner, templating, the adapter building its argument list, Python's
subprocess, checking the result, removing nothing). The shell side pays only bash's fork and
exec. Each round runs both, in alternating order (seatrial first in even rounds, the shell first
in odd ones), so drift and whatever the first of two back-to-back starts pays hit both alike.

The figure is paired: the median over rounds of each round's ratio seatrial / shell, with the
distribution-free 95% interval of that median (reports/stats.py `paired_ratio_interval`). A
`docker run` varies by 10-20% from one round to the next on a loaded machine, far more than the
harness adds; both sides of a round see nearly the same machine, so the ratio cancels the drift
between rounds, where 20 unpaired rounds (a ratio of two medians) gave an interval of +-10 %.
What pairing cannot remove is the spread within a round: on a loaded machine a round's ratio
ranged 0.84 .. 1.16 (interquartile), and 900 rounds (three runs pooled with --from) were needed
for +-2 %; a quiet machine needs far fewer. The mean of
the paired differences in milliseconds is printed beside it, with a 95% interval by the normal
approximation (sound for hundreds of rounds). Samples go to results/<run-id>/events.jsonl as
metrics `run-via-seatrial` and `run-via-shell` with the ratio `harness-overhead`, so `seatrial
report` shows them too (as a ratio of medians, unpaired, hence wider). The one-off start-up of
a `seatrial run` (Python, pytest collection, reaping, loading the base image) is not per round
and is reported separately by `seatrial run` itself; it does not grow with the number of rounds.

Exit status: 0 when the median overhead is at or below --gate percent, 4 (a regression) above.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from seatrial.engines.cliengine import CliEngine
from seatrial.engines.client import run_args
from seatrial.engines.discovery import load_engines
from seatrial.harness.baseimage import base_archive, ensure_loaded
from seatrial.harness.events import EventLog, host_fingerprint
from seatrial.harness.itemcontext import ItemContext
from seatrial.harness.model import Scenario
from seatrial.harness.session import Session
from seatrial.harness.steps.measure import MeasureStepBody, measure_round
from seatrial.reports.eventfiles import read_events
from seatrial.reports.stats import paired_ratio_interval

SHELL = Path(__file__).with_name("overhead.sh")
SCENARIO = "harness-overhead"
RATIO = {
    "name": "harness-overhead",
    "numerator": "run-via-seatrial",
    "denominator": "run-via-shell",
    "summary": "seatrial's measure step over the same command in a shell script",
}


def shell_round(ctx: ItemContext, image: str, round_no: int) -> float:
    """One `run --rm true` with the adapter's own argument list, timed inside bash."""
    from seatrial.engines.base import RunSpec

    spec = RunSpec(
        image=image,
        name=ctx.real_name(f"sh{round_no}"),
        command=("true",),
        network="none",
        remove=True,
        labels=ctx.labels,
    )
    engine = ctx.engine
    assert isinstance(engine, CliEngine)  # main() refuses an engine without a command line
    argv = [engine.cli.binary, "run", *run_args(spec)]
    # The adapter's environment too (e.g. DOCKER_BUILDKIT): the same command in every respect.
    proc = subprocess.run(
        ["/bin/bash", str(SHELL), *argv],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **engine.cli.env},
    )
    if proc.returncode != 0:
        raise RuntimeError(f"overhead.sh failed: {proc.stderr.strip()}")
    return float(proc.stdout.split()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", default="docker")
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--gate", type=float, default=5.0, help="percent (default 5)")
    parser.add_argument("--results-dir", default="results")
    parser.add_argument(
        "--from",
        dest="earlier",
        nargs="+",
        metavar="EVENTS",
        help="run nothing: read the rounds of earlier runs (events.jsonl files) and state their figure, pooled",
    )
    args = parser.parse_args(argv)
    if args.earlier:
        ours, theirs, engines = rounds_of([Path(p) for p in args.earlier])
        for line in verdict_lines("+".join(engines), ours, theirs, args.gate):
            print(line)
        return 0 if (paired_ratio_interval(ours, theirs).estimate - 1) * 100 <= args.gate else 4
    engine = load_engines([args.engine])[0]
    if not isinstance(engine, CliEngine):
        print(f"overhead: {engine.name} has no command line to compare with; use docker or podman", file=sys.stderr)
        return 2
    image = ensure_loaded(engine, base_archive())
    session = Session.start()
    run_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{session.id}"
    events = EventLog(Path(args.results_dir) / run_id / "events.jsonl", run_id)
    scenario = Scenario.model_validate(
        {
            "schema_version": 1,
            "name": SCENARIO,
            "summary": "harness overhead",
            "claims": ["C04"],
            "benchmark": {},
            "steps": [
                {
                    "measure": {
                        "metric": "run-via-seatrial",
                        "rounds": args.rounds,
                        "warmup": args.warmup,
                        "steps": [{"run": {"image": image, "command": ["true"], "network": "none", "remove": True}}],
                    }
                }
            ],
        }
    )
    body = scenario.steps[0].body
    assert isinstance(body, MeasureStepBody) and scenario.benchmark is not None  # the scenario above has both
    ctx = ItemContext(engine=engine, session=session, scenario=scenario, index=1, base_image=lambda e: image)
    emit = lambda kind, **f: events.write(kind, scenario=SCENARIO, engine=engine.name, **f)  # noqa: E731
    try:
        events.write("run_start", session=session.id, host=host_fingerprint(), engines=[engine.info()])
        emit(
            "item_start",
            claims=["C04"],
            file=str(Path(__file__).resolve()),
            benchmark={**scenario.benchmark.model_dump(), "ratios": [RATIO]},
        )
        values: dict[str, list[dict]] = {"run-via-seatrial": [], "run-via-shell": []}
        for round_no in range(args.warmup + args.rounds):
            base = {"round": round_no - args.warmup, "warmup": round_no < args.warmup, "unit": "s"}
            for side in round_order(round_no):
                if side == "seatrial":
                    samples = measure_round(ctx, body, round_no)
                else:
                    samples = [{"metric": "run-via-shell", "value": shell_round(ctx, image, round_no), **base}]
                for sample in samples:
                    emit("sample", **sample)
                    values[sample["metric"]].append(sample) if not sample["warmup"] else None
        emit("item_end", outcome="passed", reason="", duration=0.0)
        events.write("run_end", counts={"passed": 1}, interrupted=False, leaks={})
    finally:
        events.close()
        session.close()
    ours = [s["value"] for s in values["run-via-seatrial"]]
    theirs = [s["value"] for s in values["run-via-shell"]]
    for line in verdict_lines(engine.name, ours, theirs, args.gate):
        print(line)
    print(f"events: {events.path}")
    overhead = (paired_ratio_interval(ours, theirs).estimate - 1) * 100
    return 0 if overhead <= args.gate else 4


def rounds_of(paths: list[Path]) -> tuple[list[float], list[float], list[str]]:
    """The paired samples (seatrial, shell) of every complete round in these events files, and
    the engines they ran on; warm-ups left out."""
    ours: list[float] = []
    theirs: list[float] = []
    engines: list[str] = []
    for path in paths:
        rounds: dict[int, dict[str, float]] = {}
        for record in read_events(path):
            if record["type"] == "sample" and record.get("scenario") == SCENARIO and not record.get("warmup"):
                rounds.setdefault(record["round"], {})[record["metric"]] = record["value"]
                engines += [] if record["engine"] in engines else [record["engine"]]
        for pair in rounds.values():
            if len(pair) == 2:
                ours.append(pair["run-via-seatrial"])
                theirs.append(pair["run-via-shell"])
    if not ours:
        raise SystemExit(f"overhead: no complete rounds of {SCENARIO} in {', '.join(map(str, paths))}")
    return ours, theirs, engines


def round_order(round_no: int) -> tuple[str, str]:
    """Which side goes first in a round: they alternate, so neither always follows the other."""
    return ("seatrial", "shell") if round_no % 2 == 0 else ("shell", "seatrial")


def verdict_lines(engine: str, ours: list[float], theirs: list[float], gate: float) -> list[str]:
    """The paired figure with its interval, the mean difference with its interval, and whether
    the interval is narrow enough (issue 16: +-2 %) to tell the gate."""
    paired = paired_ratio_interval(ours, theirs)
    low, mid, high = ((x - 1) * 100 for x in (paired.low, paired.estimate, paired.high))
    diffs = np.asarray(ours) - np.asarray(theirs)
    # 1.96 standard errors: the normal approximation, sound at the hundreds of rounds this takes
    half = 1.96 * float(diffs.std(ddof=1) / np.sqrt(len(diffs))) * 1000
    lines = [
        f"harness overhead on {engine}: {mid:+.2f}% (95% CI {low:+.2f}% .. {high:+.2f}%; median of "
        f"{len(diffs)} paired per-round ratios); gate {gate:g}%",
        f"  seatrial {np.median(ours) * 1000:.1f} ms, shell {np.median(theirs) * 1000:.1f} ms (medians); mean "
        f"paired difference {diffs.mean() * 1000:+.2f} ms (95% interval +-{half:.2f} ms)",
    ]
    if max(mid - low, high - mid) > 2:
        lines.append("  the interval is wider than +-2 %: run more rounds (--rounds) or on a quieter machine")
    return lines


if __name__ == "__main__":
    sys.exit(main())
