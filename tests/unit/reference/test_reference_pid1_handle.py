"""The container's pid 1 is reached through a pidfd checked against its recorded start time, so a
pid number that another process took since cannot receive a signal or an exec meant for it."""

from __future__ import annotations

import os
import signal
import subprocess

from seatrial.engines.reference.procfs import pid1_fd, signal_pid1, start_time


def test_a_pid_whose_start_time_differs_from_the_record_gets_no_pidfd():
    with subprocess.Popen(["sleep", "30"]) as other:
        try:
            record = {"pid": other.pid, "pid_start": str(int(start_time(other.pid)) - 1)}
            assert pid1_fd(record) is None
            signal_pid1(record, signal.SIGKILL)
            assert other.poll() is None  # not the container's: left alone
        finally:
            other.kill()


def test_the_recorded_process_gets_a_pidfd_and_its_signal():
    with subprocess.Popen(["sleep", "30"]) as pid1:
        record = {"pid": pid1.pid, "pid_start": start_time(pid1.pid)}
        pidfd = pid1_fd(record)
        assert pidfd is not None
        os.close(pidfd)
        signal_pid1(record, signal.SIGKILL)
        assert pid1.wait(timeout=10) == -signal.SIGKILL


def test_a_process_that_is_gone_gets_no_pidfd():
    with subprocess.Popen(["true"]) as gone:
        gone.wait()
    assert pid1_fd({"pid": gone.pid, "pid_start": "1"}) is None
