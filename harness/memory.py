"""Memory an engine takes per container: proportional set size (PSS) of its processes.

Host MemAvailable could not resolve a container's cost (page cache, other load and the kernel's
own reclaim move it by more than a container takes: Podman's came out negative at 20). PSS
(`Pss:` of /proc/PID/smaps_rollup, proc(5)) charges each page to the processes that map it in equal
shares, so a page that 1,000 shims share counts once in the sum, and the sum over a set of
processes is what that set costs. A density round takes two snapshots, before its containers start
and while all of them are up, each the PSS of:

- the engine's daemons (dockerd and containerd; Podman has none; the reference runtime's are the
  harness process itself, where its adapter and bookkeeping live, and its zygote);
- per container, its shim (the parent of its main process: containerd-shim, conmon, or the
  reference runtime's shim) and its own processes (the main process and its descendants), found
  from the main pid that the engine's `inspect` reports.

Per container: (daemons after - daemons before + shims + containers) / N, and the runtime's part
without the containers' own processes. Other work on a shared machine still moves the daemons'
share (another run's containers in the same dockerd): the figure is indicative of the daemons
and exact for the shims and containers.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from seatrial.engines.base import Engine
from seatrial.engines.records import ResourceRef
from seatrial.harness.itemcontext import StepError

DAEMON_NAMES = {"docker": ("dockerd", "containerd"), "podman": ()}  # by engine family (name's first word)
ZYGOTE_MARK = b"seatrial.engines.reference.zygote"


@dataclass(frozen=True)
class Footprint:
    """PSS bytes of one snapshot: the engine's daemons, the containers' shims, their processes."""

    daemons: int
    shims: int = 0
    containers: int = 0


def pss(pid: int, proc: Path = Path("/proc")) -> int:
    """PSS of one process in bytes; 0 when it is gone or the kernel shows no rollup (a kernel thread)."""
    try:
        text = (proc / str(pid) / "smaps_rollup").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return 0
    for line in text.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) * 1024
    return 0


def process_table(proc: Path = Path("/proc")) -> dict[int, tuple[int, str, bytes]]:
    """pid -> (ppid, comm, cmdline) for every process now, from /proc/PID/stat and cmdline."""
    table = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except (FileNotFoundError, ProcessLookupError):
            continue
        # comm is in parentheses and may hold spaces or parentheses: split at the last ')'.
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        table[int(entry.name)] = (int(stat[stat.rindex(")") + 2 :].split()[1]), comm, cmdline)
    return table


def daemon_pids(engine_name: str, table: dict[int, tuple[int, str, bytes]], harness_pid: int) -> list[int]:
    """The engine's long-lived processes: by command name, or for the reference runtime (which
    runs inside the harness) the harness process and its zygote."""
    if engine_name == "reference":
        # Shims are forks of the zygote and share its command line: the zygote is the harness's child.
        return [harness_pid] + [p for p, (ppid, _, cmd) in table.items() if ZYGOTE_MARK in cmd and ppid == harness_pid]
    names = DAEMON_NAMES.get(engine_name.split("-")[0])
    if names is None:
        raise StepError(
            f"memory: engine {engine_name!r} has no known daemons; "
            f"known: {', '.join(sorted(DAEMON_NAMES))}, reference (add it to DAEMON_NAMES in {__file__})"
        )
    return [p for p, (_, comm, _) in table.items() if comm in names]


def descendants(roots: Iterable[int], table: dict[int, tuple[int, str, bytes]]) -> set[int]:
    """The roots and every process below them."""
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = set(), [r for r in roots if r in table]
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, []))
    return found


def main_pids(engine: Engine, containers: list[ResourceRef]) -> list[int]:
    """Each container's main process on the host, as the engine's `inspect` reports it; a few at
    a time, since a CLI engine answers one inspect in tens of milliseconds."""

    def one(ref: ResourceRef) -> int | None:
        # By id: a lookup by name may scan every container (the reference runtime's does).
        pid = engine.inspect(ResourceRef(ref.kind, ref.id) if ref.id else ref).get("pid")
        return int(pid) if pid else None

    with ThreadPoolExecutor(max_workers=4) as pool:
        return [p for p in pool.map(one, containers) if p]


def footprint(engine: Engine, containers: list[ResourceRef], harness_pid: int | None = None) -> Footprint:
    """One snapshot of the engine's daemons and, when given, these containers' shims and processes."""
    table = process_table()
    daemons = sum(pss(p) for p in daemon_pids(engine.name, table, harness_pid or os.getpid()))
    if not containers:
        return Footprint(daemons)
    mains = main_pids(engine, containers)
    table = process_table()  # after the inspects: what the containers run now
    inside = descendants(mains, table)
    shims = {table[p][0] for p in mains if p in table} - inside
    return Footprint(daemons, sum(pss(p) for p in shims), sum(pss(p) for p in inside))
