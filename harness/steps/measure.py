"""`measure`: repeat inner steps for a benchmark and record every round's sample, raw.

A round runs the inner steps (`copies` times), times the ones not marked `untimed` with a
monotonic clock, and then removes the containers it started, untimed, so that every round starts
from the same state. Statistics are not computed here: samples go to events.jsonl as they are and
reports compute medians and intervals (DESIGN.md, Benchmarks). `measure_round` is the unit the
benchmark runner (seatrial.harness.bench) interleaves across engines; `Measure.execute` runs all rounds on
one engine, for a plain `seatrial run` or `pytest` of a benchmark scenario file.
"""
from __future__ import annotations

import re
import statistics
import time
from pathlib import Path

from seatrial.harness.itemcontext import ItemContext, StepError
from seatrial.harness.model import MeasureStepBody
from seatrial.harness.steps.stepkind import STEP_REGISTRY, StepOutcome, StepRunner, register

UNITS = {"duration": "s", "first_output": "s", "image_size": "bytes"}
_ADJTIMEX = re.compile(r"time\.tv_sec:\s*(\d+)\s+time\.tv_usec:\s*(\d+)")


def mem_available(meminfo: Path = Path("/proc/meminfo")) -> int:
    """Bytes the kernel could give to new processes: before minus after = what copies took."""
    for line in meminfo.read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    raise StepError(f"{meminfo} has no MemAvailable line; memory per container cannot be measured")


def printed_time(stdout: str) -> float:
    """The wall-clock time a container printed: busybox `adjtimex` (microseconds; busybox `date`
    has no %N) or a plain number of seconds on the first line."""
    found = _ADJTIMEX.search(stdout)
    if found:
        return int(found.group(1)) + int(found.group(2)) / 1e6
    try:
        return float(stdout.split()[0])
    except (IndexError, ValueError):
        raise StepError(f"first_output: no time in the container's output {stdout[:200]!r}; "
                        "print `adjtimex` or seconds since the epoch first") from None


def measure_round(ctx: ItemContext, body: MeasureStepBody, round_no: int) -> list[dict]:
    """Run one round; return its sample records (metric, round, value, unit, warmup).

    `round_no` counts warm-ups first: rounds below `body.warmup` are recorded as warm-up with a
    negative round number, so raw data keeps them but statistics leave them out."""
    from seatrial.harness.expectations import apply_captures, evaluate
    from seatrial.harness.runner import must_exit_zero
    mark = len(ctx.created)
    memory_before = mem_available() if body.memory else 0
    timed, round_wall, last = 0.0, None, None
    try:
        for _ in range(body.copies):
            for j, step in enumerate(body.steps):
                wall, start = time.time(), time.perf_counter()
                outcome = STEP_REGISTRY[step.kind].execute(ctx, step.body)
                elapsed = time.perf_counter() - start
                failed = [c for c in evaluate(ctx, j, step.expect, outcome, implicit_success=must_exit_zero(step))
                          if not c.ok]
                if failed:
                    raise StepError(f"measure {body.metric}: round {round_no}, inner step {j} "
                                    f"({step.kind}): {failed[0].message}")
                apply_captures(ctx, step.capture, outcome)
                if j not in body.untimed:
                    timed += elapsed
                    round_wall = wall if round_wall is None else round_wall
                    last = outcome
        memory_taken = (memory_before - mem_available()) / body.copies if body.memory else 0.0
    finally:
        _remove_round_containers(ctx, mark)
    if body.value == "first_output":
        value = printed_time(last.stdout) - round_wall
    elif body.value == "image_size":
        if last is None or last.build is None:
            raise StepError(f"measure {body.metric}: value image_size needs a timed build step")
        value = float(last.build.size)
    else:
        value = timed
    base = {"round": round_no - body.warmup, "warmup": round_no < body.warmup}
    samples = [{"metric": body.metric, "value": value, "unit": UNITS[body.value], **base}]
    if body.memory:
        samples.append({"metric": f"{body.metric}.memory", "value": memory_taken, "unit": "bytes", **base})
    return samples


def _remove_round_containers(ctx: ItemContext, mark: int) -> None:
    """Remove the containers this round started, so the next round starts alike; images and
    networks stay (a rebuild measures the cache the previous round left)."""
    from seatrial.harness.reaper import remove_all
    started = [r for r in ctx.created[mark:] if r.kind == "container"]
    left = remove_all(ctx.engine, started)
    if left:
        raise StepError("measure: could not remove " + ", ".join(r.handle for r in left))
    names = {r.handle for r in started}
    ctx.created[mark:] = [r for r in ctx.created[mark:] if r.kind != "container"]
    for local in [k for k, v in ctx.containers.items() if v in names]:
        del ctx.containers[local]


@register
class Measure(StepRunner):
    kind = "measure"

    def needs(self, body: MeasureStepBody) -> list[str]:
        return [need for step in body.steps for need in STEP_REGISTRY[step.kind].needs(step.body)]

    def execute(self, ctx: ItemContext, body: MeasureStepBody) -> StepOutcome:
        """Every round on this engine alone (no interleaving: that needs all engines at once)."""
        started = time.monotonic()
        samples = [s for r in range(body.warmup + body.rounds) for s in measure_round(ctx, body, r)]
        return summarize(body, samples, time.monotonic() - started)


def summarize(body: MeasureStepBody, samples: list[dict], duration: float) -> StepOutcome:
    """The step's outcome: samples in `detail` (the runner writes them as events), a median in
    stdout for people reading the step record."""
    kept = [s["value"] for s in samples if s["metric"] == body.metric and not s["warmup"]]
    text = f"{body.metric}: median {statistics.median(kept):.6g} {UNITS[body.value]} of {len(kept)} rounds\n"
    return StepOutcome(exit_code=0, stdout=text, duration=duration, detail={"samples": samples})
