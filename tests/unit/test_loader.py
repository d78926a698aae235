"""The loader finds every problem in a scenario file and says where: one fixture per error kind."""

from __future__ import annotations

import io
import os
import shutil
import threading
from pathlib import Path

import pytest

from seatrial.harness.loader import MAX_PROBLEMS, ScenarioError, check_paths, load_scenario, validate_command
from seatrial.harness.model import Scenario
from seatrial.harness.yamlsafe import MAX_BYTES

FIXTURES = Path(__file__).parent / "fixtures" / "loader"


def problems_of(name: str) -> list[str]:
    """The formatted problems of one fixture, with the fixture folder cut off the file names."""
    with pytest.raises(ScenarioError) as caught:
        load_scenario(FIXTURES / name)
    return [p.format().replace(f"{FIXTURES}/", "") for p in caught.value.problems]


def only_problem_of(name: str) -> str:
    problems = problems_of(name)
    assert len(problems) == 1, problems
    return problems[0]


def test_valid_scenario_loads_with_the_file_stem_as_name():
    scenario = load_scenario(FIXTURES / "valid.yaml")
    assert isinstance(scenario, Scenario)
    assert scenario.name == "valid"
    assert [step.kind for step in scenario.steps] == ["build", "run", "run", "exec", "exec", "exec", "exec", "remove"]
    assert scenario.steps[4].capture == {"stamp": "stdout"}


def test_duplicate_key_is_refused_at_the_second_occurrence():
    assert only_problem_of("duplicate-key.yaml").startswith(
        "duplicate-key.yaml:8:7: steps[0].run.image: duplicate key 'image' (first at line 6)"
    )


def test_alias_bomb_is_refused_at_the_value_that_explodes():
    problem = only_problem_of("alias-bomb.yaml")
    assert problem.startswith("alias-bomb.yaml:9:4: f: aliases expand this value to more than")
    assert "alias bomb" in problem


def test_file_over_one_mebibyte_is_refused_before_parsing(tmp_path):
    big = tmp_path / "big.yaml"
    # Not valid YAML at all: if the size were not checked first, this would be a syntax error.
    big.write_text("{" * (MAX_BYTES + 1))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(big)
    [problem] = caught.value.problems
    assert problem.format().startswith(f"{big}:1:1: file is {MAX_BYTES + 1} bytes; a scenario may be at most")


def test_nesting_deeper_than_64_is_refused():
    assert only_problem_of("too-deep.yaml") == "too-deep.yaml:6:72: nested deeper than 64 levels"


def test_syntax_error_shows_the_place_from_the_yaml_error():
    problem = only_problem_of("syntax-error.yaml")
    assert problem.startswith("syntax-error.yaml:5:51: YAML syntax error: expected ',' or ']', but got '}'")


def test_unknown_key_lists_allowed_keys_and_suggests_the_closest():
    problem = only_problem_of("unknown-key.yaml")
    assert problem.startswith(
        "unknown-key.yaml:7:7: steps[0].run: unknown key 'mounts_ro'; allowed: cap_add, command, "
    )
    assert " image, mounts, name, " in problem
    assert problem.endswith("(did you mean 'mounts'?)")


def test_bad_enum_values_are_named_with_choices_and_suggestion():
    requires, capture = problems_of("bad-enum-value.yaml")
    assert requires.startswith("bad-enum-value.yaml:4:12: requires[0]: 'network.user_defind' is not one of 'build', ")
    assert requires.endswith("(did you mean 'network.user_defined'?)")
    assert capture == (
        "bad-enum-value.yaml:7:21: steps[0].capture.host: 'stdot' is not one of "
        "'stdout', 'stderr', 'exit_code', 'image_id', 'image_size' (did you mean 'stdout'?)"
    )


def test_missing_required_keys_are_all_reported_where_their_mapping_is():
    assert problems_of("missing-required-key.yaml") == [
        "missing-required-key.yaml:1:1: missing required key 'summary'",
        "missing-required-key.yaml:5:7: steps[0].run: missing required key 'image'",
    ]


