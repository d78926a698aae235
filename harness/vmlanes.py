"""Lanes: the engines in a VM split into groups that run at once, each its own `seatrial run`.

Under QEMU emulation a VM's vCPUs are host threads, and one engine's run leaves most of them
idle (a container start is a chain of processes, one after the other). Two runs side by side,
Docker's engines in one and Podman's in the other, keep both busy. Each lane is a run of its
own (its own session, run id and results folder `<run-id>-<lane>`); `seatrial report` merges
them, and every engine@host cell comes from exactly one lane."""

from __future__ import annotations

import signal
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass

from seatrial.harness.vmrunner import VmError, clean_line


@dataclass(frozen=True)
class Lane:
    """One group of engines run by one `seatrial run` in the VM."""

    name: str  # l1, l2, ...: the suffix of its run id
    engines: tuple[str, ...]

    def run_args(self, run_args: list[str]) -> list[str]:
        engine_args = [word for engine in self.engines for word in ("--engine", engine)]
        return [*engine_args, *run_args]


def parse_lanes(specs: list[str], run_args: list[str]) -> list[Lane]:
    """`--lane docker,docker-buildkit --lane podman,reference` as lanes; none: one lane, no split."""
    if not specs:
        return []
    if "--engine" in run_args:
        raise VmError("seatrial vm run: --lane and --engine (after --) both choose engines; use one of them", 2)
    lanes: list[Lane] = []
    seen: set[str] = set()
    for index, spec in enumerate(specs, 1):
        engines = tuple(e.strip() for e in spec.split(",") if e.strip())
        if not engines:
            raise VmError(f"seatrial vm run: --lane {spec!r} names no engine; e.g. --lane docker,docker-buildkit", 2)
        twice = sorted(seen.intersection(engines))
        if twice:
            raise VmError(f"seatrial vm run: engine {', '.join(twice)} is in more than one --lane", 2)
        seen.update(engines)
        lanes.append(Lane(f"l{index}", engines))
    return lanes


def stream_all(commands: list[list[str]], labels: list[str], say: Callable[[str], None], timeout: float) -> list[int]:
    """Run the commands at once, relaying each output line as `[label] line`; their exit codes.
    Interrupted (Ctrl-C, SIGTERM), every command gets SIGINT and then is killed."""
    procs = [
        subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        for argv in commands
    ]

    def relay(proc: subprocess.Popen, label: str) -> None:
        assert proc.stdout is not None
        for raw in iter(proc.stdout.readline, b""):
            line = clean_line(raw.decode(errors="replace"))
            if line is not None:
                say(f"[{label}] {line}")

    threads = [threading.Thread(target=relay, args=(p, label), daemon=True) for p, label in zip(procs, labels)]
    for thread in threads:
        thread.start()
    try:
        codes = [proc.wait(timeout=timeout) for proc in procs]
        for thread in threads:
            thread.join(timeout=30)
        return codes
    except BaseException:
        for proc in procs:
            proc.send_signal(signal.SIGINT)  # ssh ends; the caller destroys the VM with what runs in it
        for proc in procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
        raise
