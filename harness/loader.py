"""Loading scenario files: safe YAML, the schema, and the checks the schema cannot express.

Every problem in a file is found in one pass, each with its place, so that an author fixes a
file once rather than once per error; `validate_command` does the same for many files and never
touches an engine.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from pydantic import ValidationError

from seatrial.harness.claimcatalog import CLAIMS
from seatrial.harness.model import Scenario
from seatrial.harness.problem import KeyPath, Problem, ScenarioError, sort_key
from seatrial.harness.references import check_references
from seatrial.harness.validation import problems_from_validation
from seatrial.harness.yamlsafe import YamlDocument, load_yaml

__all__ = ["Problem", "ScenarioError", "load_scenario", "check_file", "check_paths", "validate_command"]

SCENARIO_SUFFIXES = (".yaml", ".yml")
# Problems shown per file: past this, a file is broken wholesale and the count says enough.
MAX_PROBLEMS = 100
_CLAIM_ID = re.compile(r"^C[0-9]{2}$")


def load_scenario(path: str | os.PathLike) -> Scenario:
    """Load and check one scenario file; raise ScenarioError listing every problem in it.

    The returned scenario's `name` is the file stem when the file does not give one.
    """
    scenario, problems = check_file(path)
    if problems or scenario is None:
        raise ScenarioError(problems)
    return scenario


def check_file(path: str | os.PathLike) -> tuple[Scenario | None, list[Problem]]:
    """The scenario in one file (None when it has problems) and every problem found in it."""
    try:
        doc = load_yaml(path)
    except ScenarioError as exc:
        return None, exc.problems
    if not isinstance(doc.data, dict):
        got = "an empty file" if doc.data is None else f"a {type(doc.data).__name__.replace('str', 'string')}"
        return None, [
            Problem(
                doc.file,
                *doc.position(()),
                (),
                f"a scenario is a mapping with the keys schema_version, summary, claims and steps; got {got}",
            )
        ]
    problems: list[Problem] = []
    scenario = None
    omitted = 0
    try:
        scenario = Scenario.model_validate(doc.data, strict=True)  # strict: "no" is not False
    except ValidationError as exc:
        problems, omitted = problems_from_validation(exc, doc, Scenario, limit=MAX_PROBLEMS)
    schema_paths = {p.key_path for p in problems}
    broken_steps = frozenset(
        p.key_path[1]
        for p in problems
        if p.key_path[:1] == ("steps",) and len(p.key_path) > 1 and isinstance(p.key_path[1], int)
    )
    # A reference check on a value the schema already refused would only say the same thing twice.
    problems += [p for p in _file_checks(doc, Path(path).stem, broken_steps) if p.key_path not in schema_paths]
    problems.sort(key=sort_key)
    if len(problems) > MAX_PROBLEMS:
        omitted += len(problems) - MAX_PROBLEMS
        problems = problems[:MAX_PROBLEMS]
    if omitted:
        # No place: it sorts after the file's placed problems.
        problems.append(
            Problem(
                doc.file,
                0,
                0,
                (),
                f"... and {omitted} more problem{_s(omitted)} in this file (the first {MAX_PROBLEMS} are shown)",
                count=omitted,
            )
        )
    if problems or scenario is None:  # no problems: the model took the file
        return None, problems
    if scenario.name is None:
        scenario = scenario.model_copy(update={"name": Path(path).stem})
    scenario._file = str(path)
    scenario._step_lines = tuple(doc.position(("steps", i))[0] for i in range(len(scenario.steps)))
    return scenario, []


def _file_checks(doc: YamlDocument, stem: str, broken_steps: frozenset[int]) -> list[Problem]:
    findings: list[tuple[KeyPath, str]] = []
    name = doc.data.get("name")
    if isinstance(name, str) and name != stem:
        findings.append(
            (("name",), f"'{name}' must equal the file's stem '{stem}'; rename the file or change the name")
        )
    claims = doc.data.get("claims")
    for i, claim in enumerate(claims if isinstance(claims, list) else []):
        if isinstance(claim, str) and _CLAIM_ID.match(claim) and claim not in CLAIMS:
            # No did-you-mean: ids are numbers, and the nearest number is rarely the one meant.
            findings.append(
                (
                    ("claims", i),
                    f"unknown claim '{claim}'; claims are {min(CLAIMS)}..{max(CLAIMS)}, listed in docs/claims.md",
                )
            )
    findings += check_references(doc.data, broken_steps)
    return [Problem(doc.file, *doc.position(path), path, message) for path, message in findings]


def scenario_files(paths: Iterable[str | os.PathLike]) -> tuple[list[str], list[Problem]]:
    """The scenario files named by `paths` (folders walked for *.yaml and *.yml, none skipped),
    and a problem for each path that does not exist or is a folder without scenarios."""
    files: list[str] = []
    problems: list[Problem] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(str(p) for p in path.rglob("*") if p.suffix in SCENARIO_SUFFIXES and p.is_file())
            if not found:
                problems.append(Problem(str(raw), 0, 0, (), "no scenario files (*.yaml) in this folder"))
            files += found
        elif path.exists():
            files.append(str(raw))
        else:
            problems.append(Problem(str(raw), 0, 0, (), "no such file or folder"))
    return list(dict.fromkeys(files)), problems


def check_paths(paths: Iterable[str | os.PathLike]) -> list[Problem]:
    """Every problem in every scenario file under `paths`, sorted by file and place."""
    return _check_all(paths)[1]


def _check_all(paths: Iterable[str | os.PathLike]) -> tuple[list[str], list[Problem]]:
    from seatrial.harness.formats.foreign import foreign_problems

    files, problems = scenario_files(paths)
    for file in files:
        foreign = foreign_problems(file)  # a CST or goss file is checked as what it is
        problems += check_file(file)[1] if foreign is None else foreign
    return files, sorted(problems, key=sort_key)


def validate_command(paths: list[str], out: TextIO) -> int:
    """`seatrial validate`: print every problem, one per line, then a summary; 0 if none, else 2.

    Reads files only: no engine is looked up or started.
    """
    files, problems = _check_all(paths)
    for problem in problems:
        print(problem.format(), file=out)
    bad_files = len({p.file for p in problems})
    total = sum(p.count for p in problems)
    checked = f"{len(files)} scenario file{_s(len(files))} checked"
    if problems:
        print(f"{checked}: {total} problem{_s(total)} in {bad_files} file{_s(bad_files)}", file=out)
        return 2
    print(f"{checked}: no problems", file=out)
    return 0


def _s(count: int) -> str:
    return "" if count == 1 else "s"
