"""`seatrial engines`: every engine with where it stands here and what it lacks, and why."""
from __future__ import annotations

from typing import TextIO

from rich.console import Console
from rich.table import Table

from seatrial.engines.base import CAPABILITIES


def engines_json(engines, broken) -> str:
    """One object per engine: its info (versions, runtime, storage, cgroup, rootless), what it
    lacks and why; an engine that cannot load has status "cannot load" and the reason."""
    import dataclasses
    import json
    rows = []
    for engine in engines:
        info = engine.info()
        row = {**dataclasses.asdict(info), "extra": dict(info.extra),
               "status": "available" if info.is_available else "unavailable", "missing": {}}
        if info.is_available:
            caps = engine.capabilities()
            row["missing"] = {c: caps.reason(c) for c in CAPABILITIES if not caps.has(c)}
        rows.append(row)
    rows += [{"name": r.name, "status": "cannot load", "is_available": False, "unavailable_reason": r.load_error}
             for r in broken]
    return json.dumps(rows, indent=2) + "\n"


def print_engines(names: list[str] | None, out: TextIO, *, as_json: bool = False) -> int:
    """Exit 0 when at least one engine is available, 3 when none is (or a named one is not)."""
    import warnings

    from seatrial.engines.registry import describe, load_engines
    console = Console(file=out, highlight=False, width=140)
    broken = [r for r in describe() if r.load_error and (names is None or r.name in names)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the broken ones get a row of their own below
        engines = load_engines(names)
    if as_json:
        out.write(engines_json(engines, broken))
        infos = [e.info() for e in engines]
        available = sum(i.is_available for i in infos)
        return 3 if (names and available < len(engines)) or not available else 0
    table = Table(title="engines")
    # "rootful socket": where whoever can write is root on the host (claim C30); "-" for none.
    for column in ("engine", "status", "client", "server", "OCI runtime", "storage", "cgroup", "rootless",
                   "rootful socket"):
        table.add_column(column)
    missing_lines = []
    available = 0
    for engine in engines:
        info = engine.info()
        if not info.is_available:
            table.add_row(engine.name, "[red]unavailable[/]", "", "", "", "", "", "", "")
            missing_lines.append(f"{engine.name}: {info.unavailable_reason}")
            continue
        available += 1
        table.add_row(engine.name, "[green]available[/]", info.client_version, info.server_version,
                      info.oci_runtime, info.storage_driver, info.cgroup_version,
                      "yes" if info.is_rootless else "no", info.extra.get("rootful_socket") or "-")
        caps = engine.capabilities()
        for capability in CAPABILITIES:
            if not caps.has(capability):
                missing_lines.append(f"{engine.name}: lacks {capability}: {caps.reason(capability)}")
    for registered in broken:
        table.add_row(registered.name, "[red]cannot load[/]", "", "", "", "", "", "", "")
        missing_lines.append(registered.load_error)
    console.print(table)
    for line in missing_lines:
        console.print(line, markup=False)
    if names and available < len(engines):
        return 3
    return 0 if available else 3
