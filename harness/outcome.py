"""The outcomes of an item (scenario x engine) and how checks turn into one.

An item starts with no verdict: only checks that ran to the end make it `passed`. A signal
(Ctrl-C, SIGTERM) that stops an item makes it `interrupted`, never a pass or a fail.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from seatrial.harness.check import Check
from seatrial.harness.model import Scenario

INCONCLUSIVE = "inconclusive: a positive control failed, so the probe cannot tell the difference: "


class Outcome(str, enum.Enum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"  # a capability the engine lacks, decided before any side effect
    DIVERGED = "diverged"  # failed where the scenario documents an expected difference
    ERROR = "error"  # the harness or the engine broke
    INTERRUPTED = "interrupted"  # a signal stopped the item before it had a verdict


class ItemInterrupted(KeyboardInterrupt):
    """A signal stopped an item; carries its `interrupted` results (one per engine of a
    benchmark) so that the run records them before the interrupt goes on up (pytest then ends
    the run as interrupted)."""

    def __init__(self, *results: ItemResult):
        super().__init__("; ".join(r.reason for r in results))
        self.results = results


@dataclass
class ItemResult:
    scenario: str
    engine: str
    outcome: Outcome
    reason: str = ""
    checks: list[Check] = field(default_factory=list)
    duration: float = 0.0
    warnings: list[str] = field(default_factory=list)  # what engines said they ignored, per step
    hidden: list[str] = field(default_factory=list)  # steps a failure kept from running, and why

    @property
    def failed_checks(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]


def divergence_reason(scenario: Scenario, engine: str, failed: list[Check], *, named_only: bool = False) -> str | None:
    """The documented reason when every failed check falls under a divergence for this engine
    (with `named_only`, only a divergence that lists the steps by number counts)."""
    adapter = engine.partition("@")[0]  # `podman@vm1` is Podman: its documented differences hold there too
    for divergence in scenario.divergences:
        if divergence.engine != adapter or (named_only and divergence.steps is None):
            continue
        if divergence.steps is None or all(c.step in divergence.steps for c in failed):
            return divergence.reason
    return None


def _names_step(scenario: Scenario, engine: str, step: int) -> bool:
    """Whether a divergence of this engine lists `step` by number: only that covers a control,
    when the engine documents why the control itself cannot work there."""
    adapter = engine.partition("@")[0]
    return any(d.engine == adapter and d.steps is not None and step in d.steps for d in scenario.divergences)


def decide(scenario: Scenario, engine: str, checks: list[Check]) -> tuple[Outcome, str]:
    failed = [c for c in checks if not c.ok]
    if not failed:
        return Outcome.PASSED, ""
    controls = [
        c
        for c in failed
        if 0 <= c.step < len(scenario.steps)
        and scenario.steps[c.step].control
        and not _names_step(scenario, engine, c.step)
    ]
    if controls:
        # The probe could not see the difference it exists to see: no verdict either way.
        return Outcome.ERROR, INCONCLUSIVE + "; ".join(c.message for c in controls)
    reason = divergence_reason(scenario, engine, failed)
    if reason is not None:
        return Outcome.DIVERGED, reason
    return Outcome.FAILED, "; ".join(c.message for c in failed)
