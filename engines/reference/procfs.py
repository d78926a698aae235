"""What /proc tells about a process (its state, its start time, the signals it ignores), and a
handle on a container's pid 1 that a reused pid number cannot mislead.

Kernel facilities: proc(5) -- /proc/PID/stat (state, field 3; starttime, field 22) and
/proc/self/status (SigIgn); pidfd_open(2) and pidfd_send_signal(2).

A pid number alone is no handle on a process (pids are reused): the engine keeps each pid with
its start time, compares both, and then holds a pidfd.
"""

from __future__ import annotations

import os
import signal


def proc_stat(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command name (proc(5): [0] is the state, [19] the
    start time); [] once the process is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def alive(pid: int) -> bool:
    """Whether `pid` runs: not gone, not a zombie (a pid namespace whose pid 1 is one takes no
    new process)."""
    return proc_stat(pid)[:1] not in ([], ["Z"], ["X"])


def start_time(pid: int) -> str:
    """The start time of `pid` in clock ticks since boot, as text; "" once it is gone. With the
    pid it names one process for good."""
    fields = proc_stat(pid)
    return fields[19] if len(fields) > 19 else ""


def ignored_signals() -> set[int]:
    """The signals this process ignores (SigIgn in /proc/self/status); none if unreadable."""
    try:
        with open("/proc/self/status") as status:
            mask = next(int(line.split()[1], 16) for line in status if line.startswith("SigIgn:"))
    except (OSError, StopIteration, ValueError):
        mask = 0
    return {bit + 1 for bit in range(64) if mask >> bit & 1} & set(signal.valid_signals())


def pid1_fd(record: dict) -> int | None:
    """A pidfd (pidfd_open(2)) of the container's pid 1; None once that process is gone, also
    when its pid number now belongs to another process (its start time differs)."""
    try:
        pidfd = os.pidfd_open(record["pid"])
    except (KeyError, ProcessLookupError):
        return None
    if record.get("pid_start") and start_time(record["pid"]) != record["pid_start"]:
        os.close(pidfd)
        return None
    return pidfd


def signal_pid1(record: dict, signum: int) -> None:
    """Signal the container's pid 1 through a pidfd, never a process that reused its pid."""
    pidfd = pid1_fd(record)
    if pidfd is not None:
        try:
            signal.pidfd_send_signal(pidfd, signum)
        except ProcessLookupError:
            pass
        finally:
            os.close(pidfd)
