"""The run's append-only record: `results/<run-id>/events.jsonl`, one JSON object per line.

Reports are made from this file only, never from the runner's objects. Records are flushed as
written and fsynced at the end of each scenario, so a run killed midway leaves a readable
prefix; a file without a `run_end` record is an incomplete run.
"""
from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any, Callable


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


class EventLog:
    """Appends typed records to one events.jsonl; the clock is injectable for tests."""

    def __init__(self, path: Path, run_id: str, *, clock: Callable[[], float] = time.time):
        self.path = path
        self.run_id = run_id
        self.clock = clock
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(path, "a", encoding="utf-8")

    def write(self, record_type: str, **fields: Any) -> None:
        record = {"type": record_type, "run_id": self.run_id, "time": self.clock(), **_plain(fields)}
        self._file.write(json.dumps(record, sort_keys=True, default=str) + "\n")
        self._file.flush()

    def sync(self) -> None:
        """Make what was written survive a crash of the machine, not only of the process."""
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        if not self._file.closed:
            self.sync()
            self._file.close()


def host_fingerprint() -> dict[str, str]:
    """What about this machine matters to a result: kernel, OS, CPUs, Python."""
    info = {"hostname": platform.node(), "kernel": platform.release(), "machine": platform.machine(),
            "python": platform.python_version(), "cpus": str(os.cpu_count())}
    try:
        info["os"] = platform.freedesktop_os_release().get("PRETTY_NAME", "")
    except OSError:
        info["os"] = ""
    return info


def read_events(path: Path) -> list[dict]:
    """All records of one events.jsonl; a torn last line (killed mid-write) is ignored."""
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records
