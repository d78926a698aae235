"""Step kinds: one class per YAML step key, registered by name (never imported from YAML)."""
from seatrial.harness.steps.stepkind import STEP_REGISTRY, StepOutcome, StepRunner
from seatrial.harness.steps import buildsteps, containersteps, measure, probe, resources, stack  # noqa: F401  (they register themselves)

__all__ = ["STEP_REGISTRY", "StepOutcome", "StepRunner"]
