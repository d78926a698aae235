"""The scenario format's additions for the Docker documentation's cases (issue 12 item 6):
image_config, anonymous and nocopy volumes, env without a value, publish_all and
refused_or_exit_code; each shown holding and failing on a case made to break it, and each
misuse refused with its file, line and key. Real engines run scenarios/build/docs-examples.yaml."""

from __future__ import annotations

import pytest
from test_inspect_expectation import IMAGE, Ctx, Engine

from seatrial.engines.base import Mount, PortMapping, RunSpec
from seatrial.engines.client import run_args
from seatrial.engines.reference import volumes
from seatrial.harness.check import Check
from seatrial.harness.expectations import evaluate
from seatrial.harness.expectmodel import Expect
from seatrial.harness.inspectcheck import image_config_checks
from seatrial.harness.loader import ScenarioError, load_scenario
from seatrial.harness.steps.runoptions import exposed_ports
from seatrial.harness.steps.stepkind import StepOutcome

HEAD = "schema_version: 1\nsummary: s\nsteps:\n  - build: {tag: app, dockerfile: 'FROM {{ base }}'}\n"


def problems(tmp_path, steps: str) -> list[str]:
    path = tmp_path / "case.yaml"
    path.write_text(HEAD + steps)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    return [p.format().replace(f"{tmp_path}/", "") for p in caught.value.problems]


# --- image_config ------------------------------------------------------------------------------


def test_image_config_holds_on_the_image_and_fails_on_each_key_changed():
    want = {"Cmd": ["sleep", "60"], "ExposedPorts": ["53/udp", "80/tcp"], "Labels": {"app": "web"}, "Shell": None}
    assert [c.ok for c in image_config_checks(Ctx(Engine()), 0, want, "sha256:aa")] == [True] * 4
    broken = {**IMAGE, "Config": {**IMAGE["Config"], "Cmd": ["sh"], "Labels": {"app": "web", "x": "1"}}}
    broken["Config"]["Shell"], broken["Config"]["ExposedPorts"] = ["/bin/bash", "-c"], {"80/tcp": {}}
    checks = image_config_checks(Ctx(Engine(image=broken)), 0, want, "sha256:aa")
    assert [c.ok for c in checks] == [False] * 4
    assert checks[2].expected == "{'app': 'web'}" and checks[2].actual == "{'app': 'web', 'x': '1'}"


def test_image_config_leaves_out_the_harness_labels_as_seatrial_diff_does():
    [check] = image_config_checks(Ctx(Engine()), 0, {"Labels": {"app": "web"}}, "sha256:aa")
    assert check.ok  # the image also has seatrial.session
    [env] = image_config_checks(Ctx(Engine()), 0, {"Env": ["A=1"]}, "sha256:aa")
    assert not env.ok and env.actual == "['PATH=/bin', 'A=1']"  # whole values: Env is equal or not


def test_image_config_of_an_image_the_engine_cannot_inspect_is_a_failed_check():
    [check] = image_config_checks(Ctx(Engine(image=None)), 0, {"Cmd": ["x"]}, "sha256:aa")
    assert not check.ok and "no such image" in check.actual


def test_image_config_names_a_misspelt_key_with_file_line_and_choices(tmp_path):
    [problem] = problems(tmp_path, "    expect: {image_config: {Cmdd: [x]}}\n")
    assert problem.startswith("case.yaml:5:35: steps[0].expect.image_config.Cmdd: 'Cmdd' is not one of 'Cmd', ")
    assert "'Healthcheck'" in problem and problem.endswith("(did you mean 'Cmd'?)")


def test_image_config_belongs_on_a_build_step(tmp_path):
    [problem] = problems(tmp_path, "  - run: {image: app}\n    expect: {image_config: {Cmd: [x]}}\n")
    assert problem.startswith("case.yaml:5:")
    assert "a run step makes no image" in problem


# --- refused_or_exit_code ----------------------------------------------------------------------


def either(outcome: StepOutcome) -> list[Check]:
    return evaluate(None, 0, Expect(refused_or_exit_code=126), outcome, implicit_success=True)  # type: ignore[arg-type]


