"""Health checks: the image's HEALTHCHECK run in the container, as Docker runs it.

Kernel facilities: fork(2) and setsid(2), so that a container's monitor outlives the harness
as a detached container does (the harness reaps it with waitpid(2), as it reaps shims); pidfd_open(2) and select(2) on pid 1 (a pidfd turns
readable once the process has exited), so that the monitor ends with the container and never
outlives it; each check is an exec into the container's namespaces with its identity and
confinement (nsexec.exec_in_container: setns(2), chroot(2)), killed (kill(2)) at
its timeout; rename(2) to replace health.json, which inspect reads (inspection.py).

Docker's rules (Dockerfile reference, HEALTHCHECK; Docker 20.10's daemon/health.go):
- the first check runs one interval after the start, each next one an interval after the last;
- the status is `starting` until the first success; a success makes it `healthy` and resets the
  failing streak;
- a failure (an exit code other than 0, or the timeout: exit code -1) adds to the failing streak,
  except while the status is `starting` within the start period; `retries` consecutive failures
  make it `unhealthy`;
- the last 5 results are kept, each with at most 4096 bytes of output (stdout and stderr);
- a container that does not run is `unhealthy` (inspection.py applies that rule).
Defaults: interval 30 s, timeout 30 s, start period 0, retries 3. Test ["NONE"]: no checks.
"""

from __future__ import annotations

import datetime
import json
import os
import select
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from seatrial.engines import base

from .nsexec import exec_in_container
from .processspec import close_other_fds
from .procfs import start_time
from .state import read_json

DEFAULT_INTERVAL = DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRIES = 3
MAX_LOG_ENTRIES = 5
MAX_OUTPUT = 4096
MONITOR_EXIT_WAIT = 5.0  # seconds a removal waits for the monitor once pid 1 is gone


@dataclass(frozen=True)
class Policy:
    """When to check and when to give up, in seconds, from the image config's Healthcheck."""

    interval: float = DEFAULT_INTERVAL
    timeout: float = DEFAULT_TIMEOUT
    start_period: float = 0.0
    retries: int = DEFAULT_RETRIES

    @classmethod
    def of(cls, healthcheck: dict) -> Policy:
        seconds = lambda key, default: (healthcheck.get(key) or 0) / 1e9 or default  # noqa: E731
        return cls(
            seconds("Interval", DEFAULT_INTERVAL),
            seconds("Timeout", DEFAULT_TIMEOUT),
            seconds("StartPeriod", 0.0),
            int(healthcheck.get("Retries") or DEFAULT_RETRIES),
        )


def probe_argv(healthcheck: dict | None) -> list[str] | None:
    """The command a check runs: CMD's arguments, or CMD-SHELL's through /bin/sh -c; None for
    no check (no Healthcheck, Test empty or ["NONE"])."""
    test = list((healthcheck or {}).get("Test") or ())
    if test[:1] == ["CMD"] and len(test) > 1:
        return test[1:]
    if test[:1] == ["CMD-SHELL"] and len(test) == 2:
        return ["/bin/sh", "-c", test[1]]
    return None


def initial() -> dict:
    """State.Health of a container that has just started."""
    return {"Status": "starting", "FailingStreak": 0, "Log": []}


def record_result(health: dict, result: dict, *, started_at: float, policy: Policy) -> dict:
    """Health after one check `result` ({"Start", "End", "ExitCode", "Output"}, Start as epoch
    seconds in "_start"), by Docker's rules (see the module docstring)."""
    log = [*health["Log"], {k: v for k, v in result.items() if not k.startswith("_")}][-MAX_LOG_ENTRIES:]
    status, streak = health["Status"], health["FailingStreak"]
    if result["ExitCode"] == 0:
        status, streak = "healthy", 0
    elif not (status == "starting" and result["_start"] - started_at < policy.start_period):
        streak += 1
        if streak >= policy.retries:
            status = "unhealthy"
    return {"Status": status, "FailingStreak": streak, "Log": log}


