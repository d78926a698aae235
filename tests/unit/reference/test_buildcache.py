"""The reference builder's cache stays within its bound, least recently used out, and clears."""

from __future__ import annotations

import os

from seatrial.engines.reference import buildcache


def make(cache, names):
    cache.mkdir(exist_ok=True)
    for age, name in enumerate(names):
        path = cache / f"{name}.json"
        path.write_text("{}")
        os.utime(path, (1000 + age, 1000 + age))  # a, b, c, ...: oldest first


def test_trim_keeps_the_most_recently_used_entries(tmp_path):
    cache = tmp_path / "cache"
    make(cache, ["a", "b", "c", "d", "e"])
    buildcache.mark_used(cache / "a.json")  # a hit makes the oldest the newest
    assert buildcache.trim(cache, 3) == 2
    assert sorted(p.stem for p in cache.iterdir()) == ["a", "d", "e"]
    assert buildcache.trim(cache, 3) == 0


def test_the_bound_is_configurable(tmp_path, monkeypatch):
    monkeypatch.setenv(buildcache.LIMIT_ENV, "2")
    cache = tmp_path / "cache"
    make(cache, ["a", "b", "c"])
    assert buildcache.limit() == 2 and buildcache.trim(cache) == 1
    monkeypatch.delenv(buildcache.LIMIT_ENV)
    assert buildcache.limit() == buildcache.DEFAULT_LIMIT


def test_clear_removes_every_entry_and_says_how_much(tmp_path):
    cache = tmp_path / "cache"
    make(cache, ["a", "b"])
    (cache / "not-an-entry.tmp").write_text("x")
    assert buildcache.clear(cache) == (2, 4)
    assert [p.name for p in cache.iterdir()] == ["not-an-entry.tmp"]
    assert buildcache.clear(tmp_path / "absent") == (0, 0)
    buildcache.mark_used(tmp_path / "absent.json")  # a hit on an entry cleared meanwhile is fine


def _scandir_then_removed(monkeypatch, cache, name):
    """os.scandir as buildcache sees it while another build's trim removes `name` just after."""
    real_scandir = os.scandir

    def scandir(path):
        listed = list(real_scandir(path))
        (cache / name).unlink()
        return iter(listed)

    monkeypatch.setattr(buildcache.os, "scandir", scandir)


def test_an_entry_another_trim_removes_while_listed_is_skipped(tmp_path, monkeypatch):
    """What failed in CI: two xdist workers trimmed one cache at once and one stat'ed an entry
    the other had just unlinked (FileNotFoundError, reported as the build's error)."""
    cache = tmp_path / "cache"
    make(cache, ["a", "b", "c", "d", "e"])
    _scandir_then_removed(monkeypatch, cache, "b.json")
    assert buildcache.trim(cache, 2) == 2
    assert sorted(p.stem for p in cache.iterdir()) == ["d", "e"]


def test_clear_counts_only_what_it_found(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    make(cache, ["a", "b", "c"])
    _scandir_then_removed(monkeypatch, cache, "b.json")
    assert buildcache.clear(cache) == (2, 4)
    assert list(cache.iterdir()) == []
