import pytest

from seatrial.context import ItemContext
from seatrial.model import Scenario
from seatrial.outcome import Outcome
from seatrial.runner import run_item
from seatrial.session import Session

from fakes import RecordingEngine


@pytest.fixture
def session():
    s = Session.start()
    yield s
    s.close()


def make_ctx(engine, session, steps, **extra):
    scenario = Scenario.model_validate({"schema_version": 1, "name": "t", "summary": "x", "claims": ["C01"],
                                        "steps": steps, **extra})
    return ItemContext(engine=engine, session=session, scenario=scenario, index=1,
                       base_image=lambda e: "base:1", facts={"host_kernel": "6.1"})


def test_missing_capability_skips_before_any_side_effect(session):
    engine = RecordingEngine(missing={"network.host": "needs root"})
    result = run_item(make_ctx(engine, session, [{"run": {"image": "i", "network": "host"}}]))
    assert result.outcome is Outcome.SKIPPED
    assert "network.host is not available on fake (needs root)" in result.reason
    assert [c for c in engine.calls if c[0] != "remove"] == []


def test_command_without_expect_must_exit_zero(session):
    engine = RecordingEngine(run_results=[(1, "")])
    result = run_item(make_ctx(engine, session, [{"run": {"image": "i"}}]))
    assert result.outcome is Outcome.FAILED
    assert "exit code: expected 0, got 1" in result.reason


def test_steps_stop_at_first_failing_step_and_teardown_removes_everything(session):
    engine = RecordingEngine(run_results=[(0, "a\n"), (0, "b\n"), (0, "c\n")])
    steps = [{"run": {"image": "i", "name": "one"}, "expect": {"stdout": {"equals": "a\n"}}},
             {"run": {"image": "i", "name": "two"}, "expect": {"stdout": {"equals": "not b\n"}}},
             {"run": {"image": "i", "name": "three"}}]
    result = run_item(make_ctx(engine, session, steps))
    assert result.outcome is Outcome.FAILED
    assert [c[1] for c in engine.calls if c[0] == "run"] == [f"st-{session.id}-1-one", f"st-{session.id}-1-two"]
    assert engine.held == []


def test_captured_value_compares_across_steps(session):
    engine = RecordingEngine(run_results=[(0, "stamp-1\n"), (0, "stamp-1\n"), (0, "stamp-2\n")])
    steps = [{"run": {"image": "i"}, "capture": {"stamp": "stdout"}},
             {"run": {"image": "i"}, "expect": {"stdout": {"equals_capture": "stamp"}}},
             {"run": {"image": "i"}, "expect": {"stdout": {"equals_capture": "stamp"}}}]
    result = run_item(make_ctx(engine, session, steps))
    assert result.outcome is Outcome.FAILED
    assert [c.step for c in result.failed_checks] == [2]


def test_placeholders_render_host_facts_into_commands(session):
    engine = RecordingEngine()
    run_item(make_ctx(engine, session, [{"run": {"image": "i", "command": ["echo", "{{ host_kernel }}"]}}]))
    assert ("run", f"st-{session.id}-1-run0", ("echo", "6.1")) in engine.calls


def test_unknown_placeholder_is_an_error_naming_it(session):
    engine = RecordingEngine()
    result = run_item(make_ctx(engine, session, [{"run": {"image": "i", "command": ["{{ nope }}"]}}]))
    assert result.outcome is Outcome.ERROR
    assert "unknown placeholder '{{ nope }}'" in result.reason


def test_teardown_failure_turns_a_pass_into_an_error(session):
    engine = RecordingEngine(stuck={f"st-{session.id}-1-box"})
    result = run_item(make_ctx(engine, session, [{"run": {"image": "i", "name": "box"}}]))
    assert result.outcome is Outcome.ERROR
    assert "teardown left container" in result.reason


def test_scratch_is_removed_after_the_item(session):
    engine = RecordingEngine()
    ctx = make_ctx(engine, session, [{"host_write": {"path": "{{ scratch }}/f", "content": "x"}}])
    run_item(ctx)
    assert not (session.scratch / "item-1").exists()


def test_host_write_outside_scratch_is_refused(session, tmp_path):
    engine = RecordingEngine()
    target = tmp_path / "outside.txt"
    result = run_item(make_ctx(engine, session, [{"host_write": {"path": str(target), "content": "x"}}]))
    assert result.outcome is Outcome.ERROR
    assert not target.exists()
