"""Step kinds: one module per kind or small family, each registering its kinds by name in
`STEP_KINDS` (never imported from YAML). The imports below are the order in which messages list
the kinds; a kind's module imports no module that comes after it."""
from seatrial.harness.steps.stepkind import STEP_KINDS, StepKind, StepOutcome, register, unregister
from seatrial.harness.steps import (buildsteps, containersteps, resources, poll, hostwrite, tag,  # noqa: F401
                                    probe, stack, measure)  # (they register themselves)

__all__ = ["STEP_KINDS", "StepKind", "StepOutcome", "register", "unregister"]
