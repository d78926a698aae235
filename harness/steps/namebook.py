"""The names that steps make, use and remove, followed in step order when a scenario is loaded.

Each step kind notes its own names here (`StepKind.check_names`); harness/references.py walks the
steps and reads what is left: a use of a name that no earlier step made is a finding, with the
step that removed it or the closest name made so far. The book also keeps, per step, the names it
made and used (`links`): the runner reads them to tell which steps a failed step hides
(harness/dependence.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from seatrial.harness.problem import KeyPath
from seatrial.harness.words import did_you_mean

Finding = tuple[KeyPath, str]
# A name as the dependence rule sees it: (noun, name), e.g. ("container", "web"), ("capture", "stamp").
Ref = tuple[str, str]


@dataclass
class Links:
    """The names one step made and the names it used (removing a name is using it)."""

    makes: set[Ref] = field(default_factory=set)
    uses: set[Ref] = field(default_factory=set)


@dataclass
class Made:
    """Names of one kind made so far, each with the step that made it; removed ones remember who
    removed them."""

    noun: str
    maker: str
    live: dict[str, int] = field(default_factory=dict)
    removed: dict[str, int] = field(default_factory=dict)
    # After a step the schema refused, a name it made may be missing here: "not made" would be noise.
    is_uncertain: bool = False

    def make(self, name: Any, step: int, path: KeyPath, out: list[Finding]) -> None:
        if not isinstance(name, str):
            return
        if name in self.live and self.noun != "image":  # building a tag again is a rebuild
            out.append((path, f"{self.noun} name '{name}' is already used by steps[{self.live[name]}]"))
        self.live[name] = step
        self.removed.pop(name, None)

    def use(self, name: Any, path: KeyPath, out: list[Finding], hint: str = "") -> None:
        if not isinstance(name, str) or name in self.live:
            return
        if name in self.removed:
            out.append((path, f"{self.noun} '{name}' was removed by steps[{self.removed[name]}]"))
            return
        if self.is_uncertain:
            return
        close = did_you_mean(name, self.live)
        suggestion = f" (did you mean '{close}'?)" if close else ""
        out.append((path, f"{self.noun} '{name}' is not made by an earlier {self.maker}{suggestion}{hint}"))

    def remove(self, name: Any, step: int, path: KeyPath, out: list[Finding]) -> None:
        self.use(name, path, out)
        if isinstance(name, str) and name in self.live:
            del self.live[name]
            self.removed[name] = step


@dataclass
class NameBook:
    """What the steps so far made (containers, images, networks, volumes, published ports), the
    step being checked, and the findings."""

    step: int = 0
    out: list[Finding] = field(default_factory=list)
    ports: set[str] = field(default_factory=set)  # "CONTAINER.PORT" published so far
    links: dict[int, Links] = field(default_factory=dict)  # step -> what it made and used
    made: dict[str, Made] = field(
        default_factory=lambda: {
            "container": Made("container", "run step with a name"),
            "image": Made("image", "build step"),
            "network": Made("network", "network step"),
            "volume": Made("volume", "volume step"),
        }
    )

    def make(self, noun: str, name: Any, path: KeyPath) -> None:
        """The step makes `name` (a second make of a live name is a finding, except images)."""
        self.made[noun].make(name, self.step, path, self.out)
        self.note_make(noun, name)

    def use(self, noun: str, name: Any, path: KeyPath, hint: str = "") -> None:
        """The step uses `name`: an earlier step must have made it."""
        self.made[noun].use(name, path, self.out, hint)
        self.note_use(noun, name)

    def remove(self, noun: str, name: Any, path: KeyPath) -> None:
        """The step removes `name`: a later use says which step removed it."""
        self.made[noun].remove(name, self.step, path, self.out)
        self.note_use(noun, name)

    def note_make(self, noun: str, name: Any) -> None:
        """Record that the step makes `name`, without a check (captures, published ports)."""
        if isinstance(name, str):
            self.links.setdefault(self.step, Links()).makes.add((noun, name))

    def note_use(self, noun: str, name: Any) -> None:
        """Record that the step uses `name`, without a check (placeholders, user networks)."""
        if isinstance(name, str):
            self.links.setdefault(self.step, Links()).uses.add((noun, name))

    def live(self, noun: str) -> dict[str, int]:
        """The names of `noun` made and not removed, each with the step that made it."""
        return self.made[noun].live

    @property
    def is_uncertain(self) -> bool:
        """An earlier step was refused by the schema: what it made is not known for sure."""
        return self.made["container"].is_uncertain

    @is_uncertain.setter
    def is_uncertain(self, value: bool) -> None:
        for made in self.made.values():
            made.is_uncertain = value

    def report(self, path: KeyPath, message: str) -> None:
        """A finding of the step's own."""
        self.out.append((path, message))
