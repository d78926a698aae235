"""The claims table: per claim (docs/claims.md) and per engine, whether it held, read from events.

Reports read only saved results, never the runner's objects: the table is made from
events.jsonl records (`item_start` names a scenario's claims, `item_end` its outcome), so any
report (terminal, HTML, Markdown) can show the same table. Several runs merge; for the same
scenario on the same engine the later record wins.

A claim's cell on one engine sums up every scenario naming it: one failure makes it failed,
then an error (e.g. an inconclusive control), then an interrupted scenario (stopped by a signal)
or an incomplete one (started, never ended: a killed run), then a documented divergence; it held
when every scenario that ran passed; skipped when none could run. Benchmark claims (C04-C06) are never
pass/fail: they show "benchmark" until samples (`sample` records of a benchmark scenario naming
them) exist for the engine, then "measured".
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field

from seatrial.harness.claimcatalog import CLAIMS
from seatrial.harness.words import plural

BENCHMARK_CLAIMS = ("C04", "C05", "C06")


class Status(str, enum.Enum):
    HELD = "held"
    FAILED = "failed"
    ERROR = "error"
    INTERRUPTED = "interrupted"  # a signal stopped a scenario of the claim: no verdict
    INCOMPLETE = "incomplete"  # the run ended (killed) before a scenario of the claim did
    DIVERGED = "diverged"
    SKIPPED = "skipped"
    NOT_CHECKED = "not checked"
    BENCHMARK = "benchmark"
    MEASURED = "measured"


# Which item outcome decides a cell, most telling first.
_PRECEDENCE = (
    ("failed", Status.FAILED),
    ("error", Status.ERROR),
    ("interrupted", Status.INTERRUPTED),
    ("incomplete", Status.INCOMPLETE),
    ("diverged", Status.DIVERGED),
    ("passed", Status.HELD),
    ("skipped", Status.SKIPPED),
)


@dataclass(frozen=True)
class Cell:
    """One claim on one engine: the status, why (for anything but held), and the scenarios behind it."""

    status: Status
    reason: str = ""
    scenarios: tuple[str, ...] = ()


@dataclass(frozen=True)
class Row:
    claim: str
    title: str
    cells: dict[str, Cell] = field(default_factory=dict)


@dataclass(frozen=True)
class ClaimsTable:
    engines: tuple[str, ...]
    rows: tuple[Row, ...]
    # Claim C30: the socket through which each engine gives root on the host ("" for none).
    rootful_sockets: dict[str, str] = field(default_factory=dict)

    def sockets_line(self) -> str:
        return "C30 rootful sockets: " + "; ".join(
            f"{e} {self.rootful_sockets[e] or 'none'}" for e in self.engines if e in self.rootful_sockets
        )

    def cell(self, claim: str, engine: str) -> Cell:
        return next(r for r in self.rows if r.claim == claim).cells[engine]


def claims_table(records: Iterable[dict]) -> ClaimsTable:
    """The table from events records (of one run or several, in order)."""
    engines: list[str] = []
    claims_of: dict[str, tuple[str, ...]] = {}
    outcomes: dict[tuple[str, str], tuple[str, str]] = {}  # (scenario, engine) -> (outcome, reason)
    samples: dict[tuple[str, str], int] = {}  # (scenario, engine) -> benchmark samples recorded
    sockets: dict[str, str] = {}
    for record in records:
        kind = record.get("type")
        if kind == "run_start":
            for engine in record.get("engines", []):
                if engine.get("name") not in engines:
                    engines.append(engine["name"])
                if "rootful_socket" in (engine.get("extra") or {}):
                    sockets[engine["name"]] = engine["extra"]["rootful_socket"]
        elif kind == "item_start":
            claims_of[record["scenario"]] = tuple(record.get("claims", ()))
            if "engine" in record:  # until its item_end: a run killed here never held anything
                outcomes[(record["scenario"], record["engine"])] = ("incomplete", "the run ended before this item did")
        elif kind == "item_end":
            outcomes[(record["scenario"], record["engine"])] = (record["outcome"], record.get("reason") or "")
            if record["engine"] not in engines:
                engines.append(record["engine"])
        elif kind == "sample":
            key = (record.get("scenario", ""), record.get("engine", ""))
            samples[key] = samples.get(key, 0) + 1
    rows = []
    for claim, title in CLAIMS.items():
        cells = {}
        for engine in engines:
            if claim in BENCHMARK_CLAIMS:
                count = sum(
                    n for (scenario, on), n in samples.items() if on == engine and claim in claims_of.get(scenario, ())
                )
                cells[engine] = Cell(Status.MEASURED, plural(count, "sample")) if count else Cell(Status.BENCHMARK)
                continue
            items = [
                (scenario, *outcomes[(scenario, engine)])
                for scenario, claims in claims_of.items()
                if claim in claims and (scenario, engine) in outcomes
            ]
            cells[engine] = _cell(items)
        rows.append(Row(claim, title, cells))
    return ClaimsTable(tuple(engines), tuple(rows), sockets)


def _cell(items: list[tuple[str, str, str]]) -> Cell:
    if not items:
        return Cell(Status.NOT_CHECKED)
    for outcome, status in _PRECEDENCE:
        deciding = [(s, r) for s, o, r in items if o == outcome]
        if deciding:
            if status is Status.HELD:
                return Cell(status, "", tuple(s for s, o, _ in items if o == "passed"))
            reason = "; ".join(f"{s}: {r}" if r else s for s, r in deciding)
            return Cell(status, reason, tuple(s for s, _ in deciding))
    return Cell(Status.ERROR, "unknown outcomes: " + ", ".join(o for _, o, _ in items))


def to_markdown(table: ClaimsTable) -> str:
    """The table as GitHub Markdown, reasons as footnotes under it."""
    lines = ["| claim | " + " | ".join(table.engines) + " |", "|---" * (len(table.engines) + 1) + "|"]
    notes = []
    for row in table.rows:
        marks = []
        for engine in table.engines:
            cell = row.cells[engine]
            if cell.reason and cell.status not in (Status.HELD, Status.MEASURED):
                notes.append(f"{row.claim} on {engine} ({cell.status.value}): {cell.reason}")
                marks.append(f"{cell.status.value} [{len(notes)}]")
            else:
                marks.append(cell.status.value)
        lines.append(f"| {row.claim} {row.title} | " + " | ".join(marks) + " |")
    sockets = [table.sockets_line()] if table.rootful_sockets else []
    return "\n".join(lines + [""] + [f"{i}. {n}" for i, n in enumerate(notes, 1)] + sockets) + "\n"


def to_json(table: ClaimsTable) -> str:
    """The table as JSON: engines, then per claim its title and per engine status, reason, scenarios."""
    import json

    return (
        json.dumps(
            {
                "engines": list(table.engines),
                "rootful_sockets": dict(table.rootful_sockets),
                "claims": [
                    {
                        "claim": row.claim,
                        "title": row.title,
                        "cells": {
                            e: {"status": c.status.value, "reason": c.reason, "scenarios": list(c.scenarios)}
                            for e, c in row.cells.items()
                        },
                    }
                    for row in table.rows
                ],
            },
            indent=2,
        )
        + "\n"
    )


STYLES = {
    Status.HELD: "green",
    Status.FAILED: "bold red",
    Status.ERROR: "red",
    Status.DIVERGED: "yellow",
    Status.INTERRUPTED: "bold yellow",
    Status.INCOMPLETE: "bold yellow",
    Status.SKIPPED: "dim",
    Status.NOT_CHECKED: "dim",
    Status.BENCHMARK: "cyan",
    Status.MEASURED: "cyan",
}


def print_table(table: ClaimsTable, out) -> None:
    """The table for a terminal (rich), then every reason that is not a plain "held"."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(file=out, width=max(100, 70 + 18 * len(table.engines)))
    grid = Table(title="claims x engine")
    grid.add_column("claim", no_wrap=True)
    for engine in table.engines:
        grid.add_column(engine, no_wrap=True)
    for row in table.rows:
        grid.add_row(
            escape(f"{row.claim} {row.title[:60]}"),
            *(f"[{STYLES[c.status]}]{c.status.value}[/]" for c in (row.cells[e] for e in table.engines)),
        )
    console.print(grid)
    if table.rootful_sockets:
        console.print(table.sockets_line(), markup=False)
    for row in table.rows:
        for engine in table.engines:
            cell = row.cells[engine]
            if cell.reason and cell.status not in (Status.HELD, Status.MEASURED):
                console.print(f"{row.claim} on {engine}: {cell.status.value}: {cell.reason}", markup=False)
