"""Running Vagrant, ssh and virsh for `seatrial vm`: argument lists, timeouts, and output relayed
line by line with the elapsed time, so that steps of minutes show progress."""

from __future__ import annotations

import re
import shlex
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

HOURS = 3600
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class VmError(Exception):
    """An expected failure of a vm step: the message says what, where and what to do."""

    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code


def clean_line(raw: str) -> str | None:
    """A line of Vagrant's output as a log shows it: without terminal codes and the redrawn
    `Progress: N%` counter (None for those)."""
    line = _ANSI.sub("", raw).split("\r")[-1].rstrip()
    if not line or re.fullmatch(r"\s*Progress: \d+%.*", line):
        return None
    return line


class Vagrant:
    """Runs vagrant (and ssh, virsh) in vagrant/ with our environment, prefixing each output line
    with the elapsed time."""

    def __init__(
        self, vagrant_dir: Path, env: dict[str, str], out: TextIO, clock: Callable[[], float] = time.monotonic
    ):
        self.dir, self.env, self.out, self.clock = vagrant_dir, env, out, clock
        self.started = clock()

    def say(self, message: str) -> None:
        print(f"vm [{self.clock() - self.started:5.0f}s] {message}", file=self.out, flush=True)

    def stream(self, argv: list[str], timeout: float, *, check: bool = True) -> int:
        """Run argv, relaying its output line by line; its exit code (VmError if check and not 0)."""
        deadline = self.clock() + timeout
        with subprocess.Popen(
            argv, cwd=self.dir, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        ) as proc:
            assert proc.stdout is not None
            try:
                for raw in iter(proc.stdout.readline, b""):
                    line = clean_line(raw.decode(errors="replace"))
                    if line is not None:
                        self.say(line)
                    if self.clock() > deadline:
                        raise VmError(f"{shlex.join(argv)}: no end after {timeout:.0f} s; stopped")
                code = proc.wait(timeout=max(1.0, deadline - self.clock()))
            except BaseException:
                # Interrupted: let Vagrant stop its own way first (it cleans up a half-made
                # domain on SIGINT), then make sure it is gone; `down` sweeps what remains.
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    proc.kill()
                raise
        if check and code != 0:
            raise VmError(f"{shlex.join(argv)} exited {code} (its output is above)")
        return code

    def capture(self, argv: list[str], timeout: float = 120) -> str:
        """Run argv quietly and return its stdout; VmError with its stderr when it fails."""
        try:
            done = subprocess.run(
                argv,
                cwd=self.dir,
                env=self.env,
                capture_output=True,
                text=True,
                timeout=timeout,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            raise VmError(f"{shlex.join(argv)}: no answer after {timeout:.0f} s") from None
        if done.returncode != 0:
            raise VmError(f"{shlex.join(argv)} exited {done.returncode}: {done.stderr.strip()[-2000:]}")
        return done.stdout
