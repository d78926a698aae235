"""Counts and nouns that agree, in every message: '1 item', '2 items', '3 cache entries'."""
from __future__ import annotations

IRREGULAR = {"entry": "entries"}


def plural(n: int, noun: str) -> str:
    """'1 item', '2 items', '2 cache entries': the noun's last word takes the plural."""
    if n == 1:
        return f"{n} {noun}"
    head, _, last = noun.rpartition(" ")
    return f"{n} {head + ' ' if head else ''}{IRREGULAR.get(last, last + 's')}"