def test_wrong_type_says_what_was_expected_and_what_was_given():
    assert (
        only_problem_of("wrong-type.yaml")
        == "wrong-type.yaml:7:16: steps[0].run.timeout: expected a number, got 'soon'"
    )


def test_two_step_kinds_in_one_step_are_refused():
    problem = only_problem_of("two-step-kinds.yaml")
    assert problem.startswith("two-step-kinds.yaml:6:5: steps[1]: a step has exactly one of build, edit, run,")
    assert problem.endswith("got run, exec")


def test_unknown_step_kind_suggests_the_closest_kind(tmp_path):
    text = (FIXTURES / "valid.yaml").read_text().replace("  - remove: {container: one}", "  - remov: {container: one}")
    (tmp_path / "kind.yaml").write_text(text)
    [problem] = check_paths([tmp_path / "kind.yaml"])
    assert problem.format().startswith(f"{tmp_path}/kind.yaml:22:5: steps[7]: unknown step kind 'remov'; ")
    assert problem.message.endswith("(did you mean 'remove'?)")


def test_name_must_equal_the_file_stem():
    assert only_problem_of("name-not-stem.yaml").startswith(
        "name-not-stem.yaml:2:7: name: 'name-not-the-stem' must equal the file's stem 'name-not-stem'"
    )


def test_unknown_claim_is_refused():
    assert (
        only_problem_of("unknown-claim.yaml")
        == "unknown-claim.yaml:3:15: claims[1]: unknown claim 'C33'; claims are C01..C32, listed in docs/claims.md"
    )


def test_reference_to_a_container_no_step_made_is_refused():
    assert only_problem_of("undefined-container.yaml") == (
        "undefined-container.yaml:6:23: steps[1].exec.container: container 'wbe' is not made by an "
        "earlier run step with a name (did you mean 'web'?)"
    )


def test_capture_used_before_it_is_defined_is_refused():
    assert only_problem_of("undefined-capture.yaml") == (
        "undefined-capture.yaml:7:30: steps[0].expect.stdout.differs_from: capture 'stamp' is used "
        "before steps[1] defines it"
    )


def test_no_is_a_string_not_false():
    problem = only_problem_of("no-is-not-false.yaml")
    assert problem.startswith("no-is-not-false.yaml:7:16: steps[0].run.network: 'no' is not one of 'bridge', ")
    assert problem.endswith("(did you mean 'none'?)")


def test_yaml11_boolean_in_a_boolean_field_says_how_to_write_it(tmp_path):
    text = (FIXTURES / "valid.yaml").read_text().replace("detach: true}", "detach: yes}", 1)
    (tmp_path / "yes.yaml").write_text(text)
    [problem] = check_paths([tmp_path / "yes.yaml"])
    assert problem.format() == (
        f"{tmp_path}/yes.yaml:12:72: steps[1].run.detach: expected true or false, "
        "got 'yes' (only true and false are booleans here; write true)"
    )


def test_loader_reports_every_error_with_line_in_every_file(tmp_path):
    for name in ("valid.yaml", "unknown-key.yaml", "wrong-type.yaml", "two-step-kinds.yaml"):
        shutil.copy(FIXTURES / name, tmp_path / name)
    nested = tmp_path / "deeper"
    nested.mkdir()
    (nested / "several.yaml").write_text(
        "schema_version: 2\nsummary: 3\nclaims: [C99]\nsteps:\n  - exec: {container: ghost, command: [ps]}\n"
    )
    problems = [p.format().replace(f"{tmp_path}/", "") for p in check_paths([tmp_path])]
    assert [p.split(": ")[0] for p in problems] == [
        "deeper/several.yaml:1:17",
        "deeper/several.yaml:2:10",
        "deeper/several.yaml:3:10",
        "deeper/several.yaml:5:23",
        "two-step-kinds.yaml:6:5",
        "unknown-key.yaml:7:7",
        "wrong-type.yaml:7:16",
    ]
    assert problems[:4] == [
        "deeper/several.yaml:1:17: schema_version: must be 1, got 2",
        "deeper/several.yaml:2:10: summary: expected a string, got 3",
        "deeper/several.yaml:3:10: claims[0]: unknown claim 'C99'; claims are C01..C32, listed in docs/claims.md",
        "deeper/several.yaml:5:23: steps[0].exec.container: container 'ghost' is not made by an earlier "
        "run step with a name",
    ]


