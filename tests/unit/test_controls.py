"""A failed positive control makes the item inconclusive (an error), never a pass or a fail."""

from seatrial.harness.check import Check
from seatrial.harness.model import Scenario
from seatrial.harness.outcome import Outcome, decide

SCENARIO = Scenario.model_validate(
    {
        "schema_version": 1,
        "summary": "s",
        "claims": ["C31"],
        "divergences": [
            {"engine": "podman", "reason": "documented"},
            {"engine": "rootless", "reason": "the control cannot work there", "steps": [0]},
        ],
        "steps": [{"run": {"image": "x"}, "control": True}, {"run": {"image": "x"}}],
    }
)


def check(step, ok):
    return Check(step, "exit code", "0", "1", ok)


def test_failed_control_is_inconclusive_even_if_the_check_after_it_would_pass():
    outcome, reason = decide(SCENARIO, "docker", [check(0, False), check(1, True)])
    assert outcome is Outcome.ERROR and reason.startswith("inconclusive")


def test_failed_control_is_not_hidden_by_a_divergence_of_every_step():
    assert decide(SCENARIO, "podman", [check(0, False)])[0] is Outcome.ERROR


def test_divergence_naming_the_control_step_covers_it():
    assert decide(SCENARIO, "rootless", [check(0, False)]) == (Outcome.DIVERGED, "the control cannot work there")


def test_passing_control_and_failing_check_is_a_failure():
    assert decide(SCENARIO, "docker", [check(0, True), check(1, False)])[0] is Outcome.FAILED
