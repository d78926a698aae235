"""`seatrial import cst|goss FILE`: the seatrial scenario that runs what a CST or goss file checks,
written out so that users can grow from there (add engines' divergences, steps of their own).

One scenario holds every test, in file order, each step noting which test it comes from; the
steps that every test shares (the image's build, the goss service container) appear once. As a
scenario a failing test hides only the steps that use what it made (harness/dependence.py), so
it reports each failing test too, as `seatrial run FILE` does.
"""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

import yaml

from seatrial.harness.formats.imagesource import ImageSource
from seatrial.harness.problem import ScenarioError


def imported(kind: str, path: Path, options: ImageSource) -> dict:
    """The scenario data for the file at `path` (a CST config or a goss file)."""
    from seatrial.harness.formats.foreign import load_scenarios

    scenarios = load_scenarios(path, options)
    steps: list[dict] = []
    for scenario in scenarios:
        test = scenario.name.split("/", 1)[1]
        for index, step in enumerate(scenario.steps):
            data = step.model_dump(exclude_defaults=True, mode="json")
            shared = "expect" not in data and "capture" not in data
            if shared and any(_same(data, earlier) for earlier in steps):
                continue
            data["note"] = (
                f"{kind} test '{test}' ({scenario.step_place(index)})" if not shared else data.get("note", "")
            )
            steps.append({k: v for k, v in data.items() if v != ""})
    tags = ["cst"] if kind == "cst" else ["goss"]
    return {
        "schema_version": 1,
        "summary": f"What {path.name} checks ({kind}), as one seatrial scenario",
        "tags": tags,
        "requires": ["exec"],
        "steps": steps,
    }


class _BlockDumper(yaml.SafeDumper):
    """Multi-line strings (a Dockerfile, a script) as literal blocks, as a person writes them."""


def _text(dumper: yaml.SafeDumper, value: str):
    style = (
        "|"
        if "\n" in value.rstrip("\n")
        and not any(c in value for c in "\t\r")
        and all(line == line.rstrip() for line in value.splitlines())
        else None
    )
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _text)


def _same(step: dict, earlier: dict) -> bool:
    return {k: v for k, v in step.items() if k != "note"} == {k: v for k, v in earlier.items() if k != "note"}


def import_command(kind: str, file: str, options: ImageSource, output: str | None, out: TextIO) -> int:
    """Write the scenario to `output` (or print it); 0, or 2 with every problem of the file."""
    try:
        data = imported(kind, Path(file), options)
    except ScenarioError as exc:
        print(exc, file=out)
        return 2
    text = (
        "# yaml-language-server: $schema=https://seatrial.invalid/schema.json\n"
        f"# Imported from {file} by `seatrial import {kind}`.\n"
        + yaml.dump(data, Dumper=_BlockDumper, sort_keys=False, width=110, allow_unicode=True)
    )
    if output:
        Path(output).write_text(text)
        print(f"wrote {output}: {len(data['steps'])} steps", file=out)
    else:
        out.write(text)
    return 0
