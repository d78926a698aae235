"""What `seatrial run` shows: one progress line per item, then the scenario x engine matrix.

A pytest plugin that replaces pytest's terminal output for `seatrial run` only; `pytest
scenarios/` keeps pytest's own.
"""
from __future__ import annotations

import time

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from seatrial.outcome import ItemResult

STYLES = {"passed": "green", "failed": "bold red", "skipped": "yellow", "diverged": "magenta",
          "error": "bold red", "interrupted": "bold yellow"}
SYMBOLS = {"passed": "held", "failed": "FAILED", "skipped": "skipped", "diverged": "diverged", "error": "ERROR",
           "interrupted": "INTERRUPTED"}


class ConsoleReporter:
    def __init__(self, console: Console | None = None):
        self.console = console or Console(highlight=False, soft_wrap=True)
        self.total = 0
        self.done = 0
        self.collect_errors: list[str] = []
        self.interrupted = False
        self._started: dict[str, float] = {}

    def pytest_collectreport(self, report):
        if report.failed:
            self.collect_errors.append(str(report.longrepr))

    def pytest_collection_finish(self, session):
        self.total = len(session.items)
        for error in self.collect_errors:
            self.console.print(error, markup=False, style="red")
        if not self.collect_errors:
            self.console.print(f"seatrial: {self.total} items (scenario x engine)")

    def pytest_runtest_logstart(self, nodeid, location):
        self._started[nodeid] = time.monotonic()

    def pytest_runtest_logreport(self, report):
        if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
            self.done += 1
            item_name = report.nodeid.split("::")[-1]
            outcome = dict(report.user_properties).get("outcome") or report.outcome
            elapsed = time.monotonic() - self._started.get(report.nodeid, time.monotonic())
            style = STYLES.get(outcome, "")
            self.console.print(f"\\[{self.done}/{self.total}] {escape(item_name)} [{style}]{outcome}[/] ({elapsed:.1f}s)")
            if outcome in ("failed", "error") and report.longrepr:
                text = str(report.longrepr)
                self.console.print("    " + text.replace("\n", "\n    "), markup=False)

    def pytest_keyboard_interrupt(self, excinfo):
        # pytest reports collection errors and pytest.exit() as interrupts too; only a signal is one.
        import pytest
        if not isinstance(excinfo.value, (pytest.Session.Interrupted, pytest.exit.Exception)):
            self.interrupted = True

    def print_matrix(self, results: list[ItemResult], events_path=None) -> None:
        if not results:
            return
        engines = list(dict.fromkeys(r.engine for r in results))
        scenarios = list(dict.fromkeys(r.scenario for r in results))
        by_key = {(r.scenario, r.engine): r for r in results}
        table = Table(title="scenario x engine")
        table.add_column("scenario")
        for engine in engines:
            table.add_column(engine)
        for scenario in scenarios:
            cells = []
            for engine in engines:
                r = by_key.get((scenario, engine))
                cells.append("" if r is None else f"[{STYLES[r.outcome.value]}]{SYMBOLS[r.outcome.value]}[/]")
            table.add_row(escape(scenario), *cells)
        self.console.print(table)
        counts: dict[str, int] = {}
        for r in results:
            counts[r.outcome.value] = counts.get(r.outcome.value, 0) + 1
        self.console.print(", ".join(f"{n} {k}" for k, n in sorted(counts.items())))
        for r in results:
            if r.outcome.value in ("skipped", "diverged", "interrupted"):
                self.console.print(f"  {r.scenario} on {r.engine}: {r.outcome.value}: {r.reason}", markup=False)
        for r in results:
            for warning in r.warnings:  # an engine ignored part of what it was asked
                self.console.print(f"  {r.scenario} on {r.engine}: warning: {warning}", markup=False, style="yellow")
        if events_path:
            self.console.print(f"events: {events_path}", markup=False)
