"""Numbers as people read them: three significant figures, the unit once, intervals beside.

One place for every renderer (HTML, Markdown, terminal, compare), so a median reads the same
everywhere: 301 ms, 12.3 ms, 2.45 s, 4.20 MiB, and a ratio 0.0523 (0.0498–0.0551), never 0.05.
"""

from __future__ import annotations

import math

SIGNIFICANT = 3


def sig(value: float, digits: int = SIGNIFICANT) -> str:
    """`value` to `digits` significant figures, without exponent notation: 0.0523, 1.00, 301, 12300."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    decimals = digits - 1 - math.floor(math.log10(abs(value)))
    rounded = round(value, decimals)
    if rounded and math.floor(math.log10(abs(rounded))) > math.floor(math.log10(abs(value))):
        decimals -= 1  # 9.996 rounds to 10.0, which has one decimal fewer at three figures
    return f"{rounded:.{max(decimals, 0)}f}"


def scale(unit: str, reference: float) -> tuple[float, str]:
    """Factor and display unit for values of `unit` around `reference`: seconds below 1 s in ms."""
    if unit == "s":
        return (1000.0, "ms") if abs(reference) < 1 else (1.0, "s")
    if unit == "bytes":
        return (1 / 2**20, "MiB") if abs(reference) >= 2**20 else (1 / 2**10, "KiB")
    return 1.0, unit


def num(value, unit: str = "") -> str:
    """One value with its unit: '301 ms', '2.45 s', '4.20 MiB', '0.0523'."""
    if value is None:
        return ""
    factor, shown = scale(unit, value)
    return f"{sig(value * factor)} {shown}".rstrip()


def interval(estimate, low, high, unit: str = "") -> str:
    """'301 (290–310) ms': the interval in the estimate's unit, the unit once."""
    if estimate is None:
        return ""
    factor, shown = scale(unit, estimate)
    return f"{sig(estimate * factor)} ({sig(low * factor)}–{sig(high * factor)}) {shown}".rstrip()


def ratio(estimate, low, high) -> str:
    """'0.0523 (0.0498–0.0551)'; empty when there is no ratio (the baseline itself)."""
    return "" if estimate is None else f"{sig(estimate)} ({sig(low)}–{sig(high)})"
