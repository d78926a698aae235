"""The unit tests' fake engine (fakes.py) implements the whole interface with the behaviour the
contract suite asks of real engines, so a harness test that leans on it asserts something real."""

from __future__ import annotations

import dataclasses

import pytest
from fakes import STOP_EXIT_CODE, RecordingEngine

from seatrial.engines.base import ENGINE_MEMBERS, BuildSpec, EngineError, NetworkSpec, ResourceRef, RunSpec, VolumeSpec

LABELS = {"seatrial.session": "s1"}


def container(name):
    return ResourceRef("container", name, name)


def test_the_fake_defines_every_member_itself_none_from_the_interface_defaults():
    own = set(vars(RecordingEngine)) | {f.name for f in dataclasses.fields(RecordingEngine)}
    assert [n for n in ENGINE_MEMBERS if n not in own] == []


def test_a_run_to_completion_keeps_exit_code_and_output_in_inspect_and_logs():
    engine = RecordingEngine(run_results=[(3, "out\n")])
    result = engine.run(RunSpec("img", "c1", command=("sh",), labels=LABELS))
    assert (result.exit_code, result.stdout) == (3, "out\n")
    doc = engine.inspect(container("c1"))
    assert (doc["state"], doc["exit_code"], doc["name"], doc["labels"]) == ("exited", 3, "c1", LABELS)
    assert engine.logs("c1") == ("out\n", "")
    with pytest.raises(EngineError, match="exec in container 'c1' failed: container is not running"):
        engine.exec("c1", ("true",))


def test_a_detached_container_runs_until_stopped_or_waited_for():
    engine = RecordingEngine(run_results=[(0, ""), (7, "")], exec_results={("cat", "/f"): (0, "x\n")})
    assert engine.run(RunSpec("img", "svc", detach=True)).exit_code is None
    assert engine.inspect(container("svc"))["state"] == "running"
    assert engine.exec("svc", ("cat", "/f")).stdout == "x\n" and engine.exec("svc", ("true",)).exit_code == 0
    engine.stop("svc")
    assert (engine.inspect(container("svc"))["exit_code"]) == STOP_EXIT_CODE
    engine.run(RunSpec("img", "job", detach=True))
    assert engine.wait("job", timeout=5) == 7 and engine.inspect(container("job"))["state"] == "exited"
    engine.stop("job")  # an exited container keeps its own exit code
    assert engine.inspect(container("job"))["exit_code"] == 7


def test_run_with_remove_leaves_no_container_and_refused_runs_raise_like_an_engine():
    engine = RecordingEngine(refuse_runs={"bad"})
    engine.run(RunSpec("img", "gone", remove=True, labels=LABELS))
    assert engine.resources("seatrial.session") == []
    with pytest.raises(EngineError) as caught:
        engine.run(RunSpec("img", "item-bad"))
    assert caught.value.exit_code == 125


def test_images_are_built_loaded_tagged_and_inspected_by_tag_or_id(tmp_path):
    engine = RecordingEngine()
    built = engine.build(BuildSpec(tag="app:1", context=tmp_path, labels=LABELS))
    loaded = engine.load(tmp_path / "base.tar")
    assert loaded.name == "base:latest" and engine.image_exists("base:latest") and engine.image_exists(loaded.id)
    engine.tag("app:1", "app:2")
    assert sorted(engine.inspect(built.image)["tags"]) == ["app:1", "app:2"]
    assert engine.inspect(ResourceRef("image", built.image.id))["labels"] == LABELS
    with pytest.raises(EngineError, match="no such image: nope"):
        engine.tag("nope", "x")
    assert not engine.image_exists("nope")


def test_networks_and_volumes_are_listed_by_label_and_names_are_unique():
    engine = RecordingEngine()
    engine.network_create(NetworkSpec("n1", labels=LABELS))
    engine.volume_create(VolumeSpec("v1", labels={"seatrial.session": "s2"}))
    with pytest.raises(EngineError, match="already exists"):
        engine.network_create(NetworkSpec("n1"))
    assert [r.handle for r in engine.resources("seatrial.session=s1")] == ["n1"]
    assert [r.kind for r in engine.resources("seatrial.session")] == ["network", "volume"]


def test_remove_is_forced_idempotent_and_fails_only_when_told_to():
    engine = RecordingEngine(stuck={"held"})
    engine.run(RunSpec("img", "c1", detach=True, labels=LABELS))
    engine.remove(container("c1"))
    engine.remove(container("c1"))
    assert engine.resources("seatrial.session") == []
    with pytest.raises(EngineError, match="logs of container 'c1' failed: no such container"):
        engine.logs("c1")
    with pytest.raises(EngineError, match="in use"):
        engine.remove(ResourceRef("volume", "held", "held"))


def test_the_optional_members_record_what_they_were_asked():
    engine = RecordingEngine(documented_capabilities=("CHOWN", "KILL"))
    assert engine.reap("s1") == [] and engine.reaped == ["s1"]
    assert engine.prune() == [] and engine.prune_caches().removed == 0
    assert engine.calls == [("prune",), ("prune_caches",)]
    assert engine.documented_capabilities == ("CHOWN", "KILL")
    assert engine.info().is_available and engine.capabilities().has("exec")
    assert not RecordingEngine(missing={"exec": "no"}).capabilities().has("exec")
    with pytest.raises(EngineError, match="runs no processes"):
        engine.testinfra_host("c1")
