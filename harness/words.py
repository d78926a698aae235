"""Words in messages: counts and nouns that agree ('1 item', '2 items', '3 cache entries'), and
the word a misspelling meant."""

from __future__ import annotations

import difflib
import functools
from collections.abc import Iterable

IRREGULAR = {"entry": "entries"}


def plural(n: int, noun: str) -> str:
    """'1 item', '2 items', '2 cache entries': the noun's last word takes the plural."""
    if n == 1:
        return f"{n} {noun}"
    head, _, last = noun.rpartition(" ")
    return f"{n} {head + ' ' if head else ''}{IRREGULAR.get(last, last + 's')}"


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """The closest choice to a misspelt word, or None."""
    return _closest(word, tuple(choices))


@functools.lru_cache(maxsize=1024)  # a file of problems repeats the same misspelling
def _closest(word: str, choices: tuple[str, ...]) -> str | None:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return close[0] if close else None
