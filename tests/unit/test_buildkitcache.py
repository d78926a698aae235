"""Which BuildKit cache records `seatrial clean --caches` prunes (engines/buildkitcache.py)."""

from __future__ import annotations

import json
import re

from seatrial.engines import buildkitcache


def record(rid, kind="regular", description="", parent="", in_use="false"):
    return {"ID": rid, "CacheType": kind, "Description": description, "Parent": parent, "InUse": in_use}


RECORDS = [
    record("base", description="from local "),
    record("run1", description="mount / from exec /bin/sh -c echo hi", parent="base"),
    record("copy1", description="fileop target", parent="run1"),
    record("busy", description="fileop target", parent="run1", in_use="true"),
    record("ctx", "source.local", "local source for context"),
    record("dockerfile", "source.local", "local source for dockerfile"),
    record("pulled", description="pulled from docker.io/library/debian:12"),
    record("theirs", description="mount / from exec apt-get install", parent="pulled"),
    record("cachemount", "exec.cachemount", "cached mount /root/.cache"),
]


def test_chooses_chains_from_local_images_and_context_snapshots_never_in_use_or_pulled():
    assert buildkitcache.chosen(RECORDS) == ["base", "run1", "copy1", "ctx", "dockerfile"]


def test_parses_the_df_listing_and_an_empty_one():
    assert buildkitcache.parse_records(json.dumps(RECORDS)) == RECORDS
    assert buildkitcache.parse_records("null\n") == [] and buildkitcache.parse_records("") == []


def test_prunes_by_exact_ids_in_batches():
    ids = [f"id{i:03d}" for i in range(buildkitcache.BATCH + 5)]
    filters = buildkitcache.prune_filters(ids)
    assert len(filters) == 2 and all(f[0] == "--filter" for f in filters)
    pattern = re.compile(filters[0][1].removeprefix("id="))
    assert pattern.search("id000") and pattern.search(f"id{buildkitcache.BATCH - 1:03d}")
    assert not pattern.search("id0001") and not pattern.search(f"id{buildkitcache.BATCH:03d}")


def test_reads_what_builder_prune_deleted_and_freed():
    output = "Deleted build cache objects:\nabc\ndef\n\nTotal reclaimed space: 1.5MB\n"
    assert buildkitcache.reclaimed(output) == (2, 1_500_000)
    assert buildkitcache.reclaimed("Total reclaimed space: 0B\n") == (0, 0)