def test_every_error_fixture_has_problems_and_the_valid_one_none():
    files_with_problems = {Path(p.file).name for p in check_paths([FIXTURES])}
    fixtures = {path.name for path in FIXTURES.glob("*.yaml")}
    assert files_with_problems == fixtures - {"valid.yaml"}


def test_validate_command_prints_sorted_problems_and_a_summary_and_returns_2():
    out = io.StringIO()
    code = validate_command(
        [str(FIXTURES / "wrong-type.yaml"), str(FIXTURES / "unknown-claim.yaml"), str(FIXTURES / "valid.yaml")], out
    )
    lines = out.getvalue().splitlines()
    assert code == 2
    assert [line.split(":")[0] for line in lines[:2]] == [
        str(FIXTURES / "unknown-claim.yaml"),
        str(FIXTURES / "wrong-type.yaml"),
    ]
    assert lines[2] == "3 scenario files checked: 2 problems in 2 files"


def test_validate_command_returns_0_for_valid_files():
    out = io.StringIO()
    assert validate_command([str(FIXTURES / "valid.yaml")], out) == 0
    assert out.getvalue() == "1 scenario file checked: no problems\n"


def test_validate_command_reports_a_missing_path(tmp_path):
    out = io.StringIO()
    assert validate_command([str(tmp_path / "nope.yaml")], out) == 2
    assert out.getvalue().splitlines()[0] == f"{tmp_path}/nope.yaml: no such file or folder"


def test_names_made_by_a_refused_step_do_not_cascade_into_more_problems(tmp_path):
    text = (
        (FIXTURES / "valid.yaml")
        .read_text()
        .replace(
            '  - run: {image: base-plus, name: one, command: [sleep, "60"], detach: true}',
            '  - run: {image: base-plus, name: one, command: [sleep, "60"], detach: true, extra: 1}',
        )
    )
    (tmp_path / "cascade.yaml").write_text(text)
    problems = check_paths([tmp_path / "cascade.yaml"])
    assert [p.message.split(";")[0] for p in problems] == ["unknown key 'extra'"]


def test_a_file_that_is_not_a_mapping_is_refused(tmp_path):
    (tmp_path / "empty.yaml").write_text("# nothing yet\n")
    (tmp_path / "list.yaml").write_text("- run: {image: x}\n")
    assert [p.format().replace(f"{tmp_path}/", "") for p in check_paths([tmp_path])] == [
        "empty.yaml:1:1: a scenario is a mapping with the keys schema_version, summary, claims and steps; "
        "got an empty file",
        "list.yaml:1:1: a scenario is a mapping with the keys schema_version, summary, claims and steps; got a list",
    ]


def test_a_named_pipe_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    out = io.StringIO()
    # Without O_NONBLOCK the open itself blocks until a writer comes: a thread bounds the wait.
    worker = threading.Thread(target=validate_command, args=([str(fifo)], out), daemon=True)
    worker.start()
    worker.join(timeout=10)
    assert not worker.is_alive(), "validate waited on the named pipe"
    assert out.getvalue().splitlines()[0] == f"{fifo}:1:1: not a regular file (a named pipe); a scenario is a YAML file"


def test_a_device_is_refused():
    [problem] = check_paths(["/dev/zero"])
    assert problem.message == "not a regular file (a character device); a scenario is a YAML file"


def test_a_number_of_thousands_of_digits_is_a_problem_at_its_place_not_a_traceback(tmp_path):
    text = (FIXTURES / "valid.yaml").read_text().replace("schema_version: 1", "schema_version: " + "9" * 5000)
    (tmp_path / "huge.yaml").write_text(text)
    [problem] = check_paths([tmp_path / "huge.yaml"])
    assert problem.message == "number with 5000 digits; numbers here have at most 19"
    assert (problem.line, problem.key_path) == (2, ("schema_version",))


