"""The run's append-only record: `results/<run-id>/events.jsonl`, one JSON object per line.

Reports are made from this file only, never from the runner's objects. Records are written
whole as they come and fsynced at the end of each scenario, so a run killed midway leaves a
readable prefix; a file without a `run_end` record is an incomplete run. A file that cannot be
written (a full disk) is cut back to its last complete record and the run stops. The one
reader of these files is seatrial.reports.eventfiles.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return {k: _plain(v) for k, v in asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


class ResultsUnwritable(RuntimeError):
    """The results file cannot take another record (disk full, read-only, removed).

    Raised once the file has been cut back to its last complete record, so that what is there
    stays readable; the run stops with one message naming the path and the errno."""

    def __init__(self, path: Path, error: OSError):
        name = errno.errorcode.get(error.errno or 0, "")
        super().__init__(
            f"cannot write results to {path}: {error.strerror or error} (errno {error.errno}"
            f"{' ' + name if name else ''}); the run stops here and the file keeps every record up to "
            "the last complete one; free space there or give another --results-dir"
        )
        self.path = path
        self.errno = error.errno


class EventLog:
    """Appends typed records to one events.jsonl; the clock is injectable for tests.

    Each record goes to the file in one unbuffered write (O_APPEND), so that a failing write
    can be undone exactly: the file is cut back to the end of the last complete record, and the
    log refuses every later record with the same ResultsUnwritable. With `exclusive`, an
    existing file is refused (FileExistsError) rather than appended to; without it, several
    processes may append to one file (the workers of a parallel run)."""

    def __init__(self, path: Path, run_id: str, *, clock: Callable[[], float] = time.time, exclusive: bool = False):
        self.path = path
        self.run_id = run_id
        self.clock = clock
        self.failure: ResultsUnwritable | None = None
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC | (os.O_EXCL if exclusive else 0)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fd: int | None = os.open(path, flags, 0o644)
        except FileExistsError:
            raise
        except OSError as exc:
            raise ResultsUnwritable(path, exc) from None

    def write(self, record_type: str, **fields: Any) -> None:
        if self.failure is not None:
            raise self.failure
        record = {"type": record_type, "run_id": self.run_id, "time": self.clock(), **_plain(fields)}
        data = (json.dumps(record, sort_keys=True, default=str) + "\n").encode("utf-8")
        # The workers of a parallel run (`-n`) append to the same file: the lock keeps each
        # record whole and tells where it starts, so that a torn one is cut back exactly.
        fd = self._fd
        if fd is None:
            raise ValueError(f"{self.path}: the events log is closed")
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            start = os.fstat(fd).st_size
            written = 0
            while written < len(data):  # a full disk takes part of a record, then refuses
                written += os.write(fd, data[written:])
        except OSError as exc:
            self._fail(exc, torn_from=start)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def sync(self) -> None:
        """Make what was written survive a crash of the machine, not only of the process."""
        if self.failure is None and self._fd is not None:
            try:
                os.fsync(self._fd)
            except OSError as exc:
                self._fail(exc)

    def close(self) -> None:
        """Sync and close; after a failure, only close (the failure was already reported)."""
        if self._fd is None:
            return
        try:
            self.sync()
        finally:
            os.close(self._fd)
            self._fd = None

    def _fail(self, error: OSError, torn_from: int | None = None) -> None:
        if torn_from is not None and self._fd is not None:
            try:
                os.ftruncate(self._fd, torn_from)  # the torn record goes
            except OSError:
                pass
        self.failure = ResultsUnwritable(self.path, error)
        raise self.failure from None


def host_fingerprint() -> dict[str, str]:
    """What about this machine matters to a result: kernel, OS, CPUs, Python."""
    info = {
        "hostname": platform.node(),
        "kernel": platform.release(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "cpus": str(os.cpu_count()),
    }
    try:
        info["os"] = platform.freedesktop_os_release().get("PRETTY_NAME", "")
    except OSError:
        info["os"] = ""
    return info
