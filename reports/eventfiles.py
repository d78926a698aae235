"""The one reader of `events.jsonl` files (seatrial.harness.events writes them): which files a
command reads, and their records.

Which runs is always the caller's choice, named where it reads:

- `ALL`: every run found; files as named, folders searched at any depth, in a stable order.
  `seatrial report`, `seatrial compare` and a run's own summary merge runs and machines. Besides
  events.jsonl, pytest-benchmark JSON kept in its storage folder (`.benchmarks/`) is found too
  (reports/benchjson.py reads it); other JSON under a folder is not: a report's own
  pytest-benchmark/ export lives under results/.
- `NEWEST`: for each folder named, its newest run (by the file's modification time); files as
  named. `seatrial claims` shows what holds now, not every run there ever was.

A path that does not exist is an error naming it. A torn last line (a run killed mid-write) is
left out; every complete record before it is read.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable
from pathlib import Path

EVENTS = "events.jsonl"


class Runs(enum.Enum):
    """Which runs of a folder to read."""

    ALL = "all"
    NEWEST = "newest"


def event_files(paths: Iterable, runs: Runs) -> list[Path]:
    """events.jsonl files named directly or found under folders, each once, in a stable order."""
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            under = sorted(path.rglob(EVENTS))
            if runs is Runs.NEWEST and under:
                under = [sorted(under, key=lambda p: p.stat().st_mtime)[-1]]
            found += under
            if runs is Runs.ALL:
                found += sorted(
                    p for p in path.rglob("*.json") if ".benchmarks" in (path.name, *p.relative_to(path).parts[:-1])
                )
        else:
            raise FileNotFoundError(
                f"{path}: no such file or folder; give {EVENTS} files or folders holding them (e.g. results/)"
            )
    return list(dict.fromkeys(found))


def read_events(path: Path) -> list[dict]:
    """All records of one events.jsonl; a torn last line (killed mid-write) is ignored."""
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def read_records(paths: Iterable[Path]) -> list[dict]:
    """Records of every events file, file after file, in order."""
    return [record for path in paths for record in read_events(path)]
