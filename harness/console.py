"""What `seatrial run` shows: one progress line per item, then the scenario x engine matrix.

A pytest plugin that replaces pytest's terminal output for `seatrial run` only; `pytest
scenarios/` keeps pytest's own.
"""

from __future__ import annotations

import json
import time

import pytest
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from seatrial.harness.outcome import ItemResult
from seatrial.harness.parallel import item_engines
from seatrial.harness.words import plural
from seatrial.reports.engineversions import engine_version, short_version

STYLES = {
    "passed": "green",
    "failed": "bold red",
    "skipped": "yellow",
    "diverged": "magenta",
    "error": "bold red",
    "interrupted": "bold yellow",
}
SYMBOLS = {
    "passed": "held",
    "failed": "FAILED",
    "skipped": "skipped",
    "diverged": "diverged",
    "error": "ERROR",
    "interrupted": "INTERRUPTED",
}


def counts_line(outcomes: list[str]) -> str:
    """'4 items: 3 held, 1 FAILED', with the words of the matrix (held, not passed)."""
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome] = counts.get(outcome, 0) + 1
    order = [o for o in SYMBOLS if o in counts] + sorted(o for o in counts if o not in SYMBOLS)
    return f"{plural(len(outcomes), 'item')}: " + ", ".join(f"{counts[o]} {SYMBOLS.get(o, o)}" for o in order)


def run_environment(events_path) -> tuple[str, dict[str, str]]:
    """The host name and each engine's version from the run's run_start record (the first line of
    its events file); nothing when there is no file or it does not start so."""
    if not events_path:
        return "", {}
    try:
        with open(events_path, encoding="utf-8") as stream:
            start = json.loads(stream.readline() or "{}")
    except (OSError, ValueError):
        return "", {}
    if start.get("type") != "run_start":
        return "", {}
    return start.get("host", {}).get("hostname", ""), {e.get("name"): engine_version(e) for e in start["engines"]}


class ConsoleReporter:
    """Progress lines and the matrix. Verbosity -1 (-q) prints no progress, 1 (-v) every reason."""

    def __init__(self, console: Console | None = None, verbosity: int = 0):
        self.console = console or Console(highlight=False, soft_wrap=True)
        self.verbosity = verbosity
        self.total = 0
        self.done = 0
        self.collect_errors: list[str] = []
        self.interrupted = False
        self._started: dict[str, float] = {}
        self._shown_errors = 0
        self._width: dict[str, int] = {}  # nodeid -> items it stands for (a benchmark: one per engine)

    def pytest_collectreport(self, report):
        # Every worker of a parallel run collects, and reports the same error.
        if report.failed and str(report.longrepr) not in self.collect_errors:
            self.collect_errors.append(str(report.longrepr))

    def pytest_collection_finish(self, session):
        # An item is a scenario on an engine; a benchmark is one pytest item over all its engines.
        self._collected({item.nodeid: len(getattr(item, "engines", None) or [None]) for item in session.items})

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node, ids):
        """A parallel run (`-n`): the controller collects nothing itself; every worker collects
        the same items, so the first to finish says what they are."""
        if not self._width:
            self._collected({nodeid: len(item_engines(nodeid)) or 1 for nodeid in ids})

    def _collected(self, widths: dict[str, int]) -> None:
        self._width = widths
        self.total = sum(self._width.values())
        self._show_collect_errors()
        if not self.collect_errors and self.verbosity >= 0:
            self.console.print(f"seatrial: {plural(self.total, 'item')} (scenario x engine)")

    def _show_collect_errors(self) -> None:
        for error in self.collect_errors[self._shown_errors :]:
            self.console.print(error, markup=False, style="red")
        self._shown_errors = len(self.collect_errors)

    def pytest_sessionfinish(self, session):
        # A parallel run whose workers could not collect never reaches _collected.
        self._show_collect_errors()

    def pytest_runtest_logstart(self, nodeid, location):
        self._started[nodeid] = time.monotonic()

    def pytest_runtest_logreport(self, report):
        if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
            self.done += self._width.get(report.nodeid, 1)
            item_name = report.nodeid.split("::")[-1]
            outcome = dict(report.user_properties).get("outcome") or report.outcome
            elapsed = time.monotonic() - self._started.get(report.nodeid, time.monotonic())
            style = STYLES.get(outcome, "")
            if self.verbosity >= 0:
                self.console.print(
                    f"\\[{self.done}/{self.total}] {escape(item_name)} "
                    f"[{style}]{SYMBOLS.get(outcome, outcome)}[/] ({elapsed:.1f}s)"
                )
            if (outcome in ("failed", "error") or self.verbosity > 0) and report.longrepr:
                text = str(report.longrepr)
                self.console.print("    " + text.replace("\n", "\n    "), markup=False)

    def pytest_keyboard_interrupt(self, excinfo):
        # pytest reports collection errors and pytest.exit() as interrupts too; only a signal is one.
        if not isinstance(excinfo.value, (pytest.Session.Interrupted, pytest.exit.Exception)):
            self.interrupted = True

    def print_matrix(self, results: list[ItemResult], events_path=None) -> None:
        if not results:
            return
        engines = list(dict.fromkeys(r.engine for r in results))
        scenarios = list(dict.fromkeys(r.scenario for r in results))
        by_key = {(r.scenario, r.engine): r for r in results}
        host, versions = run_environment(events_path)
        table = Table(title="scenario x engine" + (f" on {host}" if host else ""))
        table.add_column("scenario")
        for engine in engines:
            # Which version held or failed: results of two machines are told apart by it.
            version = short_version(versions.get(engine, ""))
            table.add_column(f"{engine} {version}" if version else engine)
        for scenario in scenarios:
            cells = []
            for engine in engines:
                r = by_key.get((scenario, engine))
                cells.append("" if r is None else f"[{STYLES[r.outcome.value]}]{SYMBOLS[r.outcome.value]}[/]")
            table.add_row(escape(scenario), *cells)
        self.console.print(table)
        self.console.print(counts_line([r.outcome.value for r in results]))
        for r in results:
            if r.outcome.value in ("skipped", "diverged", "interrupted"):
                self.console.print(f"  {r.scenario} on {r.engine}: {r.outcome.value}: {r.reason}", markup=False)
            elif self.verbosity > 0:  # -v: every item, how long it took; -vv: every check it made
                self.console.print(
                    f"  {r.scenario} on {r.engine}: {SYMBOLS[r.outcome.value]} "
                    f"({r.duration:.2f} s, {plural(len(r.checks), 'check')})",
                    markup=False,
                )
            if self.verbosity > 1:
                for check in r.checks:
                    self.console.print(f"    {'ok' if check.ok else 'FAILED'}: {check.message}", markup=False)
        for r in results:
            for warning in r.warnings:  # an engine ignored part of what it was asked
                self.console.print(f"  {r.scenario} on {r.engine}: warning: {warning}", markup=False, style="yellow")
        if events_path:
            self.console.print(f"events: {events_path}", markup=False)
