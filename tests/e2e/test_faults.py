"""Proof that the checks can fail: each scenario against an engine broken in its claim's way.

For every fault of tests/faults/faulty.py, the scenario for the broken claim runs on the real
Docker engine wrapped by FaultyEngine and must fail, with the failing item naming the claim;
the same scenario on the honest engine must pass (or be diverged, as documented).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from faults.faulty import FAULTS, FaultyEngine

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def docker_available() -> bool:
    from seatrial.engines.docker import DockerEngine

    return DockerEngine().info().is_available


pytestmark = [pytest.mark.root, pytest.mark.skipif(not docker_available(), reason="docker is not available here")]


@pytest.fixture(scope="module")
def run_state(tmp_path_factory):
    from seatrial.engines.docker import DockerEngine
    from seatrial.harness.runstate import RunState

    state = RunState(engines=[DockerEngine()], results_dir=tmp_path_factory.mktemp("results"))
    state.start()
    yield state
    state.finish()
    assert not state.leaks, f"the fault runs left resources behind: {state.leaks}"


def run(state, engine, path: Path):
    """One item through the real runner; its outcome, and the claims its events name."""
    from seatrial.harness.itemcontext import ItemContext
    from seatrial.harness.loader import load_scenario
    from seatrial.harness.runner import run_item

    scenario = load_scenario(path)
    ctx = ItemContext(
        engine=engine,
        session=state.session,
        scenario=scenario,
        index=state.next_index(),
        base_image=state.base_image,
        facts=state.facts,
    )
    state.events.write("item_start", scenario=scenario.name, engine=engine.name, claims=list(scenario.claims))
    result = run_item(ctx, state.events)
    state.record(result)
    return result, scenario.claims


def scenario_path(fault) -> Path:
    path = SCENARIOS / fault.scenario
    if not path.is_file():
        pytest.skip(f"{fault.scenario} is not in this checkout")
    return path


@pytest.mark.parametrize("fault", FAULTS.values(), ids=list(FAULTS))
def test_scenario_fails_on_an_engine_broken_in_its_claim(run_state, fault):
    path = scenario_path(fault)
    honest = run_state.engines[0]
    result, claims = run(run_state, FaultyEngine(honest, fault.name), path)
    assert result.outcome.value == "failed", (
        f"{fault.name} ({fault.description}) was not caught: {result.outcome.value} {result.reason}"
    )
    assert fault.claim in claims, f"{path.name} does not name {fault.claim}"


@pytest.mark.parametrize("scenario", sorted({f.scenario for f in FAULTS.values()}))
def test_same_scenario_holds_on_the_honest_engine(run_state, scenario):
    path = SCENARIOS / scenario
    if not path.is_file():
        pytest.skip(f"{scenario} is not in this checkout")
    result, _ = run(run_state, run_state.engines[0], path)
    assert result.outcome.value in ("passed", "diverged"), result.reason
