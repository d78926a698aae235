"""Harness overhead: a `run --rm true` through seatrial's measure step against the very same
engine command line timed inside a plain shell script (benchmarks/overhead.sh), round by round.

    .venv/bin/python benchmarks/overhead.py [--engine docker] [--rounds 30] [--warmup 3]

What counts as overhead: everything seatrial adds around one engine command in a benchmark
round (the step runner, templating, the adapter building its argument list, Python's
subprocess, checking the result, removing nothing). The shell side pays only bash's fork and
exec. Rounds alternate (seatrial, shell, seatrial, shell ...) so drift hits both alike. Samples go
to results/<run-id>/events.jsonl as metrics `run-via-seatrial` and `run-via-shell` with the ratio
`harness-overhead`, so `seatrial report` shows them with intervals. The one-off start-up of a
`seatrial run` (Python, pytest collection, reaping, loading the base image) is not per round and
is reported separately by `seatrial run` itself; it does not grow with the number of rounds.

Exit status: 0 when the median overhead is at or below --gate percent, 4 (a regression) above.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from seatrial.engines.cliengine import CliEngine
from seatrial.engines.client import run_args
from seatrial.engines.discovery import load_engines
from seatrial.harness.baseimage import base_archive, ensure_loaded
from seatrial.harness.events import EventLog, host_fingerprint
from seatrial.harness.itemcontext import ItemContext
from seatrial.harness.model import Scenario
from seatrial.harness.session import Session
from seatrial.harness.steps.measure import MeasureStepBody, measure_round
from seatrial.reports.stats import ratio_interval

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
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--gate", type=float, default=5.0, help="percent (default 5)")
    parser.add_argument("--results-dir", default="results")
    args = parser.parse_args(argv)
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
            for sample in measure_round(ctx, body, round_no):
                emit("sample", **sample)
                values["run-via-seatrial"].append(sample) if not sample["warmup"] else None
            shell = {"metric": "run-via-shell", "value": shell_round(ctx, image, round_no), **base}
            emit("sample", **shell)
            values["run-via-shell"].append(shell) if not shell["warmup"] else None
        emit("item_end", outcome="passed", reason="", duration=0.0)
        events.write("run_end", counts={"passed": 1}, interrupted=False, leaks={})
    finally:
        events.close()
        session.close()
    ratio = ratio_interval(
        [s["value"] for s in values["run-via-seatrial"]], [s["value"] for s in values["run-via-shell"]]
    )
    overhead = (ratio.estimate - 1) * 100
    print(
        f"harness overhead on {engine.name}: {overhead:+.1f}% (95% CI {(ratio.low - 1) * 100:+.1f}% .. "
        f"{(ratio.high - 1) * 100:+.1f}%), {args.rounds} interleaved rounds; gate {args.gate:g}%"
    )
    print(f"events: {events.path}")
    return 0 if overhead <= args.gate else 4


if __name__ == "__main__":
    sys.exit(main())
