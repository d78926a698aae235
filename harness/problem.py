"""A problem found in a scenario file, and how it is shown: `file:line:col: key.path: message`.

Shared by the YAML reader, the loader and the `validate` command so that every kind of bad input
reads the same way and sorts by where it is.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass

KeyPath = tuple[str | int, ...]

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def format_key_path(path: KeyPath) -> str:
    """`("steps", 2, "run", "network")` -> `steps[2].run.network`; odd keys are quoted in brackets
    (`files["app/main.py"]`) so that a dot in a key cannot be read as nesting."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_KEY.match(part):
            out += f".{part}" if out else part
        else:
            out += f"[{_quote(part)}]"
    return out


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one file. `line` and `col` are 1-based; 0 when there is no place
    (a missing file). Sort with `sort_key`: by file, then line, then column."""

    file: str
    line: int
    col: int
    key_path: KeyPath
    message: str
    count: int = 1  # more than one for the line that stands for problems left unshown

    def format(self) -> str:
        """The one-line form: `file:line:col: key.path: message` (parts without a value left out)."""
        where = self.file if not self.line else f"{self.file}:{self.line}:{self.col}"
        path = format_key_path(self.key_path)
        return f"{where}: {path}: {self.message}" if path else f"{where}: {self.message}"

    def __str__(self) -> str:
        return self.format()


def sort_key(problem: Problem) -> tuple:
    """Sort by file, then place (a problem without a place last); key paths mix str and int, so
    they are compared as text."""
    return (problem.file, problem.line or sys.maxsize, problem.col, format_key_path(problem.key_path), problem.message)


class ScenarioError(ValueError):
    """A scenario file cannot be used; `problems` lists every reason, each with its place."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems, key=sort_key)
        super().__init__("\n".join(p.format() for p in self.problems))
