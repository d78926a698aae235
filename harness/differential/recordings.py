"""Observations recorded from real engines, kept beside the corpus: `recorded/<section>.json`.

A recording holds, per case and engine, the observation (observation.py) and, per engine, the
version it came from, so that the reference runtime is checked against Docker without Docker.
`seatrial diff --record --engine docker --engine docker-buildkit` writes them again.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from seatrial.harness.differential.corpuscase import Case

RECORDED_SUFFIX = "@recorded"


def recording_path(case: Case, corpus_file: Path) -> Path:
    """Where the recording of the section holding `case` lives."""
    return corpus_file.parent / "recorded" / f"{case.section}.json"


def corpus_file(case: Case) -> Path:
    return Path(case.where.rsplit(":", 1)[0])


def read_recorded(cases: Iterable[Case]) -> dict[str, dict[str, Any]]:
    """{case name: {"docker@recorded": observation, ...}} for every case with a recording."""
    found: dict[str, dict[str, Any]] = {}
    cache: dict[Path, dict] = {}
    for case in cases:
        path = recording_path(case, corpus_file(case))
        if path not in cache:
            cache[path] = json.loads(path.read_text()) if path.is_file() else {"cases": {}}
        for engine, observation in (cache[path]["cases"].get(case.name) or {}).items():
            found.setdefault(case.name, {})[engine + RECORDED_SUFFIX] = observation
    return found


def recorded_engines(cases: Iterable[Case]) -> list[str]:
    """The engines recorded for these cases, in recording order (docker first, as written)."""
    names: list[str] = []
    for observations in read_recorded(cases).values():
        names += [n for n in observations if n not in names]
    return names


def write_recorded(
    cases: Iterable[Case], observations: Mapping[str, Mapping[str, Any]], versions: Mapping[str, str]
) -> list[Path]:
    """Merge the live observations of `cases` into their sections' recordings; return the files."""
    by_path: dict[Path, list[Case]] = {}
    for case in cases:
        by_path.setdefault(recording_path(case, corpus_file(case)), []).append(case)
    written = []
    for path, section in by_path.items():
        doc = json.loads(path.read_text()) if path.is_file() else {"engines": {}, "cases": {}}
        doc["engines"].update(versions)
        for case in section:
            doc["cases"].setdefault(case.name, {}).update(
                {name: obs for name, obs in observations.get(case.name, {}).items() if RECORDED_SUFFIX not in name}
            )
        doc["cases"] = dict(sorted(doc["cases"].items()))
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
        os.replace(temporary, path)
        written.append(path)
    return written
