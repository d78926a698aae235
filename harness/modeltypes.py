"""The building blocks of the scenario format, shared by the scenario model, its expectations and
every step kind's body: a model that refuses unknown keys, and a scenario-local name.

A module of its own (small on purpose) so that the step kinds in harness/steps/ can use them
without importing the scenario model, which is built from their registry.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Name = Annotated[
    str,
    Field(
        pattern=r"^[a-z0-9][a-z0-9_.-]{0,62}$",
        description="A scenario-local name; the harness makes it unique per session",
    ),
]


class Strict(BaseModel):
    """A part of a scenario: frozen, and a misspelt key is an error, never silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)
