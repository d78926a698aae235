"""Engines on other machines (engines/remote.py): the spec, the client's words, the labels, the
capabilities such an engine lacks, and how results name it. No engine runs here: e2e/test_remote_ssh.py
drives real ones through a real sshd."""

import json

import pytest

from seatrial.engines import remote
from seatrial.engines.base import EngineInfo, ResourceRef, RunSpec
from seatrial.engines.client import Cli
from seatrial.engines.discovery import UnknownEngine, load_engines, unknown_engines_message
from seatrial.engines.docker import DockerEngine
from seatrial.engines.hosts import container_host
from seatrial.harness.check import Check
from seatrial.harness.model import Scenario
from seatrial.harness.outcome import divergence_reason
from seatrial.harness.runner import needed_capabilities


def test_target_url_is_labelled_by_its_host_part():
    found = remote.parse_target("ssh://root@vm1.example:2222")
    assert (found.url, found.label, found.is_named) == ("ssh://root@vm1.example:2222", "vm1.example", False)
    assert remote.parse_target("tcp://[fd00::5]:2376").label == "fd00::5"


def test_target_name_is_a_context_or_connection_labelled_by_itself():
    found = remote.parse_target("vm1")
    assert (found.url, found.label, found.is_named) == ("", "vm1", True)


@pytest.mark.parametrize(
    ("target", "said"),
    [
        ("ftp://vm1", "scheme 'ftp' is not one of ssh, tcp"),
        ("unix:///run/other.sock", "scheme 'unix'"),
        ("ssh://", "names no host"),
        ("ssh://root@vm1:port", "Port could not be cast"),
        ("vm one", "neither a URL"),
    ],
)
def test_bad_targets_say_what_to_write(target, said):
    with pytest.raises(remote.RemoteSpecError, match=said):
        remote.parse_target(target)


def test_spec_splits_at_the_first_at_sign_only():
    assert remote.split_spec("docker@ssh://root@vm1") == ("docker", "ssh://root@vm1")
    assert remote.split_spec("podman") == ("podman", "")


def test_host_option_places_engines_named_without_a_target():
    assert remote.with_host(["docker", "podman@vm2"], "ssh://root@vm1") == ["docker@ssh://root@vm1", "podman@vm2"]
    assert remote.with_host([], "vm1") == [f"{name}@vm1" for name in remote.REMOTE_DEFAULT]


def test_environment_pointing_elsewhere_makes_the_engine_remote():
    assert remote.from_environment("docker-buildkit", {"DOCKER_HOST": "ssh://u@vm1"}).label == "vm1"
    assert remote.from_environment("podman", {"CONTAINER_HOST": "ssh://u@vm2/run/podman/podman.sock"}).label == "vm2"
    assert remote.from_environment("docker", {"DOCKER_HOST": "unix:///var/run/docker.sock"}) is None
    assert remote.from_environment("reference", {"DOCKER_HOST": "ssh://u@vm1"}) is None


@pytest.mark.parametrize(
    ("spec", "name", "words"),
    [
        ("docker@ssh://root@vm1:2222", "docker@vm1", ("--host", "ssh://root@vm1:2222")),
        ("docker-buildkit@ctx1", "docker-buildkit@ctx1", ("--context", "ctx1")),
        (
            "podman@ssh://root@vm1/run/podman/podman.sock",
            "podman@vm1",
            ("--remote", "--url", "ssh://root@vm1/run/podman/podman.sock"),
        ),
        ("podman@conn1", "podman@conn1", ("--connection", "conn1")),
    ],
)
def test_loaded_remote_engine_carries_its_name_and_the_clients_words(spec, name, words):
    (engine,) = load_engines([spec], environ={})
    assert engine.name == name
    assert engine.cli.args == words
    assert engine.remote.target == spec.partition("@")[2]


def test_plain_engine_follows_docker_host_of_the_environment():
    (engine,) = load_engines(["docker"], environ={"DOCKER_HOST": "ssh://root@vm3"})
    assert (engine.name, engine.cli.args) == ("docker@vm3", ("--host", "ssh://root@vm3"))
    (local,) = load_engines(["docker"], environ={})
    assert (local.name, local.cli.args, local.remote) == ("docker", (), None)


@pytest.mark.parametrize(
    ("specs", "said"),
    [
        (["reference@ssh://root@vm1"], "runs only on this machine"),
        (["podman-rootless@ssh://u@vm1"], "podman@ssh://USER@HOST/run/user/UID/podman/podman.sock"),
        (["docker@ssh://a@vm1:22", "docker@ssh://b@vm1:2222"], "'docker@vm1' is named twice"),
    ],
)
def test_specs_that_cannot_run_are_refused_with_what_to_do(specs, said):
    with pytest.raises(UnknownEngine, match=said.replace("(", r"\(")):
        load_engines(specs, environ={})


def test_unknown_adapter_and_bad_target_are_usage_errors():
    message = unknown_engines_message(["dokcer@ssh://vm1", "docker@ftp://vm1"])
    assert "engine 'dokcer' is not registered (did you mean 'docker'?)" in message
    assert "engine 'docker@ftp://vm1': 'ftp://vm1': scheme 'ftp'" in message
    assert unknown_engines_message(["docker@ssh://root@vm1", "podman@conn1"]) == ""


