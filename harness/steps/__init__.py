"""Step kinds: one module per kind or small family, each registering its kinds by name in
`STEP_KINDS` (the key is the kind's own `kind`, never a string imported from YAML).

Every module of this folder is imported here: the built-in ones in the order that messages have
always listed the kinds (a module imports no kind module after it), then any other, by name, so
a new kind is one new file."""

import importlib
import pkgutil

from seatrial.harness.steps.stepkind import STEP_KINDS, StepKind, StepOutcome, register, unregister

_BUILT_IN = ("buildsteps", "containersteps", "resources", "poll", "hostwrite", "tag", "probe", "stack", "measure")


def _import_kind_modules() -> None:
    others = sorted({m.name for m in pkgutil.iter_modules(__path__)} - set(_BUILT_IN))
    for name in (*_BUILT_IN, *others):
        importlib.import_module(f"{__name__}.{name}")


_import_kind_modules()

__all__ = ["STEP_KINDS", "StepKind", "StepOutcome", "register", "unregister"]
