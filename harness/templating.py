"""`{{ name }}` placeholders in scenario strings: the base image, scratch dirs, host facts and
values captured by earlier steps.

Deliberately not Jinja: a scenario is data, and the only thing a placeholder can do is name a
value the harness already has. An unknown name is an error naming it and what is known.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}")


class TemplateError(ValueError):
    pass


def render(text: str, lookup: Callable[[str], str | None]) -> str:
    """Replace each placeholder with lookup(name); raise TemplateError for unknown names."""

    def replace(match: re.Match) -> str:
        name = match.group(1)
        value = lookup(name)
        if value is None:
            raise TemplateError(f"unknown placeholder '{{{{ {name} }}}}'")
        return value

    return PLACEHOLDER.sub(replace, text)


def render_data(value: Any, lookup: Callable[[str], str | None]) -> Any:
    """Render every string inside lists and dicts (keys included)."""
    if isinstance(value, str):
        return render(value, lookup)
    if isinstance(value, list):
        return [render_data(v, lookup) for v in value]
    if isinstance(value, tuple):
        return tuple(render_data(v, lookup) for v in value)
    if isinstance(value, Mapping):
        return {render_data(k, lookup): render_data(v, lookup) for k, v in value.items()}
    return value


def placeholders(text: str) -> list[str]:
    return PLACEHOLDER.findall(text)
