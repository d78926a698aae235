"""The reference builder's cache entries (`cache/<key>.json` under the state root): kept to a
bound, least recently used first, and removed on request (`seatrial clean --caches`).

Kernel facilities: utime(2) (a cache hit marks its entry used), stat(2) and unlink(2).
An entry names a layer; dropping the entry only makes the next build of that step a miss, and
the layer goes with the next orphan sweep (layergc.py) if no image holds it.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_LIMIT = 1000  # entries; about one per build instruction ever built, a few hundred bytes each
LIMIT_ENV = "SEATRIAL_REFERENCE_CACHE_ENTRIES"


def limit() -> int:
    """The bound: $SEATRIAL_REFERENCE_CACHE_ENTRIES, else DEFAULT_LIMIT (0: no entry is kept)."""
    text = os.environ.get(LIMIT_ENV, "")
    return int(text) if text.strip().isdigit() else DEFAULT_LIMIT


def mark_used(entry: Path) -> None:
    """A hit: the entry becomes the most recently used (its mtime is now)."""
    try:
        os.utime(entry)
    except OSError:
        pass  # removed meanwhile by a trim or a clean: the hit already has its data


def _entries(cache: Path) -> list[tuple[Path, os.stat_result]]:
    """Each entry with its stat. Another build (an xdist worker, a second `seatrial run`) may
    trim the same cache at the same time, so an entry listed may be gone when it is stat'ed:
    it is skipped, not an error."""
    try:
        listed = [e for e in os.scandir(cache) if e.name.endswith(".json") and e.is_file()]
    except FileNotFoundError:
        return []
    found = []
    for entry in listed:
        try:
            found.append((Path(entry.path), entry.stat()))
        except FileNotFoundError:
            continue
    return found


def trim(cache: Path, bound: int | None = None) -> int:
    """Remove the least recently used entries beyond the bound; returns how many went."""
    bound = limit() if bound is None else bound
    entries = _entries(cache)
    if len(entries) <= bound:
        return 0
    entries.sort(key=lambda entry: entry[1].st_mtime)
    doomed = entries[: len(entries) - bound]
    for path, _ in doomed:
        path.unlink(missing_ok=True)
    return len(doomed)


def clear(cache: Path) -> tuple[int, int]:
    """Remove every entry; returns (entries, bytes)."""
    count = size = 0
    for path, stat in _entries(cache):
        size += stat.st_size
        path.unlink(missing_ok=True)
        count += 1
    return count, size
