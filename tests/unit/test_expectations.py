"""Each kind of expectation, shown holding and shown failing on a case made to break it."""

import pytest

from seatrial.engines.base import BuildResult, InstructionCache, ResourceRef
from seatrial.harness.expectations import evaluate
from seatrial.harness.expectmodel import Expect
from seatrial.harness.steps.stepkind import StepOutcome


class Ctx:
    captures = {"stamp": "abc"}

    def render(self, text):
        return text.replace("{{ k }}", "6.1")


def checks(expect, outcome, implicit=True):
    return evaluate(
        Ctx(), 0, Expect.model_validate(expect) if expect is not None else None, outcome, implicit_success=implicit
    )


def oks(expect, outcome):
    return [c.ok for c in checks(expect, outcome)]


@pytest.mark.parametrize(
    "expect, good, bad",
    [
        ({"exit_code": 3}, StepOutcome(exit_code=3), StepOutcome(exit_code=0)),
        ({"exit_code_not": 0}, StepOutcome(exit_code=1), StepOutcome(exit_code=0)),
        ({"stdout": {"equals": "6.1\n"}}, StepOutcome(stdout="6.1\n"), StepOutcome(stdout="6.1")),
        ({"stdout": {"equals": "{{ k }}"}}, StepOutcome(stdout="6.1"), StepOutcome(stdout="{{ k }}")),
        ({"stderr": {"contains": "bad address"}}, StepOutcome(stderr="wget: bad address 'db'"), StepOutcome(stderr="")),
        ({"stdout": {"not_contains": "sleep"}}, StepOutcome(stdout="sh\n"), StepOutcome(stdout="sleep\n")),
        ({"stdout": {"matches": "^1$"}}, StepOutcome(stdout="1\n3\n"), StepOutcome(stdout="11\n")),
        ({"output": {"contains": "x"}}, StepOutcome(stderr="x"), StepOutcome(stdout="y")),
        ({"stdout": {"equals_capture": "stamp"}}, StepOutcome(stdout="abc\n"), StepOutcome(stdout="abd\n")),
        ({"stdout": {"differs_from": "stamp"}}, StepOutcome(stdout="new\n"), StepOutcome(stdout="abc\n")),
        ({"fails": True}, StepOutcome(refused="no such image"), StepOutcome(exit_code=0)),
    ],
)
def test_expectation_holds_on_good_case_and_fails_on_broken_one(expect, good, bad):
    assert all(oks(expect, good))
    assert not all(oks(expect, bad))


def build_outcome(*hits):
    instructions = (InstructionCache(0, "FROM base", None),) + tuple(
        InstructionCache(i + 1, text, hit) for i, (text, hit) in enumerate(hits)
    )
    return StepOutcome(exit_code=0, build=BuildResult(ResourceRef("image", "x"), 1, instructions, "", 0.0))


def test_cache_expectations_by_index_and_prefix():
    outcome = build_outcome(("COPY deps.txt ./", True), ("RUN make  deps", True), ("COPY src ./", False))
    assert all(oks({"cache": {"hit": [1, "RUN make deps"], "miss": ["COPY src"]}}, outcome))
    assert oks({"cache": {"hit": ["COPY src"]}}, outcome) == [False]
    assert oks({"cache": {"miss": [1]}}, outcome) == [False]


def test_cache_all_hit_fails_when_one_instruction_missed():
    assert oks({"cache": {"all_hit": True}}, build_outcome(("COPY a", True), ("RUN b", True))) == [True]
    assert oks({"cache": {"all_hit": True}}, build_outcome(("COPY a", True), ("RUN b", False))) == [False]


def test_cache_expectation_on_an_unknown_instruction_fails_and_lists_them():
    [check] = checks({"cache": {"hit": ["RUN nothing"]}}, build_outcome(("RUN make", True)))
    assert not check.ok and "[1] RUN make" in check.actual


def test_no_expect_means_exit_zero_and_engine_accepting():
    assert oks(None, StepOutcome(exit_code=0)) == [True]
    assert oks(None, StepOutcome(exit_code=2)) == [False]
    assert [c.ok for c in checks(None, StepOutcome(refused="denied"), implicit=False)] == [False]


def test_failure_message_says_expected_and_got():
    [check] = checks({"stdout": {"equals": "a\n"}}, StepOutcome(stdout="b\n"))
    assert check.message == "step 1: stdout equals: expected 'a\\n', got 'b\\n'"


def sized(size):
    return StepOutcome(exit_code=0, build=BuildResult(ResourceRef("image", "x"), size, (), "", 0.0))


def test_image_size_bounds_hold_and_fail_on_a_build_made_to_break_them():
    assert all(oks({"image_size": {"min_bytes": 10, "max_bytes": 100}}, sized(50)))
    assert oks({"image_size": {"max_bytes": 100}}, sized(101)) == [False]
    assert oks({"image_size": {"min_bytes": 10}}, sized(9)) == [False]


def test_image_size_ratio_compares_with_a_captured_size():
    Ctx.captures = {"stamp": "abc", "fat": "1000"}
    assert oks({"image_size": {"relative_to": "fat", "max_ratio": 0.5}}, sized(400)) == [True]
    [check] = checks({"image_size": {"relative_to": "fat", "max_ratio": 0.5}}, sized(900))
    assert not check.ok and "0.900 x" in check.actual
    assert oks({"image_size": {"relative_to": "stamp", "max_ratio": 0.5}}, sized(1)) == [False]


def test_image_size_without_a_build_fails():
    assert oks({"image_size": {"max_bytes": 1}}, StepOutcome(exit_code=0)) == [False]
