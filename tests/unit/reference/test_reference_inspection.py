"""The reference runtime's inspect documents: the CLI engines' normalized keys, the record under
"raw", and errors worded as the CLI adapters word them; without root."""

from __future__ import annotations

import io

import pytest

from seatrial.engines import base
from seatrial.engines import inspection as cli_inspection
from seatrial.engines.reference import inspectrecords as inspection
from seatrial.engines.reference.adapter import ReferenceEngine
from seatrial.engines.reference.debugcli import main
from seatrial.engines.reference.state import write_json

CONTAINER = {
    "id": "c0ffee" * 10 + "abcd",
    "name": "web",
    "image": "seatrial/base:1",
    "labels": {"seatrial.session": "s1"},
    "network": "net-a",
    "address": "10.213.4.2",
    "ports": [{"container_port": 8080, "host_ip": "127.0.0.1", "host_port": 40123, "protocol": "tcp"}],
    "argv": ["httpd", "-f"],
    "shim_pid": 4321,
    "pid": 4322,
    "shim_start": "99",
}
IMAGE = {
    "id": "sha256:" + "ab" * 32,
    "size": 2048,
    "tags": ["app:1", "app:latest"],
    "layers": ["sha256:" + "cd" * 32],
    "config": {
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "Env": ["PATH=/bin", "X=1"],
            "Cmd": ["cat", "/b.txt"],
            "Entrypoint": None,
            "WorkingDir": "/srv",
            "ExposedPorts": {"80/tcp": {}, "53/udp": {}},
            "Labels": {"seatrial.session": "s1"},
        },
    },
}


def test_a_running_container_shows_its_address_ports_and_pid_by_the_cli_engines_keys():
    doc = inspection.container(CONTAINER, is_running=True, exit_record=None)
    assert set(doc) == set(cli_inspection.container({}))
    assert (doc["state"], doc["exit_code"], doc["pid"]) == ("running", None, 4322)
    assert doc["ip_addresses"] == {"net-a": "10.213.4.2"} and doc["ports"] == {"8080/tcp": 40123}
    assert (doc["id"], doc["name"], doc["image"], doc["labels"]) == (
        CONTAINER["id"],
        "web",
        "seatrial/base:1",
        {"seatrial.session": "s1"},
    )
    assert doc["raw"] == CONTAINER and doc["raw"]["shim_pid"] == 4321


def test_an_exited_container_has_its_exit_code_and_no_address_ports_or_pid():
    doc = inspection.container(CONTAINER, is_running=False, exit_record={"exit_code": 3})
    assert (doc["state"], doc["exit_code"], doc["pid"], doc["ip_addresses"], doc["ports"]) == (
        "exited",
        3,
        None,
        {},
        {},
    )


def test_a_shim_that_died_without_recording_the_exit_reads_as_killed_as_wait_says():
    doc = inspection.container(CONTAINER, is_running=False, exit_record=None)
    assert (doc["state"], doc["exit_code"]) == ("exited", 137)


def test_a_container_never_started_is_created():
    record = {k: v for k, v in CONTAINER.items() if k not in ("shim_pid", "pid", "shim_start")}
    assert inspection.container(record, is_running=False, exit_record=None)["state"] == "created"


@pytest.mark.parametrize("network", ["host", "none"])
def test_host_and_none_networks_give_no_address(network):
    record = {**CONTAINER, "network": network, "address": ""}
    assert inspection.container(record, is_running=True, exit_record=None)["ip_addresses"] == {}


def test_an_image_shows_its_config_by_the_cli_engines_keys():
    doc = inspection.image(IMAGE)
    assert set(doc) == set(cli_inspection.image({}))
    assert (doc["id"], doc["size"], doc["tags"]) == (IMAGE["id"], 2048, ["app:1", "app:latest"])
    assert (doc["env"], doc["cmd"], doc["entrypoint"], doc["workdir"]) == (
        ["PATH=/bin", "X=1"],
        ["cat", "/b.txt"],
        [],
        "/srv",
    )
    assert doc["exposed_ports"] == ["53/udp", "80/tcp"] and doc["labels"] == {"seatrial.session": "s1"}
    assert doc["raw"]["layers"] == IMAGE["layers"]


