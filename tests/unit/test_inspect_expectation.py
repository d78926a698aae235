"""`expect.inspect`: health, user and image config, each shown holding and failing on a case made
to break it; `wait` polls while health is `starting`, within its bound. The engine here is a
double that answers inspect with normalized documents (what engines/inspection.py makes):
the adapters' own inspect is proven against real engines in tests/engines/."""

import pytest

from seatrial.engines.base import EngineError
from seatrial.engines.inspection import container as normalize_container
from seatrial.engines.inspection import image as normalize_image
from seatrial.harness.expectmodel import InspectExpect
from seatrial.harness.inspectcheck import inspect_checks
from seatrial.harness.steps.stepkind import StepOutcome

HEALTHCHECK = {"Test": ["CMD", "true"], "Interval": 1_000_000_000, "Timeout": 2_000_000_000, "Retries": 2}
IMAGE = {
    "Id": "sha256:aa",
    "Config": {
        "Env": ["PATH=/bin", "A=1"],
        "Cmd": ["sleep", "60"],
        "WorkingDir": "/app",
        "User": "1000",
        "ExposedPorts": {"80/tcp": {}, "53/udp": {}},
        "Labels": {"seatrial.session": "x", "app": "web"},
        "Healthcheck": HEALTHCHECK,
    },
}


def container_doc(status, user="1000", state="running"):
    health = (
        {
            "Status": status,
            "FailingStreak": 3 if status == "unhealthy" else 0,
            "Log": [{"ExitCode": 1, "Output": "wget: refused\n"}],
        }
        if status
        else None
    )
    return {
        "Id": "c1",
        "Name": "/st-web",
        "Image": "sha256:aa",
        "Config": {"User": user},
        "State": {"Status": state, "Health": health},
    }


class Engine:
    """Answers inspect from a list of container documents (one per call, the last repeated)."""

    def __init__(self, *containers, image=IMAGE):
        self.containers, self.image, self.inspected = list(containers), image, []

    def inspect(self, ref):
        self.inspected.append(ref)
        if ref.kind == "image":
            if self.image is None:
                raise EngineError("inspect of image", "no such image")
            return normalize_image(self.image)
        doc = self.containers.pop(0) if len(self.containers) > 1 else self.containers[0]
        return normalize_container(doc)


class Ctx:
    def __init__(self, engine):
        self.engine = engine
        self.containers = {"web": "st-web"}
        self.images = {"app": "st-app"}


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def run(want, engine, outcome=None):
    clock = Clock()
    return inspect_checks(
        Ctx(engine),
        0,
        InspectExpect.model_validate(want),
        outcome or StepOutcome(exit_code=0, container="st-web"),
        sleep=clock.sleep,
        clock=clock,
    )


@pytest.mark.parametrize(
    "want, good, bad",
    [
        ({"health": "healthy"}, container_doc("healthy"), container_doc("unhealthy")),
        ({"health": "unhealthy"}, container_doc("unhealthy"), container_doc("healthy")),
        ({"health": "none"}, container_doc(None), container_doc("starting")),
        ({"user": "1000"}, container_doc(None, user="1000"), container_doc(None, user="")),
    ],
)
def test_container_checks_hold_on_good_case_and_fail_on_broken_one(want, good, bad):
    assert [c.ok for c in run(want, Engine(good))] == [True]
    assert [c.ok for c in run(want, Engine(bad))] == [False]


def test_unhealthy_shows_the_failing_streak_and_the_last_output():
    [check] = run({"health": "healthy"}, Engine(container_doc("unhealthy")))
    assert check.actual == "unhealthy; failing streak 3, last check exit code 1, output 'wget: refused'"


def test_wait_inspects_again_while_starting_until_health_settles():
    engine = Engine(container_doc("starting"), container_doc("starting"), container_doc("healthy"))
    assert [c.ok for c in run({"health": "healthy", "wait": 5}, engine)] == [True]
    assert len(engine.inspected) == 3


def test_wait_is_bounded_and_says_it_ran_out():
    engine = Engine(container_doc("starting"))
    [check] = run({"health": "healthy", "wait": 1}, engine)
    assert not check.ok
    assert check.actual.startswith("starting;") and check.actual.endswith("s of its 1 s wait)")
    assert 5 <= len(engine.inspected) <= 6  # every 0.2 s within the 1 s bound, then it stops


def test_wait_goes_on_until_the_expected_health_from_unhealthy_to_healthy():
    engine = Engine(container_doc("unhealthy"), container_doc("unhealthy"), container_doc("healthy"))
    assert [c.ok for c in run({"health": "healthy", "wait": 5}, engine)] == [True]
    assert len(engine.inspected) == 3


def test_without_wait_a_starting_container_is_inspected_once_and_fails():
    engine = Engine(container_doc("starting"), container_doc("healthy"))
    assert [c.ok for c in run({"health": "healthy"}, engine)] == [False]
    assert len(engine.inspected) == 1


def test_wait_stops_when_the_container_no_longer_runs():
    engine = Engine(container_doc("starting", state="exited"))
    assert [c.ok for c in run({"health": "healthy", "wait": 30}, engine)] == [False]
    assert len(engine.inspected) == 1


