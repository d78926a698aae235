"""Durations as Go's time.ParseDuration reads them (`1m30s`, `500ms`, `2h`): Docker's and
Podman's HEALTHCHECK flags, and the durations a scenario may write where inspect shows
nanoseconds. Pure Python; no kernel facility."""

from __future__ import annotations

import re

UNITS = {"ns": 1, "us": 10**3, "µs": 10**3, "μs": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_duration(text: str) -> int:
    """Nanoseconds of `text`; ValueError when it is not a duration ("0" alone is one, as in Go)."""
    sign, body = (-1, text[1:]) if text.startswith("-") else (1, text.lstrip("+"))
    if body == "0":
        return 0
    parts = _PART.findall(body)
    if not body or "".join(n + u for n, u in parts) != body:
        # Go's words: a number without a unit, a unit it does not know, or neither
        if re.fullmatch(r"[0-9.]+", body):
            raise ValueError(f'time: missing unit in duration "{text}"')
        unit = re.fullmatch(r"(?:[0-9.]+[a-zµμ]+)*?[0-9.]+([a-zµμ]+)[0-9.a-zµμ]*", body)
        if unit and unit.group(1) not in UNITS:
            raise ValueError(f'time: unknown unit "{unit.group(1)}" in duration "{text}"')
        raise ValueError(f'time: invalid duration "{text}"')
    return sign * round(sum(float(n) * UNITS[u] for n, u in parts))
