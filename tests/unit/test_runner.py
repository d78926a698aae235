import pytest
from fakes import RecordingEngine

from seatrial.harness.itemcontext import ItemContext
from seatrial.harness.model import Scenario
from seatrial.harness.outcome import Outcome
from seatrial.harness.runner import run_item
from seatrial.harness.session import Session
from seatrial.harness.steps import STEP_KINDS


@pytest.fixture
def session():
    s = Session.start()
    yield s
    s.close()


def make_ctx(engine, session, steps, **extra):
    scenario = Scenario.model_validate(
        {"schema_version": 1, "name": "t", "summary": "x", "claims": ["C01"], "steps": steps, **extra}
    )
    return ItemContext(
        engine=engine,
        session=session,
        scenario=scenario,
        index=1,
        base_image=lambda e: "base:1",
        facts={"host_kernel": "6.1"},
    )


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


def test_a_failed_step_hides_only_the_steps_that_use_what_it_made_and_teardown_removes_everything(session):
    engine = RecordingEngine(run_results=[(0, "a\n"), (0, "b\n"), (0, "c\n")])
    steps = [
        {"run": {"image": "i", "name": "one"}, "expect": {"stdout": {"equals": "a\n"}}},
        {"run": {"image": "i", "name": "two", "detach": True}, "expect": {"stdout": {"equals": "not b\n"}}},
        {"exec": {"container": "two", "command": ["true"]}},
        {"run": {"image": "i", "name": "three"}, "expect": {"stdout": {"equals": "not c\n"}}},
        {"stop": {"container": "two"}},
    ]
    result = run_item(make_ctx(engine, session, steps))
    assert result.outcome is Outcome.FAILED
    runs = [c[1] for c in engine.calls if c[0] == "run"]
    assert runs == [f"st-{session.id}-1-{n}" for n in ("one", "two", "three")]
    assert [c for c in engine.calls if c[0] in ("exec", "stop")] == []  # they use container two
    assert [c.step for c in result.failed_checks] == [1, 3]  # every independent failure is reported
    assert "step 3 did not run: it uses container 'two', made by step 2, which failed" in result.reason
    assert "step 5 did not run: it uses container 'two', made by step 2, which failed" in result.reason
    assert engine.held == []


def test_a_step_hidden_by_a_failure_hides_what_uses_its_own_names(session):
    engine = RecordingEngine(run_results=[(1, "")])
    steps = [
        {"run": {"image": "i", "name": "one"}, "capture": {"first": "stdout"}},
        {"run": {"image": "i", "name": "two", "command": ["echo", "{{ first }}"]}, "capture": {"second": "stdout"}},
        {"run": {"image": "i", "name": "three"}, "expect": {"stdout": {"equals_capture": "second"}}},
    ]
    result = run_item(make_ctx(engine, session, steps))
    assert result.outcome is Outcome.FAILED
    assert len([c for c in engine.calls if c[0] == "run"]) == 1
    assert "step 2 did not run: it uses capture 'first', made by step 1, which failed" in result.reason
    assert "step 3 did not run: it uses capture 'second', made by step 1, which failed" in result.reason


def test_captured_value_compares_across_steps(session):
    engine = RecordingEngine(run_results=[(0, "stamp-1\n"), (0, "stamp-1\n"), (0, "stamp-2\n")])
    steps = [
        {"run": {"image": "i"}, "capture": {"stamp": "stdout"}},
        {"run": {"image": "i"}, "expect": {"stdout": {"equals_capture": "stamp"}}},
        {"run": {"image": "i"}, "expect": {"stdout": {"equals_capture": "stamp"}}},
    ]
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


def test_measure_records_warmups_apart_and_removes_each_rounds_containers(session):
    engine = RecordingEngine()
    steps = [
        {
            "measure": {
                "metric": "m",
                "rounds": 3,
                "warmup": 2,
                "copies": 2,
                "steps": [{"run": {"image": "i", "command": ["true"], "detach": True}}],
            }
        }
    ]
    ctx = make_ctx(engine, session, steps, benchmark={})
    outcome = STEP_KINDS["measure"].execute(ctx, ctx.scenario.steps[0].body)
    samples = outcome.detail["samples"]
    assert [(s["round"], s["warmup"]) for s in samples] == [(-2, True), (-1, True), (0, False), (1, False), (2, False)]
    assert all(s["unit"] == "s" and s["value"] >= 0 for s in samples)
    assert len([c for c in engine.calls if c[0] == "run"]) == 10  # 5 rounds x 2 copies
    assert [r for r in engine.held if r.kind == "container"] == []  # removed after each round