def _timestamp(seconds: float) -> str:
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _go_duration(seconds: float) -> str:
    return f"{seconds:g}s" if seconds >= 1 else f"{seconds * 1000:g}ms"


def probe(kern, record: dict, argv: list[str], timeout: float, run_in) -> dict:
    """Run one check in the container with `run_in` (nsexec.exec_in_container); a timeout
    is exit code -1, as in Docker."""
    began = time.time()
    try:
        code, out, err = run_in(kern, record, argv, time.monotonic() + timeout, "health check")
        output = (out + err)[:MAX_OUTPUT]
    except base.EngineError as exc:
        if "timed out" not in str(exc):
            raise  # the container is not running
        code, output = -1, f"Health check exceeded timeout ({_go_duration(timeout)})"
    return {
        "Start": _timestamp(began),
        "End": _timestamp(time.time()),
        "ExitCode": code,
        "Output": output,
        "_start": began,
    }


def _write(cdir: Path, health: dict) -> None:
    """Replace health.json; never re-create a container directory that was removed or moved."""
    tmp = cdir / f".health.json.{os.getpid()}.tmp"
    with open(tmp, "x") as handle:  # FileNotFoundError once the directory is gone
        handle.write(json.dumps(health, sort_keys=True))
    os.replace(tmp, cdir / "health.json")


def start_monitor(kern, record: dict, healthcheck: dict | None, cdir: Path) -> int | None:
    """If the image has a health check: health.json says `starting`, and a monitor process (a
    child of the caller, which reaps it) runs the checks until pid 1 exits; returns its pid. The
    pid also goes to `pids` (the reaper kills it) and to monitor.json (a removal waits for it:
    it must not write into a directory being deleted)."""
    argv = probe_argv(healthcheck)
    if argv is None:
        return None
    policy = Policy.of(healthcheck or {})
    # Resolved before the fork: the monitor imports nothing (another thread of the harness may
    # hold the import lock at the fork, and the child would wait for it for ever).
    _write(cdir, initial())
    pid = os.fork()
    if pid == 0:
        _monitor(kern, record, argv, policy, cdir, exec_in_container)
    with open(cdir / "pids", "a") as pids:
        pids.write(f"{pid}\n")
    (cdir / "monitor.json").write_text(f'{{"pid": {pid}, "start": "{start_time(pid)}"}}')
    return pid


def _monitor(kern, record: dict, argv: list[str], policy: Policy, cdir: Path, run_in) -> None:
    """The monitor process: check every interval until pid 1 exits; never returns."""
    try:
        os.setsid()  # no terminal's Ctrl-C, no signal sent to the harness's process group
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_DFL)  # the harness's handlers are not ours
        close_other_fds(set())
        pid1 = os.pidfd_open(record["pid"])
        if start_time(record["pid"]) != record.get("pid_start"):
            os._exit(0)  # pid 1 is gone and its number reused already
        health = initial()
        while not select.select([pid1], [], [], policy.interval)[0]:
            result = probe(kern, record, argv, policy.timeout, run_in)
            if select.select([pid1], [], [], 0)[0]:
                break  # pid 1 ended during the check: its result says nothing
            health = record_result(health, result, started_at=record["started"], policy=policy)
            _write(cdir, health)
    except BaseException:
        pass
    finally:
        os._exit(0)


def end_monitor(cdir: Path, timeout: float = MONITOR_EXIT_WAIT) -> None:
    """Wait for a container's monitor to exit (pid 1 must be gone already), kill it after
    `timeout`, and reap it if it is this process's child. Nothing to do if it never ran."""
    found = read_json(cdir / "monitor.json")
    if not found:
        return
    try:
        pidfd = os.pidfd_open(found["pid"])
    except ProcessLookupError:
        return
    try:
        if start_time(found["pid"]) != found["start"]:
            return
        if not select.select([pidfd], [], [], timeout)[0]:
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            select.select([pidfd], [], [], 1.0)
    except ProcessLookupError:
        pass
    finally:
        os.close(pidfd)
    try:
        os.waitpid(found["pid"], os.WNOHANG)
    except ChildProcessError:
        pass  # another harness started it; its init reaps it
