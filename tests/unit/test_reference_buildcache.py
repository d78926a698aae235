"""The reference build cache's bound holds when several builds trim the same cache at once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from seatrial.engines.reference import buildcache


def _fill(cache: Path, count: int) -> None:
    cache.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        entry = cache / f"{i:04d}.json"
        entry.write_text("{}")
        os.utime(entry, (1_000_000 + i, 1_000_000 + i))  # 0000 is the least recently used


def test_trim_removes_the_least_recently_used_beyond_the_bound(tmp_path):
    _fill(tmp_path, 10)
    assert buildcache.trim(tmp_path, bound=4) == 6
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{i:04d}.json" for i in range(6, 10)]


def test_an_entry_removed_by_another_trim_while_listed_is_skipped(tmp_path, monkeypatch):
    """What failed in CI: two xdist workers trimmed at once and one stat'ed an entry that the
    other had just unlinked (FileNotFoundError, reported as the build's error)."""
    _fill(tmp_path, 10)
    real_scandir = os.scandir

    def scandir_then_other_trim(path):
        listed = list(real_scandir(path))
        (tmp_path / "0003.json").unlink()  # the other worker wins the race for this one
        return iter(listed)

    monkeypatch.setattr(buildcache.os, "scandir", scandir_then_other_trim)
    assert buildcache.trim(tmp_path, bound=4) == 5
    assert len(list(tmp_path.iterdir())) == 4


def test_clear_counts_only_what_it_removed(tmp_path, monkeypatch):
    _fill(tmp_path, 3)
    real_scandir = os.scandir

    def scandir_then_other_clear(path):
        listed = list(real_scandir(path))
        (tmp_path / "0001.json").unlink()
        return iter(listed)

    monkeypatch.setattr(buildcache.os, "scandir", scandir_then_other_clear)
    assert buildcache.clear(tmp_path) == (2, 4)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("text, expected", [("7", 7), ("", buildcache.DEFAULT_LIMIT), ("x", buildcache.DEFAULT_LIMIT)])
def test_limit_comes_from_the_environment(monkeypatch, text, expected):
    monkeypatch.setenv(buildcache.LIMIT_ENV, text)
    assert buildcache.limit() == expected