def test_networks_and_volumes_show_the_cli_engines_keys():
    net = inspection.network(
        {
            "id": "n1",
            "name": "net-a",
            "labels": {"a": "b"},
            "internal": True,
            "bridge": "sr0000n1",
            "subnet": "10.213.4.0/24",
            "is_default": False,
            "endpoints": {},
        }
    )
    assert set(net) == set(cli_inspection.network({}))
    assert (net["id"], net["name"], net["labels"], net["internal"], net["raw"]["subnet"]) == (
        "n1",
        "net-a",
        {"a": "b"},
        True,
        "10.213.4.0/24",
    )
    vol = inspection.volume({"name": "v", "labels": {}, "created": 1.0}, "/state/volumes/v/_data")
    assert set(vol) == set(cli_inspection.volume({}))
    assert (vol["id"], vol["name"], vol["mountpoint"]) == ("v", "v", "/state/volumes/v/_data")


@pytest.fixture
def engine(tmp_path) -> ReferenceEngine:
    return ReferenceEngine(tmp_path / "state")


def test_inspect_of_an_image_and_a_volume_goes_through_the_normalizers(engine):
    image_id = engine.images.add(IMAGE["config"], [], ("app:1",))
    doc = engine.inspect(base.ResourceRef("image", "", "app:1"))
    assert doc["id"] == image_id and doc["cmd"] == ["cat", "/b.txt"] and doc["tags"] == ["app:1"]
    engine.volume_create(base.VolumeSpec("v", labels={"k": "v"}))
    vol = engine.inspect(base.ResourceRef("volume", "v", "v"))
    assert vol["labels"] == {"k": "v"} and vol["mountpoint"] == str(engine.state.volumes / "v" / "_data")


def test_removing_an_image_by_id_drops_every_tag_and_by_name_only_that_one(engine):
    image_id = engine.images.add(IMAGE["config"], [], ("app:1", "app:2", "app:3"))
    engine.remove(base.ResourceRef("image", "", "app:1"))
    assert engine.inspect(base.ResourceRef("image", image_id))["tags"] == ["app:2", "app:3"]
    engine.remove(base.ResourceRef("image", image_id, "app:2"))
    assert not engine.image_exists(image_id) and not engine.image_exists("app:3")


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda e: e.inspect(base.ResourceRef("container", "", "ghost")),
            "inspect of container 'ghost' failed: no such container: ghost",
        ),
        (
            lambda e: e.inspect(base.ResourceRef("network", "", "ghost")),
            "inspect of network 'ghost' failed: no such network",
        ),
        (
            lambda e: e.inspect(base.ResourceRef("volume", "", "ghost")),
            "inspect of volume 'ghost' failed: no such volume",
        ),
        (
            lambda e: e.inspect(base.ResourceRef("image", "", "ghost:1")),
            "inspect of image 'ghost:1' failed: .*not found",
        ),
        (lambda e: e.exec("ghost", ("true",)), "exec in container 'ghost' failed: no such container: ghost"),
        (lambda e: e.logs("ghost"), "logs of container 'ghost' failed: no such container"),
        (lambda e: e.wait("ghost", timeout=1), "wait for container 'ghost' failed: no such container"),
        (lambda e: e.stop("ghost"), "stop of container 'ghost' failed: no such container"),
        (
            lambda e: e.run(base.RunSpec("absent:1", "x", command=("true",))),
            "run of container 'x' failed: exit code 125; image 'absent:1' is not here",
        ),
    ],
)
def test_errors_name_the_operation_as_the_cli_adapters_do_and_keep_the_reason(engine, call, message):
    with pytest.raises(base.EngineError, match=message):
        call(engine)


def test_build_errors_name_the_build_and_its_tag(engine, tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM scratch\nRUNN x\n")
    with pytest.raises(base.EngineError, match="build of 'bad:1' failed: Dockerfile:2: unknown instruction 'RUNN'"):
        engine.build(base.BuildSpec(tag="bad:1", context=tmp_path))


def test_cli_ps_shows_created_and_exited_containers_from_the_normalized_state(engine):
    for name, exit_code in (("fresh", None), ("done", 3)):
        cdir = engine.state.containers / f"{name}{'0' * 60}"
        record = {"id": cdir.name, "name": name, "network": "none", "argv": ["true"], "labels": {}}
        write_json(cdir / "config.json", record if exit_code is None else {**record, "shim_pid": 1, "pid": 2})
        if exit_code is not None:
            write_json(cdir / "exit.json", {"exit_code": exit_code})
    out, err = io.StringIO(), io.StringIO()
    assert main(["--root", str(engine.state.root), "ps", "-a"], stdout=out, stderr=err) == 0, err.getvalue()
    rows = {line.split()[1]: line.split()[2] for line in out.getvalue().splitlines()[1:]}
    assert rows == {"fresh": "created", "done": "exited(3)"}
    out = io.StringIO()
    main(["--root", str(engine.state.root), "ps"], stdout=out, stderr=err)
    assert out.getvalue().splitlines()[1:] == []
