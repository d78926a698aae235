"""A differential case: a Dockerfile, its context files and a probe, read from a corpus file.

A corpus file (`tests/corpus/<section>.yaml`) holds the cases of one section of Docker's
reference. Each case may say where an engine is known to differ from Docker's classic builder
(`diverges: {engine: reason}`): a divergence with a reason is documented, one without is a finding.
Bad input is reported as `file:line:col: key.path: message`, every problem at once.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seatrial.harness.problem import Problem, ScenarioError
from seatrial.harness.templating import render
from seatrial.harness.yamlsafe import load_yaml

CASE_KEYS = {"name", "doc", "summary", "dockerfile", "files", "probe", "build_args", "target", "diverges"}
PROBE_KEYS = {"command", "entrypoint", "env", "user", "workdir"}
FILE_KEYS = {"content", "mode", "symlink", "dir"}
# Beside the cases: what an engine does differently on every case it touches (divergence.judge).
ENGINE_RULES = "engines.yaml"


@dataclass(frozen=True)
class Probe:
    """What to run in a container of the built image (None: the image's own ENTRYPOINT/CMD)."""

    command: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    user: str | None = None
    workdir: str | None = None


@dataclass(frozen=True)
class Case:
    """One corpus case; `where` is `file:line` for messages."""

    name: str
    section: str
    dockerfile: str
    files: Mapping[str, Any] = field(default_factory=dict)
    probe: Probe | None = None
    build_args: Mapping[str, str] = field(default_factory=dict)
    target: str | None = None
    diverges: Mapping[str, str] = field(default_factory=dict)
    doc: str = ""
    summary: str = ""
    where: str = ""

    def reason(self, engine: str) -> str:
        """Why `engine` (a recorded column `docker@recorded` counts as `docker`) differs here."""
        return self.diverges.get(engine.split("@")[0], "")

    def write_context(self, folder: Path, base: str) -> None:
        """Write the Dockerfile (with `{{ base }}` filled in) and the context files into `folder`."""
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "Dockerfile").write_text(render(self.dockerfile, lambda n: base if n == "base" else None))
        for name, spec in self.files.items():
            path = folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            spec = spec if isinstance(spec, dict) else {"content": spec}
            if "symlink" in spec:
                os.symlink(spec["symlink"], path)
                continue
            if spec.get("dir"):
                path.mkdir(exist_ok=True)
            else:
                path.write_text(spec.get("content", ""))
            if "mode" in spec:
                os.chmod(path, int(str(spec["mode"]), 8))


def load_cases(paths: list[Path]) -> list[Case]:
    """Every case in the corpus files and folders `paths`, in file order; ScenarioError lists
    every problem found (unknown keys, a missing Dockerfile, duplicate names)."""
    files = sorted(
        p for path in paths for p in ([path] if path.is_file() else path.rglob("*.yaml")) if p.name != ENGINE_RULES
    )
    cases: list[Case] = []
    problems: list[Problem] = []
    seen: dict[str, str] = {}  # case name -> file:line
    for file in files:
        try:
            document = load_yaml(file)
        except ScenarioError as exc:
            problems += exc.problems
            continue
        data = document.data if isinstance(document.data, dict) else {}
        section = file.stem
        for index, raw in enumerate(data.get("cases") or []):
            key = ("cases", index)
            line, _col = document.position(key)
            found = _problems(raw, key)
            name = raw.get("name") if isinstance(raw, dict) else None
            if name in seen:
                found.append((key + ("name",), f"case {name!r} is also at {seen[name]}; names are unique"))
            elif name is not None:
                seen[name] = f"{file}:{line}"
            problems += [Problem(str(file), *document.key_position(k), k, m) for k, m in found]
            if not found:
                cases.append(_case(raw, section, f"{file}:{line}"))
    if problems:
        raise ScenarioError(problems)
    return cases


def load_engine_rules(paths: list[Path]) -> dict[str, list[dict]]:
    """{engine: [{aspects, reason}]} from the engines.yaml files in the corpus folders `paths`."""
    rules: dict[str, list[dict]] = {}
    for path in paths:
        file = (path if path.is_dir() else path.parent) / ENGINE_RULES
        if file.is_file():
            for engine, entries in (load_yaml(file).data or {}).items():
                rules.setdefault(engine, []).extend(entries)
    return rules


def _problems(raw: Any, key: tuple) -> list[tuple[tuple, str]]:
    if not isinstance(raw, dict):
        return [(key, "a case is a mapping with name, dockerfile and probe")]
    found = [
        (key + (k,), f"unknown key {k!r}; allowed: {', '.join(sorted(CASE_KEYS))}") for k in raw if k not in CASE_KEYS
    ]
    found += [(key, f"missing key {k!r}") for k in ("name", "dockerfile") if k not in raw]
    probe = raw.get("probe")
    if isinstance(probe, dict):
        found += [
            (key + ("probe", k), f"unknown key {k!r}; allowed: {', '.join(sorted(PROBE_KEYS))}")
            for k in probe
            if k not in PROBE_KEYS
        ]
    for name, spec in (raw.get("files") or {}).items():
        if isinstance(spec, dict):
            found += [
                (key + ("files", name, k), f"unknown key {k!r}; allowed: {', '.join(sorted(FILE_KEYS))}")
                for k in spec
                if k not in FILE_KEYS
            ]
    return found


def _case(raw: dict, section: str, where: str) -> Case:
    probe = raw.get("probe")
    if isinstance(probe, list):
        probe = {"command": probe}
    return Case(
        name=raw["name"],
        section=section,
        dockerfile=raw["dockerfile"],
        files=dict(raw.get("files") or {}),
        probe=None
        if probe is None
        else Probe(
            command=_argv(probe.get("command")),
            entrypoint=_argv(probe.get("entrypoint")),
            env={str(k): str(v) for k, v in (probe.get("env") or {}).items()},
            user=probe.get("user"),
            workdir=probe.get("workdir"),
        ),
        build_args={str(k): str(v) for k, v in (raw.get("build_args") or {}).items()},
        target=raw.get("target"),
        diverges=dict(raw.get("diverges") or {}),
        doc=raw.get("doc", ""),
        summary=raw.get("summary", ""),
        where=where,
    )


def _argv(value) -> tuple[str, ...] | None:
    return None if value is None else tuple(str(v) for v in value)
