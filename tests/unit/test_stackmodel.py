"""The stack step's Compose subset: start order, and every mistake refused when loading."""

import pytest
from pydantic import ValidationError

from seatrial.harness.stackmodel import ComposeFile, StackStepBody, start_order


def compose(**services):
    return {"services": {name: {"image": "x", **body} for name, body in services.items()}}


def test_start_order_follows_depends_on_not_file_order():
    file = ComposeFile.model_validate(compose(c={"depends_on": ["b"]}, b={"depends_on": ["a"]}, a={}))
    assert start_order(file) == ["a", "b", "c"]


def test_independent_services_keep_file_order():
    assert start_order(ComposeFile.model_validate(compose(z={}, y={}))) == ["z", "y"]


@pytest.mark.parametrize(
    "data, message",
    [
        (compose(a={"depends_on": ["b"]}, b={"depends_on": ["a"]}), "depends_on cycle: a -> b -> a"),
        (compose(a={"depends_on": ["nope"]}), "depends on unknown service 'nope'"),
        (compose(a={"networks": ["back"]}), "undeclared network 'back'"),
        (compose(a={"volumes": ["data:/data"]}), "undeclared volume 'data'"),
        ({"services": {"a": {"image": "x", "build": {"dockerfile": "FROM x"}}}}, "exactly one of image, build"),
        (
            {"services": {"a": {"image": "x", "volumes": ["d:/data/../../up"]}}, "volumes": {"d": None}},
            "'/data/../../up' contains '..'",
        ),
    ],
)
def test_compose_mistakes_are_refused_with_the_reason(data, message):
    with pytest.raises(ValidationError, match=message):
        ComposeFile.model_validate(data)


def test_stack_step_is_up_or_down():
    with pytest.raises(ValidationError, match="not both"):
        StackStepBody.model_validate({"name": "s", "compose": compose(a={}), "down": True})
    with pytest.raises(ValidationError, match="remove_volumes goes with down"):
        StackStepBody.model_validate({"name": "s", "compose": compose(a={}), "remove_volumes": True})
    assert StackStepBody.model_validate({"name": "s", "down": True}).down


def test_references_know_stack_containers_and_volumes_and_what_down_removes():
    from seatrial.harness.references import check_references

    up = {
        "stack": {
            "name": "shop",
            "compose": {"services": {"web": {"image": "x", "volumes": ["d:/d"]}}, "volumes": {"d": None}},
        }
    }
    steps = [
        up,
        {"exec": {"container": "shop.web", "command": ["true"]}},
        {"stack": {"name": "shop", "down": True}},
        {"run": {"image": "{{ base }}", "mounts": [{"volume": "shop.d", "target": "/d"}]}},
        {"exec": {"container": "shop.web", "command": ["true"]}},
    ]
    findings = check_references({"steps": steps})
    assert findings == [(("steps", 4, "exec", "container"), "container 'shop.web' was removed by steps[2]")]


def test_down_of_a_stack_never_brought_up_is_reported():
    from seatrial.harness.references import check_references

    [(path, message)] = check_references({"steps": [{"stack": {"name": "shop", "down": True}}]})
    assert message == "stack 'shop' is not brought up by an earlier stack step"


def test_depends_on_long_form_carries_each_condition_and_orders_like_the_short_form():
    data = compose(
        web={"depends_on": {"db": {"condition": "service_completed_successfully"}, "cache": {}}}, db={}, cache={}
    )
    parsed = ComposeFile.model_validate(data)
    assert parsed.services["web"].conditions() == {"db": "service_completed_successfully", "cache": "service_started"}
    assert ComposeFile.model_validate(compose(web={"depends_on": ["db"]}, db={})).services["web"].conditions() == {
        "db": "service_started"
    }
    assert start_order(parsed).index("web") == 2


@pytest.mark.parametrize(
    "depends_on, message",
    [
        ({"db": {"condition": "service_healthy"}}, "service_completed_successfully"),
        ({"db": {"restart": True}}, "Extra inputs are not permitted"),
        ({"nope": {}}, "depends on unknown service 'nope'"),
    ],
)
def test_depends_on_long_form_mistakes_are_refused(depends_on, message):
    with pytest.raises(ValidationError, match=message):
        ComposeFile.model_validate(compose(web={"depends_on": depends_on}, db={}))
