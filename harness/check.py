"""A check: what one expectation expected, what was seen, and whether they agree.

A check is data, so the runner, the events log and the reports all show the same "expected X,
got Y" without deriving it again. Every kind of expectation (expectations.py, inspectcheck.py,
pathexpect.py, confighas.py) returns these.
"""

from __future__ import annotations

from dataclasses import dataclass

EXCERPT = 300


@dataclass(frozen=True)
class Check:
    step: int  # 0-based, as divergences and events count; messages count from 1
    what: str  # e.g. "stdout equals", "cache hit [2] RUN make"
    expected: str
    actual: str
    ok: bool
    where: str = ""  # the step's kind and place, e.g. "exec, scenarios/x.yaml:23"

    @property
    def message(self) -> str:
        """`step 5 (exec, scenarios/x.yaml:23): stdout equals: expected ..., got ...`: the step
        as its author counts it, and where it is written."""
        label = f"step {self.step + 1}" + (f" ({self.where})" if self.where else "")
        return f"{label}: {self.what}: expected {self.expected}, got {self.actual}"


def excerpt(text: str) -> str:
    """A value as repr() shows it, cut to EXCERPT characters: messages stay readable."""
    text = repr(text)
    return text if len(text) <= EXCERPT else text[:EXCERPT] + "...'"
