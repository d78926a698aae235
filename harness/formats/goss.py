"""goss files (placeholder until the evaluator lands)."""
from __future__ import annotations

RESOURCE_TYPES = ("file", "command", "user", "group", "process", "port", "mount", "kernel-param", "dns",
                  "http", "package", "service", "addr", "interface", "matching", "gossfile")


def is_goss(data) -> bool:
    """Whether parsed YAML is a goss file: a mapping whose keys are all goss resource types."""
    return isinstance(data, dict) and bool(data) and all(k in RESOURCE_TYPES for k in data)


def goss_scenarios(path, doc, source) -> list:
    raise NotImplementedError
