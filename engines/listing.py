"""`seatrial engines`: every engine with where it stands here and what it lacks, and why."""

from __future__ import annotations

from typing import TextIO

from rich.console import Console
from rich.table import Table

from seatrial.engines.base import CAPABILITIES


def engines_json(engines, broken, fitness: dict) -> str:
    """One object per engine: its info (versions, runtime, storage, cgroup, rootless), its status
    (available, degraded, unavailable; from the functional check when it ran), what is broken and
    what it lacks and why; an engine that cannot load has status "cannot load" and the reason."""
    import dataclasses
    import json

    rows = []
    for engine in engines:
        info = engine.info()
        found = fitness.get(engine.name)
        status = found.status if found else ("available" if info.is_available else "unavailable")
        row = {
            **dataclasses.asdict(info),
            "extra": dict(info.extra),
            "status": status,
            "broken": dict(found.broken) if found else {},
            "missing": {},
        }
        if info.is_available:
            caps = engine.capabilities()
            row["missing"] = {c: caps.reason(c) for c in CAPABILITIES if not caps.has(c)}
        rows.append(row)
    rows += [
        {"name": r.name, "status": "cannot load", "is_available": False, "unavailable_reason": r.load_error}
        for r in broken
    ]
    return json.dumps(rows, indent=2) + "\n"


def print_engines(names: list[str] | None, out: TextIO, *, check: bool = True, as_json: bool = False) -> int:
    """Exit 0 when at least one engine is available, 3 when none is (or a named one is not, or
    is degraded). With `check`, each available engine also gets the functional check that a run
    makes before its items (seatrial.harness.selfcheck): "degraded" names what is broken and why."""
    import warnings

    from seatrial.engines.discovery import describe, load_engines

    console = Console(file=out, highlight=False, width=140)
    broken = [r for r in describe() if r.load_error and (names is None or r.name in names)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the broken ones get a row of their own below
        engines = load_engines(names)
    fitness = _functional_checks([e for e in engines if e.info().is_available]) if check else {}
    if as_json:
        out.write(engines_json(engines, broken, fitness))
        usable = [
            e
            for e in engines
            if e.info().is_available and (e.name not in fitness or fitness[e.name].status == "available")
        ]
        return 3 if (names and len(usable) < len(engines)) or not usable else 0
    table = Table(title="engines")
    # "rootful socket": where whoever can write is root on the host (claim C30); "-" for none.
    for column in (
        "engine",
        "status",
        "client",
        "server",
        "OCI runtime",
        "storage",
        "cgroup",
        "rootless",
        "rootful socket",
    ):
        table.add_column(column)
    missing_lines = []
    available = 0
    for engine in engines:
        info = engine.info()
        if not info.is_available:
            table.add_row(engine.name, "[red]unavailable[/]", "", "", "", "", "", "", "")
            missing_lines.append(f"{engine.name}: {info.unavailable_reason}")
            continue
        found = fitness.get(engine.name)
        status = found.status if found else "available"
        if found and found.broken:
            missing_lines += [f"{engine.name}: {problem}" for problem in found.problems(list(found.broken))]
        if status == "unavailable":
            table.add_row(
                engine.name, "[red]unavailable[/]", info.client_version, info.server_version, "", "", "", "", ""
            )
            continue
        available += status == "available"
        colour = "green" if status == "available" else "yellow"
        table.add_row(
            engine.name,
            f"[{colour}]{status}[/]",
            info.client_version,
            info.server_version,
            info.oci_runtime,
            info.storage_driver,
            info.cgroup_version,
            "yes" if info.is_rootless else "no",
            info.extra.get("rootful_socket") or "-",
        )
        caps = engine.capabilities()
        for capability in CAPABILITIES:
            if not caps.has(capability):
                missing_lines.append(f"{engine.name}: lacks {capability}: {caps.reason(capability)}")
    for registered in broken:
        table.add_row(registered.name, "[red]cannot load[/]", "", "", "", "", "", "", "")
        missing_lines.append(registered.load_error)
    console.print(table)
    if not check:
        console.print("(functional checks skipped: --quick; `available` means the engine answers)", markup=False)
    for line in missing_lines:
        console.print(line, markup=False)
    if names and available < len(engines):
        return 3
    return 0 if available else 3


def _functional_checks(engines: list) -> dict:
    """Each engine's selfcheck, under a session of its own (its lock keeps other runs' reapers
    off what the checks make; everything is removed before it ends)."""
    from seatrial.engines.base import ENGINE_LABEL, SESSION_LABEL
    from seatrial.harness.baseimage import base_archive, ensure_loaded
    from seatrial.harness.selfcheck import RUN, Fitness, check_engine
    from seatrial.harness.session import Session

    if not engines:
        return {}
    session = Session.start()
    try:
        archive = base_archive()
        found = {}
        for engine in engines:
            try:
                image = ensure_loaded(engine, archive)
            except Exception as exc:
                found[engine.name] = Fitness(engine.name, {RUN: f"loading the base image failed: {exc}"})
                continue
            found[engine.name] = check_engine(engine, image, {SESSION_LABEL: session.id, ENGINE_LABEL: engine.name})
        return found
    finally:
        session.close()