def test_refused_or_exit_code_holds_on_a_refusal_and_on_the_code_and_fails_otherwise():
    assert [c.ok for c in either(StepOutcome(exit_code=125, refused="exit code 125; permission denied"))] == [True]
    assert [c.ok for c in either(StepOutcome(exit_code=126))] == [True]
    [check] = either(StepOutcome(exit_code=0))
    assert not check.ok and check.actual == "exit code 0"


def test_refused_or_exit_code_does_not_sit_with_fails_or_exit_code(tmp_path):
    [problem] = problems(tmp_path, "  - run: {image: app}\n    expect: {refused_or_exit_code: 126, fails: true}\n")
    assert "case.yaml:6:" in problem and "leave out fails" in problem


# --- volumes, env, ports: the step and the engines' arguments ----------------------------------


def test_anonymous_and_nocopy_volumes_take_the_volume_form_of_the_engines():
    spec = RunSpec(
        image="i",
        name="c",
        mounts=(
            Mount("volume", "", "/cache"),
            Mount("volume", "v", "/data", True, nocopy=True),
            Mount("volume", "w", "/w"),
        ),
        env={"A": "1"},
        env_from_host=("PATH", "UNSET"),
    )
    args = run_args(spec)
    assert args[args.index("--volume") : args.index("--volume") + 4] == [
        "--volume",
        "/cache",
        "--volume",
        "v:/data:ro,nocopy",
    ]
    assert "type=volume,source=w,target=/w" in args
    tail = args[args.index("--env") :]
    assert tail[:6] == ["--env", "A=1", "--env", "PATH", "--env", "UNSET"]


def test_env_from_host_takes_the_variables_this_process_has_and_leaves_out_the_others():
    spec = RunSpec(image="i", name="c", env={"A": "1", "PATH": "image"}, env_from_host=("PATH", "UNSET"))
    assert spec.host_env({"PATH": "/host/bin"}) == {"A": "1", "PATH": "/host/bin"}


def test_the_reference_names_each_anonymous_volume_and_keeps_named_ones():
    given = (Mount("volume", "", "/a"), Mount("volume", "", "/b"), Mount("volume", "keep", "/c", nocopy=True))
    named = volumes.named(given)
    assert [m.target for m in named] == ["/a", "/b", "/c"]
    assert len({m.source for m in named[:2]}) == 2 and all(len(m.source) == 64 for m in named[:2])
    assert named[2] == given[2]


def test_nocopy_and_a_bare_mount_are_checked_where_written(tmp_path):
    [problem] = problems(tmp_path, "  - run: {image: app, mounts: [{target: /x, nocopy: true}]}\n")
    assert problem.startswith("case.yaml:5:") and "nocopy: only a named volume" in problem
    found = problems(tmp_path, "  - run: {image: app, mounts: [{target: /x, volume: v, bind: /tmp}]}\n")
    assert (
        "case.yaml:5:32: steps[1].run.mounts[0]: give one of volume, bind (or neither, for an anonymous volume)"
        in found
    )


def test_publish_all_publishes_each_exposed_port_once_and_needs_a_name(tmp_path):
    ports = exposed_ports(Ctx(Engine()), "st-app", [(80, 8080, "tcp")])  # type: ignore[arg-type]
    assert ports == [(53, 0, "udp")]  # 80/tcp is given already
    [problem] = problems(tmp_path, "  - run: {image: app, publish_all: true}\n")
    assert "publish_all: give the container a name" in problem


def test_a_port_of_a_publish_all_container_is_a_known_placeholder(tmp_path):
    path = tmp_path / "case.yaml"
    path.write_text(
        HEAD + "  - run: {image: app, name: web, detach: true, publish_all: true}\n"
        "  - probe: {port: '{{ port.web.8080 }}'}\n"
        "  - probe: {port: '{{ port.wbe.8080 }}'}\n"
    )
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    [problem] = [p.format() for p in caught.value.problems]
    assert ":7:" in problem and "container 'wbe'" in problem


def test_env_without_a_value_reaches_the_spec_as_a_name_to_take_from_the_host():
    from seatrial.harness.steps.containersteps import RunStepBody

    body = RunStepBody.model_validate({"image": "i", "env": {"PATH": None, "A": "1"}})
    assert body.env == {"PATH": None, "A": "1"}
    assert PortMapping(80).host_ip == "127.0.0.1"  # publish_all binds where every published port does