class AnsweringDocker(DockerEngine):
    """Docker whose `info` answers without a daemon: only what remote placement changes is tested."""

    def info(self) -> EngineInfo:
        return EngineInfo(self.name, True, server_version="20.10")


def test_remote_engine_lacks_what_needs_this_machine_with_the_reason():
    here = AnsweringDocker()
    there = here.on_host(remote.parse_target("ssh://root@vm1"))
    assert {"mounts.bind", "host.probe", "host.facts"} <= set(there.capabilities().missing)
    assert not {"mounts.bind", "host.probe", "host.facts"} & set(here.capabilities().missing)
    assert "docker@vm1 runs on another machine (ssh://root@vm1)" in there.capabilities().reason("mounts.bind")
    assert here.name == "docker" and here.cli.args == ()  # placing made a copy


def test_remote_engine_stamps_its_origin_and_lists_only_this_machines_resources():
    where = remote.parse_target("ssh://root@vm1")
    spec = RunSpec(image="i", name="c", labels={"seatrial.session": "s1"})
    assert remote.stamped(spec, None) is spec
    assert remote.stamped(spec, where).labels == {"seatrial.session": "s1", remote.ORIGIN_LABEL: remote.origin()}
    mine = ResourceRef("container", "1", "a", {"seatrial.session": "s1", remote.ORIGIN_LABEL: remote.origin()})
    theirs = ResourceRef("container", "2", "b", {"seatrial.session": "s2", remote.ORIGIN_LABEL: "elsewhere"})
    unmarked = ResourceRef("container", "3", "c", {"seatrial.session": "s3"})
    assert remote.own_resources([mine, theirs, unmarked], where) == [mine]
    assert remote.own_resources([mine, theirs, unmarked], None) == [mine, theirs, unmarked]


def test_client_words_go_between_the_binary_and_the_subcommand():
    cli = Cli("/bin/echo", args=("--host", "ssh://root@vm1"))
    assert cli.run("version", ["version", "--format", "x"]).stdout == "--host ssh://root@vm1 version --format x\n"


def test_testinfra_host_reaches_the_container_through_the_same_words():
    host = container_host("docker", "/bin/echo", "c1", client_args=("--host", "ssh://root@vm1"))
    assert host.run("true").stdout == "--host ssh://root@vm1 exec c1 /bin/sh -c true\n"


def scenario(steps, **extra):
    return Scenario.model_validate(
        {"schema_version": 1, "name": "t", "summary": "x", "claims": ["C01"], "steps": steps, **extra}
    )


def test_probes_and_host_facts_are_needs_of_the_scenario():
    probing = scenario([{"probe": {"port": 80}}])
    facts = scenario([{"run": {"image": "i", "command": ["echo", "{{ host_kernel }}"]}}])
    plain = scenario([{"run": {"image": "i", "command": ["true"]}}])
    assert "host.probe" in needed_capabilities(probing)
    assert "host.facts" in needed_capabilities(facts)
    assert not {"host.probe", "host.facts"} & set(needed_capabilities(plain))


def test_divergence_of_an_adapter_holds_for_it_on_every_machine():
    documented = scenario(
        [{"run": {"image": "i", "command": ["true"]}}],
        divergences=[{"engine": "podman", "reason": "podman does it its way"}],
    )
    failed = [Check(0, "stdout", "a", "b", False)]
    assert divergence_reason(documented, "podman@vm1", failed) == "podman does it its way"
    assert divergence_reason(documented, "docker@vm1", failed) is None


def test_report_columns_name_the_remote_host(tmp_path):
    from seatrial.reports.results import load_results

    records = [{"type": "run_start", "run_id": "r", "time": 1.0, "host": {"hostname": "here"}, "engines": []}]
    for engine in ("docker", "docker@vm1"):
        records += [
            {"type": "item_start", "run_id": "r", "time": 2.0, "scenario": "s", "engine": engine},
            {"type": "item_end", "run_id": "r", "time": 3.0, "scenario": "s", "engine": engine, "outcome": "passed"},
        ]
    (tmp_path / "events.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    items = load_results([tmp_path]).items
    assert list(zip(items["column"], items["host"])) == [("docker", "here"), ("docker@vm1", "vm1")]


def test_cli_refuses_a_bad_target_as_usage_and_applies_host_to_each_engine(capsys):
    from seatrial.harness.cli import build_parser, main
    from seatrial.harness.cliparser import check_engine_names, subparsers

    assert main(["engines", "--quick", "--engine", "docker@ftp://vm1"]) == 2
    assert "seatrial engines: error: engine 'docker@ftp://vm1': 'ftp://vm1': scheme 'ftp'" in capsys.readouterr().err
    parser = build_parser()
    args = parser.parse_args(["run", "--engine", "docker", "--engine", "podman@conn1", "--host", "ssh://root@vm1"])
    check_engine_names(args, subparsers(parser)["run"])
    assert args.engine == ["docker@ssh://root@vm1", "podman@conn1"]


def test_run_help_says_how_to_name_an_engine_elsewhere(capsys):
    from seatrial.harness.cli import main

    assert main(["run", "--help"]) == 0
    said = " ".join(capsys.readouterr().out.split())
    assert "docker@ssh://USER@HOST[:PORT] (as DOCKER_HOST)" in said
    assert "podman@ssh://USER@HOST[:PORT]/run/podman/podman.sock" in said