def test_an_exit_code_outside_0_to_255_is_refused(tmp_path):
    text = (
        (FIXTURES / "valid.yaml")
        .read_text()
        .replace(
            "  - remove: {container: one}\n",
            "  - remove: {container: one}\n  - run: {image: base-plus}\n    expect: {exit_code: 256}\n",
        )
    )
    (tmp_path / "exit.yaml").write_text(text)
    [problem] = check_paths([tmp_path / "exit.yaml"])
    assert problem.key_path[-2:] == ("expect", "exit_code") and "255" in problem.message


def test_a_file_of_thousands_of_problems_shows_the_first_hundred_and_counts_the_rest(tmp_path):
    steps = "".join(f"  - run: {{imag: x{i}, comand: [a]}}\n" for i in range(20_000))
    path = tmp_path / "many.yaml"
    path.write_text(f"schema_version: 1\nsummary: x\nclaims: [C01]\nsteps:\n{steps}")
    out = io.StringIO()
    assert validate_command([str(path)], out) == 2
    lines = out.getvalue().splitlines()
    # Three problems a step (imag, comand, missing image): the first hundred, in file order.
    assert len(lines) == MAX_PROBLEMS + 2
    assert lines[0].startswith(f"{path}:5:")
    assert lines[-2] == f"{path}: ... and {60_000 - MAX_PROBLEMS} more problems in this file (the first 100 are shown)"
    assert lines[-1] == "1 scenario file checked: 60000 problems in 1 file"


def test_mount_targets_with_dotdot_or_relative_are_refused_where_they_are():
    assert problems_of("mount-target-dotdot.yaml") == [
        "mount-target-dotdot.yaml:10:34: steps[1].run.mounts[0].target: "
        "'/data/../../escape' contains '..'; write the path without it",
        "mount-target-dotdot.yaml:11:45: steps[1].run.mounts[1].target: "
        "'../up' is not an absolute path in the container",
    ]


def test_validate_checks_every_image_and_placeholder_against_what_the_file_makes(tmp_path):
    (tmp_path / "refs.yaml").write_text(
        "schema_version: 1\nsummary: x\nsteps:\n"
        "  - build: {tag: myapp, dockerfile: 'FROM {{ base }}'}\n"
        "  - run: {name: web, image: myap, ports: [{container: 8080}], detach: true}\n"
        "  - run: {image: '{{ image.myap }}', command: [wget, 'http://{{ container.web }}:{{ port.webb.8080 }}/']}\n"
        "  - run: {image: myapp, command: [echo, '{{ host_kernal }}', '{{ stamp }}'], detach: true}\n"
        "    capture: {stamp: stdout}\n"
        "  - run: {image: docker.io/library/busybox:1, pull: missing, command: ['{{ port.web.8080 }}', '{{ stamp }}']}\n"
    )
    problems = [p.format().replace(f"{tmp_path}/", "") for p in check_paths([tmp_path / "refs.yaml"])]
    assert problems == [
        "refs.yaml:5:29: steps[1].run.image: image 'myap' is not made by an earlier build step (did you mean "
        "'myapp'?); an image the engine already has is named in full (registry/name:tag) and run with "
        "`pull: missing` or never",
        "refs.yaml:6:18: steps[2].run.image: '{{ image.myap }}': no earlier build step makes image 'myap' "
        "(did you mean 'myapp'?)",
        "refs.yaml:6:54: steps[2].run.command[1]: '{{ port.webb.8080 }}': no earlier run step publishes port "
        "8080 of container 'webb' (did you mean 'port.web.8080'?)",
        "refs.yaml:7:41: steps[3].run.command[1]: unknown placeholder '{{ host_kernal }}' (did you mean "
        "'host_kernel'?); placeholders name the base image, scratch folders, host facts, what earlier steps "
        "made (image.TAG, container.NAME, port.NAME.PORT), free_port.KEY, host_env.NAME and earlier captures",
        "refs.yaml:7:62: steps[3].run.command[2]: '{{ stamp }}': capture 'stamp' is defined by this same step; "
        "only an earlier step's capture can be used",
    ]
