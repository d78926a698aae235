"""A step kind has one home: registering one class is all the loader, the name checks, the JSON
Schema and the runner need. The kind here exists only in this test module."""

from __future__ import annotations

import jsonschema
import pytest
from fakes import RecordingEngine
from pydantic import Field
from test_runner import make_ctx, session  # noqa: F401  (the fixture)

from seatrial.harness.loader import ScenarioError, load_scenario
from seatrial.harness.model import Step
from seatrial.harness.modeltypes import Name, Strict
from seatrial.harness.outcome import Outcome
from seatrial.harness.runner import run_item
from seatrial.harness.schema import schema_document, schema_text
from seatrial.harness.steps import STEP_KINDS, StepKind, StepOutcome, register, unregister
from seatrial.harness.steps.stepkind import STEP_KINDS as REGISTRY


class ShoutStepBody(Strict):
    """Print `text` `times` times (a kind made up for this test)."""

    text: str
    times: int = Field(1, ge=1, le=10)
    container: Name | None = Field(None, description="A container run earlier, only to be named")


class Shout(StepKind):
    kind = "shout"
    body_model = ShoutStepBody
    is_command = True

    def needs(self, body: ShoutStepBody) -> list[str]:
        return ["exec"]

    def check_names(self, body, at, book) -> None:
        book.use("container", body.get("container"), at + ("container",))

    def execute(self, ctx, body: ShoutStepBody) -> StepOutcome:
        exit_code = 1 if body.text == "fail" else 0
        return StepOutcome(exit_code=exit_code, stdout=ctx.render(body.text) * body.times)


@pytest.fixture
def shout():
    register(Shout)
    try:
        yield
    finally:
        unregister("shout")


def write(tmp_path, steps: str):
    path = tmp_path / "shouting.yaml"
    path.write_text("schema_version: 1\nsummary: s\nclaims: [C01]\nsteps:\n" + steps)
    return path


def test_a_kind_registered_elsewhere_is_loaded_checked_and_run(shout, tmp_path, session):
    scenario = load_scenario(
        write(tmp_path, "  - shout: {text: 'hi ', times: 2}\n    expect: {stdout: {equals: 'hi hi '}}\n")
    )
    assert scenario.steps[0].kind == "shout" and scenario.steps[0].body.times == 2
    result = run_item(make_ctx(RecordingEngine(), session, [s.model_dump(exclude_none=True) for s in scenario.steps]))
    assert result.outcome is Outcome.PASSED, result.reason
    failing = run_item(make_ctx(RecordingEngine(), session, [{"shout": {"text": "fail"}}]))
    assert failing.outcome is Outcome.FAILED  # a command kind with no expect must exit 0
    assert "exit code: expected 0, got 1" in failing.reason


def test_a_registered_kind_gets_the_loaders_messages(shout, tmp_path):
    with pytest.raises(ScenarioError) as caught:
        load_scenario(write(tmp_path, "  - shout: {text: hi, tmes: 2}\n  - shot: {text: hi}\n"))
    problems = [p.format().replace(f"{tmp_path}/", "") for p in caught.value.problems]
    assert problems == [
        "shouting.yaml:5:23: steps[0].shout: unknown key 'tmes'; allowed: container, text, times "
        "(did you mean 'times'?)",
        "shouting.yaml:6:5: steps[1]: unknown step kind 'shot'; a step is one of "
        + ", ".join(STEP_KINDS)
        + " (did you mean 'shout'?)",
    ]
    assert ", measure, shout " in problems[1]


def test_a_registered_kind_takes_part_in_the_checks_across_steps(shout, tmp_path):
    with pytest.raises(ScenarioError) as caught:
        load_scenario(
            write(
                tmp_path,
                "  - run: {image: '{{ base }}', name: web, detach: true}\n"
                "  - shout: {text: hi, container: web}\n"
                "  - shout: {text: hi, container: wbe}\n",
            )
        )
    [problem] = [p.format().replace(f"{tmp_path}/", "") for p in caught.value.problems]
    assert problem == (
        "shouting.yaml:7:34: steps[2].shout.container: container 'wbe' is not made by an "
        "earlier run step with a name (did you mean 'web'?)"
    )


def test_a_registered_kind_is_in_the_schema_and_leaves_it_when_unregistered(tmp_path):
    before = schema_text()
    register(Shout)
    try:
        document = schema_document()
        assert document["definitions"]["Step"]["oneOf"][-1] == {"required": ["shout"]}
        assert "ShoutStepBody" in document["definitions"]
        jsonschema.Draft7Validator(document).validate(
            {"schema_version": 1, "summary": "s", "steps": [{"shout": {"text": "hi"}}]}
        )
    finally:
        unregister("shout")
    assert schema_text() == before
    assert "shout" not in Step.model_fields
    with pytest.raises(ScenarioError, match="unknown step kind 'shout'"):
        load_scenario(write(tmp_path, "  - shout: {text: hi}\n"))


def test_kinds_are_listed_in_the_order_messages_always_gave():
    assert list(STEP_KINDS) == [
        "build",
        "edit",
        "run",
        "exec",
        "stop",
        "remove",
        "network",
        "volume",
        "wait",
        "host_write",
        "tag",
        "probe",
        "stack",
        "measure",
    ]
    assert STEP_KINDS is REGISTRY


def test_each_kind_says_whether_its_command_must_exit_zero_and_what_inspect_sees():
    assert {k for k, kind in STEP_KINDS.items() if kind.is_command} == {"run", "exec", "wait", "build", "probe"}
    assert {k: kind.inspect_target for k, kind in STEP_KINDS.items() if kind.inspect_target} == {
        "build": "image",
        "run": "container",
        "exec": "container",
        "stop": "container",
        "wait": "container",
    }


def test_a_detached_run_need_not_exit_zero():
    run = STEP_KINDS["run"]
    assert run.must_exit_zero(run.body_model(image="i")) is True
    assert run.must_exit_zero(run.body_model(image="i", detach=True)) is False


def test_every_kind_is_a_field_of_step_with_its_body_model():
    for kind, runner in STEP_KINDS.items():
        assert Step.model_fields[kind].annotation == (runner.body_model | None), kind


def test_a_new_file_in_the_steps_folder_is_a_new_kind(tmp_path, monkeypatch):
    import sys

    import seatrial.harness.steps as steps

    (tmp_path / "whisper.py").write_text(
        "from seatrial.harness.modeltypes import Strict\n"
        "from seatrial.harness.steps.stepkind import StepKind, StepOutcome, register\n\n\n"
        "class WhisperStepBody(Strict):\n    text: str\n\n\n"
        "@register\nclass Whisper(StepKind):\n    kind = 'whisper'\n    body_model = WhisperStepBody\n\n"
        "    def execute(self, ctx, body):\n        return StepOutcome(exit_code=0, stdout=body.text)\n"
    )
    monkeypatch.setattr(steps, "__path__", [*steps.__path__, str(tmp_path)])
    try:
        steps._import_kind_modules()
        assert list(STEP_KINDS)[-1] == "whisper"
        assert "whisper" in Step.model_fields
    finally:
        unregister("whisper")
        sys.modules.pop("seatrial.harness.steps.whisper", None)
    assert "whisper" not in Step.model_fields