@pytest.mark.parametrize(
    "config, holds",
    [
        ({"WorkingDir": "/app"}, True),
        ({"WorkingDir": "/"}, False),
        ({"User": "1000"}, True),
        ({"User": "0"}, False),
        ({"Cmd": ["sleep", "60"]}, True),
        ({"Cmd": ["sleep"]}, False),
        ({"Entrypoint": None}, True),
        ({"Entrypoint": ["sh"]}, False),
        ({"Env": {"A": "1"}}, True),
        ({"Env": {"A": "2"}}, False),
        ({"Env": ["PATH=/bin", "A=1"]}, True),
        ({"Env": ["A=1"]}, False),
        ({"ExposedPorts": ["53/udp", "80/tcp"]}, True),
        ({"ExposedPorts": ["80/tcp"]}, False),
        ({"Labels": {"app": "web"}}, True),
        ({"Labels": {"app": "db"}}, False),
        ({"Healthcheck": {"Test": ["CMD", "true"], "Interval": "1s", "StartPeriod": 0}}, True),
        ({"Healthcheck": {"Interval": "30s"}}, False),
        ({"Healthcheck": {"Retries": 3}}, False),
        ({"Healthcheck": None}, False),
    ],
)
def test_image_config_key_holds_or_fails(config, holds):
    outcome = StepOutcome(exit_code=0, image_id="sha256:aa")
    outcome.build = object()  # a build step: its image is the one inspected
    assert [c.ok for c in run({"config": config}, Engine(container_doc(None)), outcome)] == [holds]


def test_config_of_an_image_without_healthcheck_holds_for_null_and_fails_for_one():
    image = {"Id": "sha256:bb", "Config": {"Cmd": ["sh"]}}
    outcome = StepOutcome(exit_code=0, image_id="sha256:bb")
    outcome.build = object()
    assert [c.ok for c in run({"config": {"Healthcheck": None}}, Engine(image=image), outcome)] == [True]
    assert [c.ok for c in run({"config": {"Healthcheck": {"Retries": 3}}}, Engine(image=image), outcome)] == [False]


def test_podman_healthcheck_beside_config_is_read_as_docker_keeps_it_inside():
    podman_image = {"Id": "bb", "Config": {"Cmd": ["sh"]}, "Healthcheck": HEALTHCHECK}
    assert normalize_image(podman_image)["config"]["Healthcheck"] == HEALTHCHECK
    assert normalize_container({"State": {"Healthcheck": {"Status": "healthy"}}})["health"]["status"] == "healthy"


def test_config_of_a_run_step_is_the_config_of_the_containers_image():
    engine = Engine(container_doc(None))
    assert [c.ok for c in run({"config": {"WorkingDir": "/app"}}, engine)] == [True]
    assert [(r.kind, r.id) for r in engine.inspected] == [("container", ""), ("image", "sha256:aa")]


def test_an_image_that_cannot_be_inspected_is_a_failed_check():
    [check] = run({"image": "app", "config": {"WorkingDir": "/app"}}, Engine(image=None))
    assert not check.ok and "no such image" in check.actual


def test_validation_refuses_health_on_an_image_and_wait_without_health():
    with pytest.raises(ValueError, match="an image has config only"):
        InspectExpect.model_validate({"image": "app", "health": "healthy"})
    with pytest.raises(ValueError, match="waits until health is the one expected"):
        InspectExpect.model_validate({"user": "0", "wait": 3})
    with pytest.raises(ValueError, match="not a duration"):
        InspectExpect.model_validate({"config": {"Healthcheck": {"Interval": "5x"}}})


def test_loader_points_at_each_bad_inspect_key_with_line_and_column():
    from pathlib import Path

    from seatrial.harness.loader import ScenarioError, load_scenario

    fixtures = Path(__file__).parent / "fixtures" / "loader"
    with pytest.raises(ScenarioError) as caught:
        load_scenario(fixtures / "bad-inspect.yaml")
    problems = [p.format().replace(f"{fixtures}/", "") for p in caught.value.problems]
    assert problems == [
        "bad-inspect.yaml:11:18: steps[0].expect.inspect.config: unknown key 'Workdir'; allowed: Cmd, "
        "Entrypoint, Env, ExposedPorts, Healthcheck, Labels, OnBuild, Shell, StopSignal, User, Volumes, "
        "WorkingDir (did you mean 'WorkingDir'?)",
        "bad-inspect.yaml:11:57: steps[0].expect.inspect.config.Healthcheck.Interval: '5x' is not a "
        "duration; write nanoseconds or e.g. 30s, 1m30s, 500ms",
        "bad-inspect.yaml:13:32: steps[1].expect.inspect.health: 'healty' is not one of 'starting', "
        "'healthy', 'unhealthy', 'none' (did you mean 'healthy'?)",
        "bad-inspect.yaml:14:5: steps[2]: expect.inspect: a network step has no container of its own; "
        "name one with container (or image)",
    ]


def test_a_health_expectation_needs_the_healthcheck_capability_and_none_does_not():
    from seatrial.harness.model import Scenario
    from seatrial.harness.runner import needed_capabilities

    def needs(health):
        return needed_capabilities(
            Scenario.model_validate(
                {
                    "schema_version": 1,
                    "summary": "x",
                    "steps": [
                        {
                            "run": {"image": "i", "name": "web", "detach": True},
                            "expect": {"inspect": {"health": health}},
                        }
                    ],
                }
            )
        )

    assert "healthcheck" in needs("healthy")
    assert "healthcheck" not in needs("none")


def test_a_check_names_the_container_as_the_scenario_does():
    [check] = run({"health": "healthy"}, Engine(container_doc("healthy")))
    assert check.what == "inspect container 'web' health"
