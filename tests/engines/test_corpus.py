"""The differential corpus on live engines: the reference runtime against what Docker recorded
(no Docker needed), and live Docker against its own recordings where Docker runs here (the
recordings are still what this Docker does).

Each case is one test: it fails on a divergence that the case does not document; a documented
one passes, and a reason given where the engines now agree is reported as a warning (remove it).
SEATRIAL_CORPUS_LIVE=all checks every case on live Docker (about 10 minutes); by default a
sample of one case per section.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import pytest

from seatrial.engines.discovery import load_engines
from seatrial.harness.differential import recordings
from seatrial.harness.differential.corpuscase import load_cases
from seatrial.harness.differential.divergence import judge
from seatrial.harness.differential.livebench import run_live

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
CASES = load_cases([CORPUS])
RECORDED = recordings.read_recorded(CASES)
SAMPLE = {c.name: c for c in CASES[::-1]}  # the first case of each section, for the live check
SAMPLE = list({c.section: c for c in SAMPLE.values()}.values())


def _observed(engine: str, cases) -> dict:
    loaded = load_engines([engine])
    if os.geteuid() != 0 or not loaded or not loaded[0].info().is_available:
        pytest.skip(f"engine {engine!r} is not available here (the reference runtime needs root)")
    found = {c.name: dict(RECORDED.get(c.name, {})) for c in cases}
    log = io.StringIO()
    if run_live(cases, [engine], found, {}, log):
        pytest.fail(log.getvalue())
    return found


@pytest.fixture(scope="module")
def reference_observations():
    return _observed("reference", CASES)


@pytest.fixture(scope="module")
def docker_observations():
    live = CASES if os.environ.get("SEATRIAL_CORPUS_LIVE") == "all" else SAMPLE
    return _observed("docker", live)


def _check(case, left: str, right: str, observations: dict) -> None:
    result = judge(case, left, right, observations[case.name])
    if result.verdict == "stale":
        warnings.warn(
            f"{case.where}: {case.name}: {right} now agrees with {left}; remove its `diverges` reason", stacklevel=1
        )
    assert result.verdict != "diverged", (
        f"{case.where}: {case.name}: {right} differs from {left} and the case says nothing about it:\n"
        + "\n".join(f"  {d.aspect}: {left}: {d.left!r}; {right}: {d.right!r}" for d in result.differences[:10])
    )


@pytest.mark.root
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_reference_agrees_with_recorded_docker(case, reference_observations):
    _check(case, "docker@recorded", "reference", reference_observations)


@pytest.mark.root
@pytest.mark.parametrize(
    "case", SAMPLE if os.environ.get("SEATRIAL_CORPUS_LIVE") != "all" else CASES, ids=lambda c: c.name
)
def test_live_docker_still_matches_its_recording(case, docker_observations):
    result = judge(case, "docker@recorded", "docker", docker_observations[case.name])
    assert not result.differences, (
        f"{case.where}: live Docker no longer does what was recorded; re-record (tests/corpus/README.md):\n"
        + "\n".join(f"  {d.aspect}: {d.left!r} -> {d.right!r}" for d in result.differences[:10])
    )
