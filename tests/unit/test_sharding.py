"""--shard I/N: parts that are disjoint, cover the library, keep a scenario's engines together."""

from __future__ import annotations

import pytest

from seatrial.harness.sharding import Shard, deal, library_name, parse_shard

LIBRARY = [f"area{n % 4}/scenario-{n}.yaml" for n in range(31)]


def test_shards_are_disjoint_cover_the_library_and_differ_by_at_most_one():
    parts = [deal(LIBRARY, Shard(i, 4)) for i in range(1, 5)]
    assert set().union(*parts) == set(LIBRARY)
    assert sum(len(p) for p in parts) == len(LIBRARY)
    assert max(map(len, parts)) - min(map(len, parts)) <= 1


def test_a_shard_does_not_depend_on_collection_order_or_repeats():
    shuffled = list(reversed(LIBRARY)) + LIBRARY[:5]
    assert deal(shuffled, Shard(2, 3)) == deal(LIBRARY, Shard(2, 3))


def test_library_name_is_the_same_in_a_checkout_an_install_and_a_vm():
    names = {
        library_name(p)
        for p in (
            "/work/main/scenarios/network/host-network.yaml",
            "/usr/lib/python3/site-packages/seatrial/scenarios/network/host-network.yaml",
            "/vagrant/scenarios/network/host-network.yaml",
        )
    }
    assert names == {"network/host-network.yaml"}


@pytest.mark.parametrize(
    "text, message",
    [("0/3", "expected I/N"), ("4/3", "part 4 of 3 does not exist"), ("1-3", "expected I/N"), ("", "expected I/N")],
)
def test_bad_shards_say_the_form(text, message):
    with pytest.raises(ValueError, match=message):
        parse_shard(text)
    assert parse_shard(" 2/5 ") == Shard(2, 5)
