"""Which steps a failed step hides: the later steps that use, directly or through another hidden
step, a name the failed step made.

An item used to stop at its first failed step, so one failure hid every check after it, and an
author fixed a scenario one failure per run. Now a failed step marks the names it made
(containers, images, networks, volumes, published ports, captures) as failed; a later step that
uses one of them does not run (its result would only repeat the first failure) and what it makes
is marked in turn; every other step runs and its checks count. A step that makes a marked name
again and holds clears the mark (a rebuild after a failed build). The names each step makes and
uses are the ones `seatrial validate` follows (harness/references.py, `NameBook.links`).

What names cannot show is not followed: a `host_write` file a later bind mount reads, or the
state a failed `stop` left a container in (the container's own later steps use its name, so
they are hidden only when the step that made it failed).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from seatrial.harness.references import walk_steps
from seatrial.harness.steps.namebook import Links, Ref


@dataclass(frozen=True)
class Hidden:
    """A step that did not run: it uses `ref`, which failed step `cause` made (0-based steps)."""

    step: int
    cause: int
    ref: Ref

    @property
    def message(self) -> str:
        """`step 5 did not run: it uses container 'web', made by step 3, which failed` (from 1)."""
        return (
            f"step {self.step + 1} did not run: it uses {self.ref[0]} '{self.ref[1]}', "
            f"made by step {self.cause + 1}, which failed"
        )


@dataclass
class Dependence:
    """The names each step makes and uses, and which of them a failed step made so far."""

    links: dict[int, Links]
    failed: dict[Ref, int] = field(default_factory=dict)  # name -> the failed step behind it

    @classmethod
    def of_steps(cls, steps: list) -> Dependence:
        """From raw step mappings, as YAML gives them (or as a model dumps them)."""
        return cls(walk_steps(steps).links)

    def hidden(self, index: int) -> Hidden | None:
        """Why step `index` must not run (a name it uses came from a failed step), or None."""
        uses = self.links.get(index, Links()).uses
        for ref in sorted(uses):
            if ref in self.failed:
                return Hidden(index, self.failed[ref], ref)
        return None

    def record(self, index: int, *, has_failed: bool, cause: int | None = None) -> None:
        """After step `index`: the names it made carry its failure (or `cause`'s, for a hidden
        step) or, when it held, are good again."""
        for ref in self.links.get(index, Links()).makes:
            if has_failed:
                self.failed[ref] = index if cause is None else cause
            else:
                self.failed.pop(ref, None)
