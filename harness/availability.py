"""Whether an engine still answers during a run.

An engine that stops answering midway (dockerd killed, a socket gone) must not turn its items
into skips ("capability not available") or failures ("expected exit code 0, got 1"): the items
did not run, so they are errors that say so, in one line. The run remembers which engines went
away, stops sending them work, and ends with exit code 3 and the reason in `run_end`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from seatrial.harness.selfcheck import Fitness


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


class EngineHealth:
    """Engines found gone during a run, each with the one-line reason."""

    def __init__(self) -> None:
        self.gone: dict[str, str] = {}
        self.fitness: dict[str, Fitness] = {}  # what seatrial.harness.selfcheck found, by engine

    def degraded(self) -> dict[str, str]:
        """Engines whose check found parts broken (but that can start containers), with the
        one-line summary of what."""
        return {
            name: fitness.summary()
            for name, fitness in self.fitness.items()
            if fitness.broken and name not in self.gone
        }

    def problems(self, engine, needed: list[str]) -> list[str]:
        """What the engine's check found broken among the parts an item needs (none when the
        engine was not checked)."""
        fitness = self.fitness.get(engine.name)
        return fitness.problems(needed) if fitness else []

    def reason(self, engine) -> str | None:
        """Why `engine` is known to be gone, or None while it is not."""
        return self.gone.get(engine.name)

    def mark(self, engine, reason: str) -> None:
        """Remember `engine` as gone for `reason` (one line)."""
        self.gone[engine.name] = _one_line(reason)

    def check(self, engine) -> str | None:
        """Ask the engine whether it answers (its `info()`); when it does not, remember it and
        return "engine 'NAME' became unavailable: WHY"."""
        if engine.name in self.gone:
            return self.gone[engine.name]
        try:
            info = engine.info()
        except Exception as exc:  # info() should not raise; an adapter that does is just as gone
            why = f"{type(exc).__name__}: {exc}"
        else:
            if info.is_available:
                return None
            why = info.unavailable_reason or "it does not answer"
        # The adapter's reason often starts with "engine 'NAME': "; say the name once.
        why = re.sub(rf"^engine '{re.escape(engine.name)}':\s*", "", _one_line(why))
        self.gone[engine.name] = f"engine '{engine.name}' became unavailable: {why}"
        return self.gone[engine.name]
