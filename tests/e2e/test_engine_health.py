"""A broken engine is blamed, not the claims: an engine that cannot start a container on a bridge
(rootless Podman without /dev/net/tun, say) makes the items that need a bridge errors naming the
engine and what to do, the items that do not need one still run, and the claims table shows no
failed claim. The engine is the real reference runtime with its bridge broken the way such an
engine breaks: the run fails before the container starts, with the engine's own message."""

from __future__ import annotations

from pathlib import Path

import pytest

from seatrial.engines.base import EngineError
from seatrial.engines.reference.adapter import ReferenceEngine
from seatrial.harness.outcome import Outcome

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
TUN_ERROR = 'exit code 126; stderr: \'Error: /usr/bin/slirp4netns failed: "open("/dev/net/tun"): Permission denied"\''

pytestmark = pytest.mark.root


class BridgeBrokenEngine:
    """The reference runtime, except that no container starts on a bridge network."""

    def __init__(self, inner):
        self.inner = inner
        self.name = inner.name

    def __getattr__(self, attribute):
        return getattr(self.inner, attribute)

    def run(self, spec):
        if spec.network not in ("none", "host"):
            raise EngineError(f"run of container {spec.name!r}", TUN_ERROR, exit_code=126)
        return self.inner.run(spec)


@pytest.fixture
def run_state(tmp_path):
    from seatrial.harness.runstate import RunState

    engine = BridgeBrokenEngine(ReferenceEngine(tmp_path / "state"))
    state = RunState(engines=[engine], results_dir=tmp_path / "results", log=lambda _: None)
    state.start()
    yield state, engine
    state.finish()
    engine.inner.reap(session=state.session.id)
    assert not state.leaks


NO_NETWORK = """\
schema_version: 1
summary: Needs no bridge.
claims: [C01]
steps:
  - run: {image: "{{ base }}", network: none, command: [uname, -r]}
    expect: {stdout: {equals: "{{ host_kernel }}\\n"}}
"""


def run(state, engine, path: Path):
    from seatrial.harness.itemcontext import ItemContext
    from seatrial.harness.loader import load_scenario
    from seatrial.harness.runner import run_item

    scenario = load_scenario(path)
    state.check_engine(engine)
    ctx = ItemContext(
        engine=engine,
        session=state.session,
        scenario=scenario,
        index=state.next_index(),
        base_image=state.base_image,
        facts=state.facts,
    )
    state.events.write("item_start", scenario=scenario.name, engine=engine.name, claims=list(scenario.claims))
    result = run_item(ctx, state.events, health=state.health)
    state.record(result)
    return result


def test_check_finds_the_broken_bridge_and_nothing_else(run_state):
    state, engine = run_state
    state.check_engine(engine)
    fitness = state.health.fitness["reference"]
    assert fitness.status == "degraded"
    assert set(fitness.broken) == {"network.bridge", "network.user_defined"}
    assert "/dev/net/tun" in fitness.broken["network.bridge"]
    assert state.health.degraded() and not state.health.gone


def test_items_that_need_the_bridge_are_errors_that_blame_the_engine(run_state, tmp_path):
    state, engine = run_state
    bridged = run(state, engine, SCENARIOS / "network/default-bridge.yaml")
    assert bridged.outcome is Outcome.ERROR
    assert bridged.reason.startswith("engine 'reference' cannot start a container on the default bridge here: ")
    assert "/dev/net/tun" in bridged.reason and "vagrant/provision.sh" in bridged.reason
    assert bridged.checks == []  # judged on nothing: no step ran
    (tmp_path / "no-bridge.yaml").write_text(NO_NETWORK)
    isolated = run(state, engine, tmp_path / "no-bridge.yaml")
    assert isolated.outcome is Outcome.PASSED, isolated.reason  # needs no bridge: still judged


def test_the_claims_table_shows_no_failed_claim_for_a_broken_engine(run_state):
    from seatrial.reports.claimstable import claims_table
    from seatrial.reports.eventfiles import read_records

    state, engine = run_state
    run(state, engine, SCENARIOS / "network/default-bridge.yaml")
    state.events.sync()
    table = claims_table(read_records([state.events.path]))
    cell = table.cell("C16", "reference")  # the claim of default-bridge.yaml
    assert cell.status.value == "error" and "cannot start a container on the default bridge" in cell.reason
    assert not [r.claim for r in table.rows if any(c.status.value == "failed" for c in r.cells.values())]


def test_an_engine_that_cannot_start_any_container_is_gone(tmp_path):
    from seatrial.harness.runstate import RunState

    class NothingStarts(BridgeBrokenEngine):
        def run(self, spec):
            raise EngineError(
                f"run of container {spec.name!r}", "exit code 125; stderr: 'Error: runc: permission denied'"
            )

    engine = NothingStarts(ReferenceEngine(tmp_path / "state"))
    state = RunState(engines=[engine], results_dir=tmp_path / "results", log=lambda _: None)
    state.start()
    try:
        state.check_engine(engine)
        assert state.health.fitness["reference"].status == "unavailable"
        assert state.health.reason(engine).startswith("engine 'reference' cannot start a container here: ")
    finally:
        state.finish()
        engine.inner.reap(session=state.session.id)
