""".dockerignore as Docker 20.10 applies it: which context paths a build can see.

Pure Python; no kernel facility. The project's own code, written from Docker 20.10's
builder/dockerignore (reading), pkg/fileutils (matching) and pkg/archive (the context walk), and
checked against the real engine case by case (tests/unit/reference/test_dockerignore_rules.py).
The Docker SDK for Python's matcher (docker.utils.build, 7.1.0) agrees with Docker on 16 of those
21 cases: it folds case (`b.*` hides `B.txt`), takes `+` and `\\` literally, reads `[!a]` as a
negation, and `**/dir` misses a `dir` at the top. Docker's rules, as measured:

- a line starting with `#` is a comment; blanks around a pattern are dropped; the pattern is
  cleaned like Go's filepath.Clean (`./a`, `a/`, `a/b/../c`) and a leading `/` removed;
- `!` makes an exception; the LAST pattern that matches decides;
- a pattern becomes a regular expression: `*` any run of non-`/`, `?` one non-`/`, `**` any
  number of folders (also none), `\\` escapes the next character, `.` and `$` literal, and every
  other character passes into the expression as it is -- so `a+b` matches `aab` and `[!a]` means
  "`!` or `a`", as in Docker 20.10 (Go regexp syntax; Python's `re` agrees on these);
- a pattern also matches a path whose leading folders it matches (`dir` hides `dir/x`);
- a folder that matches is left out with everything in it, unless an exception pattern names a
  path below it textually (`!dir/sub/y.txt` keeps `dir` open), as the context walk does.
"""

from __future__ import annotations

import posixpath
import re
from functools import lru_cache
from pathlib import Path


class IgnoreError(ValueError):
    """A .dockerignore pattern Docker refuses (`!` alone, an unclosed `[`)."""


def read_patterns(text: str) -> list[str]:
    """The patterns of a .dockerignore file, cleaned as Docker's reader cleans them."""
    patterns = []
    for number, line in enumerate(text.splitlines(), start=1):
        if number == 1:
            line = line.removeprefix("\ufeff")
        if line.startswith("#"):
            continue
        pattern = line.strip()
        if not pattern:
            continue
        is_exception = pattern.startswith("!")
        if is_exception:
            pattern = pattern[1:].strip()
        if pattern:
            pattern = posixpath.normpath(pattern)
            if len(pattern) > 1 and pattern.startswith("/"):
                pattern = pattern.lstrip("/") or "/"  # normpath keeps `//`; Go's Clean does not
        patterns.append("!" + pattern if is_exception else pattern)
    return patterns


def _regex(pattern: str) -> re.Pattern:
    out, i = "^", 0
    while i < len(pattern):
        ch = pattern[i]
        i += 1
        if ch == "*":
            if i < len(pattern) and pattern[i] == "*":
                i += 1
                if i < len(pattern) and pattern[i] == "/":
                    i += 1
                out += ".*" if i >= len(pattern) else "(.*/)?"
            else:
                out += "[^/]*"
        elif ch == "?":
            out += "[^/]"
        elif ch in ".$":
            out += "\\" + ch
        elif ch == "\\":
            out += "\\" + pattern[i] if i < len(pattern) else "\\\\"
            i += 1
        else:
            out += ch
    try:
        return re.compile(out + "$", re.DOTALL)
    except re.error as exc:
        raise IgnoreError(f"syntax error in pattern {pattern!r}: {exc}") from None


class Ignore:
    """The compiled patterns of one context; `excludes(rel)` says whether a path is left out."""

    def __init__(self, patterns: list[str]):
        self.patterns: list[tuple[bool, re.Pattern, int, str]] = []
        for raw in patterns:
            pattern = posixpath.normpath(raw.strip()) if raw.strip() else ""
            if not pattern:
                continue
            is_exception = pattern.startswith("!")
            if is_exception:
                pattern = pattern[1:]
                if not pattern:
                    raise IgnoreError('illegal exclusion pattern: "!"')
            if pattern.count("[") > pattern.count("]"):
                raise IgnoreError(f"syntax error in pattern {pattern!r}")
            self.patterns.append((is_exception, _regex(pattern), pattern.count("/") + 1, pattern))
        self.exceptions = [p for is_exc, _, _, p in self.patterns if is_exc]
        self.excludes = lru_cache(maxsize=4096)(self._excludes)

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def matches(self, rel: str) -> bool:
        """Docker's PatternMatcher.Matches: the last pattern matching the path (or its leading
        folders) decides."""
        matched = False
        parent = posixpath.dirname(rel)
        parent_dirs = parent.split("/") if parent else []
        for is_exception, regex, dirs, _ in self.patterns:
            hit = bool(regex.match(rel))
            if not hit and parent and dirs <= len(parent_dirs):
                hit = bool(regex.match("/".join(parent_dirs[:dirs])))
            if hit:
                matched = not is_exception
        return matched

    def _skips_folder(self, rel: str) -> bool:
        return self.matches(rel) and not any((p + "/").startswith(rel + "/") for p in self.exceptions)

    def _excludes(self, rel: str, is_dir: bool = False) -> bool:
        """Whether `rel` (relative to the context, `/`-separated) is out of the build's reach."""
        if not self.patterns or rel in ("", "."):
            return False
        parts = rel.split("/")
        for depth in range(1, len(parts)):
            if self._skips_folder("/".join(parts[:depth])):
                return True
        return self._skips_folder(rel) if is_dir else self.matches(rel)


def load(context: Path) -> Ignore:
    """The context's .dockerignore, compiled (empty when there is none)."""
    try:
        text = (Path(context) / ".dockerignore").read_text()
    except FileNotFoundError:
        return Ignore([])
    return Ignore(read_patterns(text))