def test_benchmark_interleaves_engines_round_by_round(session):
    from seatrial.harness.bench import run_benchmark

    order = []
    engines = [RecordingEngine(name="a"), RecordingEngine(name="b")]
    for engine in engines:
        engine.run = (lambda original, name: lambda spec: (order.append(name), original(spec))[1])(
            engine.run, engine.name
        )
    steps = [
        {
            "measure": {
                "metric": "m",
                "rounds": 2,
                "warmup": 1,
                "steps": [{"run": {"image": "i", "command": ["true"], "remove": True}}],
            }
        }
    ]
    contexts = [make_ctx(e, session, steps, benchmark={}) for e in engines]
    for i, ctx in enumerate(contexts):
        ctx.index = i + 1
    results = run_benchmark(contexts)
    assert order == ["a", "b", "a", "b", "a", "b"]
    assert [r.outcome for r in results] == [Outcome.PASSED, Outcome.PASSED]


def test_benchmark_engine_that_breaks_drops_out_and_others_go_on(session):
    from seatrial.harness.bench import run_benchmark

    good, bad = RecordingEngine(name="good"), RecordingEngine(name="bad", run_results=[(1, "")] * 10)
    steps = [
        {"measure": {"metric": "m", "rounds": 3, "warmup": 0, "steps": [{"run": {"image": "i", "command": ["true"]}}]}}
    ]
    contexts = [make_ctx(e, session, steps, benchmark={}) for e in (good, bad)]
    contexts[1].index = 2
    results = {r.engine: r for r in run_benchmark(contexts)}
    assert results["good"].outcome is Outcome.PASSED
    assert results["bad"].outcome is Outcome.ERROR and "round 0, inner step 0" in results["bad"].reason
    assert len([c for c in good.calls if c[0] == "run"]) == 3


def test_a_documented_divergence_of_one_step_does_not_hide_the_checks_after_it(session):
    steps = [
        {"run": {"image": "i", "name": "one"}, "expect": {"stdout": {"equals": "docker-says\n"}}},
        {"run": {"image": "i", "name": "two"}, "expect": {"stdout": {"equals": "b\n"}}},
    ]
    divergence = {"divergences": [{"engine": "fake", "reason": "fake says it its way", "steps": [0]}]}
    held_after = RecordingEngine(run_results=[(0, "fake-says\n"), (0, "b\n")])
    result = run_item(make_ctx(held_after, session, steps, **divergence))
    assert result.outcome is Outcome.DIVERGED
    assert len([c for c in held_after.calls if c[0] == "run"]) == 2  # the second step ran too
    failed_after = RecordingEngine(run_results=[(0, "fake-says\n"), (0, "not b\n")])
    result = run_item(make_ctx(failed_after, session, steps, **divergence))
    assert result.outcome is Outcome.FAILED  # a failure after the divergence is not hidden by it
    assert [c.step for c in result.failed_checks] == [0, 1]


def test_after_a_refused_step_under_a_divergence_the_item_says_which_steps_did_not_run(session):
    engine = RecordingEngine(run_results=[(0, "b\n")], refuse_runs={"one"})
    steps = [
        {"run": {"image": "i", "name": "one", "detach": True}},
        {"run": {"image": "i", "name": "two"}, "expect": {"stdout": {"equals": "b\n"}}},
        {"exec": {"container": "one", "command": ["true"]}},
    ]
    result = run_item(
        make_ctx(engine, session, steps, divergences=[{"engine": "fake", "reason": "no such option", "steps": [0]}])
    )
    assert result.outcome is Outcome.DIVERGED
    assert len([c for c in engine.calls if c[0] == "run"]) == 2  # step 2 does not use container one
    assert result.reason == (
        "no such option (step 3 did not run: it uses container 'one', made by step 1, which failed)"
    )
