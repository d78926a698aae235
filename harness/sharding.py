"""`--shard I/N`: one of N deterministic parts of a run, for a CI matrix of machines.

Whole scenarios are dealt out, not items: every engine's item of a scenario lands in the same
shard, so one machine sees each scenario on all its engines (a divergence compares runs on the
same host). Scenario files are sorted by their path relative to the run's root folder and dealt
round-robin, so the N shards of the same library on any machine are disjoint, cover it all, and
differ in size by at most one scenario. `seatrial report` merges the shards' results folders.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

SHARD = re.compile(r"^([1-9][0-9]*)/([1-9][0-9]*)$")


@dataclass(frozen=True)
class Shard:
    """Part `index` (1-based) of `total`."""

    index: int
    total: int

    def __str__(self) -> str:
        return f"{self.index}/{self.total}"


def parse_shard(text: str) -> Shard:
    """'2/4' as Shard(2, 4); anything else is a ValueError that says the form."""
    match = SHARD.match(text.strip())
    if not match:
        raise ValueError(f"--shard {text!r}: expected I/N with 1 <= I <= N, e.g. --shard 2/4")
    shard = Shard(int(match[1]), int(match[2]))
    if shard.index > shard.total:
        raise ValueError(f"--shard {text!r}: part {shard.index} of {shard.total} does not exist; I goes from 1 to N")
    return shard


def deal(files: list[str], shard: Shard) -> set[str]:
    """The scenario files (relative paths) that fall to `shard`: sorted, dealt round-robin."""
    return {name for position, name in enumerate(sorted(set(files))) if position % shard.total == shard.index - 1}


def pytest_addoption(parser):
    parser.getgroup("seatrial").addoption(
        "--shard",
        default=None,
        dest="seatrial_shard",
        metavar="I/N",
        help="run only part I of N of the collected scenarios (whole scenarios, every engine of each; "
        "deterministic: the N parts are disjoint and cover the library)",
    )


def pytest_configure(config):
    text = config.getoption("seatrial_shard", None)
    if text:
        try:
            config.stash[SHARD_KEY] = parse_shard(text)
        except ValueError as exc:
            raise pytest.UsageError(str(exc)) from None


SHARD_KEY = pytest.StashKey[Shard]()


def library_name(path) -> str:
    """A scenario's name within its library, the same wherever the library is (a checkout, the
    installed package, a VM): the path below the last folder named scenarios or benchmarks."""
    parts = Path(str(path)).parts
    for position in range(len(parts) - 1, -1, -1):
        if parts[position] in ("scenarios", "benchmarks"):
            return "/".join(parts[position + 1 :])
    return "/".join(parts)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    shard = config.stash.get(SHARD_KEY, None)
    if shard is None:
        return
    mine = deal([library_name(item.path) for item in items], shard)
    keep = [item for item in items if library_name(item.path) in mine]
    dropped = [item for item in items if library_name(item.path) not in mine]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep
