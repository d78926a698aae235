"""`expect.inspect.config_has` and `config_lacks`: what an image's config must include or must not,
leaving the rest alone (`config` compares whole values).

These are container-structure-test's metadata semantics: each variable or label named is
present and its value matches a regular expression (searched, as Go's MatchString does); each
port or volume named is among the image's (a port without a protocol, "80", is any of 80/tcp
and 80/udp, since CST compares port numbers only).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from seatrial.harness.check import Check


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ConfigHas(_Frozen):
    """Keys of the image's config that must include these entries; Docker's names."""

    Env: dict[str, str] = Field(default_factory=dict, description="Variable -> regular expression its value matches")
    Labels: dict[str, str] = Field(default_factory=dict, description="Label -> regular expression its value matches")
    ExposedPorts: list[str] = Field(default_factory=list, description='e.g. "80" (any protocol) or "53/udp"')
    Volumes: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _valid(self):
        for pattern in (*self.Env.values(), *self.Labels.values()):
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{pattern!r} is not a valid regular expression: {exc}") from None
        if not (self.Env or self.Labels or self.ExposedPorts or self.Volumes):
            raise ValueError("give at least one of Env, Labels, ExposedPorts, Volumes")
        return self


class ConfigLacks(_Frozen):
    """Variables, ports and volumes the image's config must not have."""

    Env: list[str] = Field(default_factory=list, description="Variables that are not set")
    ExposedPorts: list[str] = Field(default_factory=list, description='e.g. "22" (any protocol) or "22/tcp"')
    Volumes: list[str] = Field(default_factory=list)


def _port_in(port: str, exposed) -> bool:
    return any(p == port or p.split("/")[0] == port for p in exposed or ())


def has_checks(step: int, label: str, has: ConfigHas | None, lacks: ConfigLacks | None, config: dict[str, Any]) -> list:
    """One check per entry named, each saying what the image has instead."""

    checks = []
    env = dict(item.split("=", 1) for item in config.get("Env") or () if "=" in item)
    labels = config.get("Labels") or {}
    for key, values in (("Env", env), ("Labels", labels)):
        for name, pattern in (getattr(has, key) if has else {}).items():
            value = values.get(name)
            checks.append(
                Check(
                    step,
                    f"{label} config {key} {name}",
                    f"a value matching {pattern!r}",
                    "absent" if value is None else repr(value),
                    value is not None and re.search(pattern, value) is not None,
                )
            )
    exposed, volumes = config.get("ExposedPorts") or [], config.get("Volumes") or []
    for port in has.ExposedPorts if has else ():
        checks.append(
            Check(step, f"{label} config exposes {port}", "exposed", repr(sorted(exposed)), _port_in(port, exposed))
        )
    for volume in has.Volumes if has else ():
        checks.append(
            Check(step, f"{label} config volume {volume}", "declared", repr(sorted(volumes)), volume in volumes)
        )
    for name in lacks.Env if lacks else ():
        checks.append(
            Check(
                step,
                f"{label} config Env {name}",
                "not set",
                "absent" if name not in env else repr(env[name]),
                name not in env,
            )
        )
    for port in lacks.ExposedPorts if lacks else ():
        checks.append(
            Check(
                step,
                f"{label} config exposes {port}",
                "not exposed",
                repr(sorted(exposed)),
                not _port_in(port, exposed),
            )
        )
    for volume in lacks.Volumes if lacks else ():
        checks.append(
            Check(step, f"{label} config volume {volume}", "not declared", repr(sorted(volumes)), volume not in volumes)
        )
    return checks
