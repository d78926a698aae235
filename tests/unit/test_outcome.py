from seatrial.harness.check import Check
from seatrial.harness.model import Scenario
from seatrial.harness.outcome import Outcome, decide

BASE = {
    "schema_version": 1,
    "name": "s",
    "summary": "x",
    "claims": ["C01"],
    "steps": [{"run": {"image": "i"}}, {"run": {"image": "i"}}],
}


def scenario(**extra):
    return Scenario.model_validate({**BASE, **extra})


def check(step, ok):
    return Check(step, "exit code", "0", "1", ok)


def test_all_checks_hold_is_passed():
    assert decide(scenario(), "docker", [check(0, True)]) == (Outcome.PASSED, "")


def test_a_failed_check_is_failed_with_its_message():
    outcome, reason = decide(scenario(), "docker", [check(0, True), check(1, False)])
    assert outcome is Outcome.FAILED
    assert "step 2: exit code: expected 0, got 1" in reason  # the second step, counted from 1


def test_failure_on_engine_with_documented_divergence_is_diverged():
    s = scenario(divergences=[{"engine": "podman", "reason": "drops NET_RAW"}])
    assert decide(s, "podman", [check(1, False)]) == (Outcome.DIVERGED, "drops NET_RAW")
    assert decide(s, "docker", [check(1, False)])[0] is Outcome.FAILED


def test_divergence_limited_to_steps_does_not_cover_other_steps():
    s = scenario(divergences=[{"engine": "podman", "reason": "r", "steps": [0]}])
    assert decide(s, "podman", [check(0, False)])[0] is Outcome.DIVERGED
    assert decide(s, "podman", [check(1, False)])[0] is Outcome.FAILED
