"""One door for every test file `seatrial run` and pytest collect: a seatrial scenario, a
container-structure-test config or a goss file, told apart by their content, each giving the
scenarios to run (one per CST test or goss resource; one for a scenario file)."""

from __future__ import annotations

import os
from pathlib import Path

from seatrial.harness.formats.imagesource import ImageSource, from_header, merged
from seatrial.harness.problem import Problem, ScenarioError
from seatrial.harness.yamlsafe import load_yaml


def load_scenarios(path: str | os.PathLike, options: ImageSource | None = None) -> list:
    """The scenarios in one file; raise ScenarioError with every problem in it. `options` (from
    --image/--dockerfile/--context) say which image a CST or goss file tests."""
    from seatrial.harness.formats.cst import cst_scenarios
    from seatrial.harness.formats.cstmodel import is_cst, read_cst
    from seatrial.harness.loader import load_scenario

    options = options if options is not None else ImageSource()

    doc = load_yaml(path)
    if is_cst(doc.data):
        config, doc = read_cst(path, doc)
        return cst_scenarios(Path(path), config, doc, _source(path, options))
    from seatrial.harness.formats.goss import goss_scenarios, is_goss

    if is_goss(doc.data):
        return goss_scenarios(Path(path), doc, _source(path, options))
    return [load_scenario(path)]


def _source(path: str | os.PathLike, options: ImageSource) -> ImageSource:
    header, problems = from_header(Path(path), Path(path).read_text())
    if problems:
        raise ScenarioError(problems)
    return merged(options, header)


def foreign_problems(path: str | os.PathLike) -> list | None:
    """For `seatrial validate`: the problems of a CST or goss file (no image needed: a file
    without one is checked as if one were given), or None when the file is not one of those."""
    try:
        doc = load_yaml(path)
    except ScenarioError:
        return None  # the scenario loader reports an unreadable file in its own words
    from seatrial.harness.formats.cstmodel import is_cst
    from seatrial.harness.formats.goss import is_goss

    if not (is_cst(doc.data) or is_goss(doc.data)):
        return None
    try:
        load_scenarios(path, ImageSource(image="validate"))
    except ScenarioError as exc:
        return exc.problems
    except (OSError, ValueError) as exc:
        return [Problem(str(path), 0, 0, (), str(exc))]
    return []
