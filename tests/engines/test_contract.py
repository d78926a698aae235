"""One contract, every engine: what seatrial relies on, checked on docker, docker-buildkit, podman and reference.

Needs root and running engines; skips come from each engine's info() and capabilities().
"""

from __future__ import annotations

import time
import urllib.request
import uuid

import pytest

from seatrial.engines.base import (
    BuildSpec,
    EngineError,
    Mount,
    NetworkSpec,
    PortMapping,
    ResourceRef,
    RunSpec,
    VolumeSpec,
)

pytestmark = pytest.mark.root


def write_context(path, dockerfile: str, **files: str):
    path.mkdir(exist_ok=True)
    (path / "Dockerfile").write_text(dockerfile)
    for name, text in files.items():
        (path / name).write_text(text)
    return path


def hits(result) -> dict[int, bool | None]:
    return {i.index: i.is_cache_hit for i in result.instructions}


def test_info_reports_versions_runtime_storage_and_cgroups(engine):
    info = engine.info()
    assert info.is_available and info.client_version and info.server_version
    assert info.oci_runtime and info.storage_driver
    assert info.cgroup_version in ("1", "2")


def test_build_reports_cache_hit_and_miss_per_instruction(engine, base_tag, labels, unique, tmp_path, requires):
    requires("build", "build.cache_report")
    stamp = uuid.uuid4().hex  # a new first RUN: the first build is cold on every engine
    ctx = write_context(
        tmp_path / "ctx",
        f"FROM {base_tag}\nRUN echo {stamp} > /stamp\n"
        'COPY a.txt /a.txt\nRUN cat /a.txt > /b.txt\nENV X=1\nCMD ["cat", "/b.txt"]\n',
        **{"a.txt": "one\n"},
    )
    spec = BuildSpec(tag=unique("img"), context=ctx, labels=labels)
    cold = engine.build(spec)
    assert [i.index for i in cold.instructions] == [0, 1, 2, 3, 4, 5]
    assert hits(cold)[0] is None and not any(hits(cold)[i] for i in (1, 2, 3))
    warm = engine.build(spec)
    assert all(hits(warm)[i] for i in (1, 2, 3)), warm.log
    assert all(hits(warm)[i] in (True, None) for i in (4, 5))  # BuildKit does not report ENV, CMD
    assert warm.image.id == cold.image.id
    (ctx / "a.txt").write_text(f"two {stamp}\n")
    changed = engine.build(spec)
    assert hits(changed)[1] is True and hits(changed)[2] is False and hits(changed)[3] is False, changed.log
    assert all(hits(changed)[i] in (False, None) for i in (4, 5))
    doc = engine.inspect(changed.image)
    assert changed.size == doc["size"] > 0
    assert doc["labels"][next(iter(labels))] == labels[next(iter(labels))]
    assert doc["cmd"] == ["cat", "/b.txt"] and "X=1" in doc["env"]


def test_build_failure_names_the_build_and_exit_code(engine, base_tag, labels, unique, tmp_path, requires):
    requires("build")
    ctx = write_context(tmp_path / "bad", f"FROM {base_tag}\nRUN false\n")
    with pytest.raises(EngineError, match="build of .* exit code"):
        engine.build(BuildSpec(tag=unique("bad"), context=ctx, labels=labels))


def test_run_to_completion_keeps_stdout_stderr_and_exit_code_apart(engine, base_tag, labels, unique):
    name = unique("run")
    result = engine.run(
        RunSpec(base_tag, name, command=("sh", "-c", "echo out; echo err >&2; exit 3"), network="none", labels=labels)
    )
    assert (result.exit_code, result.stdout, result.stderr) == (3, "out\n", "err\n")
    doc = engine.inspect(ResourceRef("container", "", name))
    assert doc["state"] == "exited" and doc["exit_code"] == 3 and doc["name"] == name
    assert engine.logs(name) == ("out\n", "err\n")


def test_run_remove_leaves_no_container_and_exit_code_125_from_the_process_is_kept(engine, base_tag, labels, unique):
    name = unique("rm")
    result = engine.run(
        RunSpec(base_tag, name, command=("sh", "-c", "exit 125"), remove=True, network="none", labels=labels)
    )
    assert result.exit_code == 125
    assert not [r for r in engine.resources(f"seatrial.session={labels['seatrial.session']}") if r.name == name]


def test_run_of_a_missing_image_is_an_engine_error(engine, labels, unique):
    with pytest.raises(EngineError, match="run of container .*exit code 125"):
        engine.run(RunSpec("seatrial/absent:nothing", unique("x"), command=("true",), network="none", labels=labels))


def test_detached_container_exec_stop_and_inspect(engine, base_tag, labels, unique, requires):
    requires("exec")
    name = unique("det")
    result = engine.run(RunSpec(base_tag, name, command=("sleep", "300"), detach=True, labels=labels))
    assert result.exit_code is None and result.container.id
    doc = engine.inspect(result.container)
    # Containers also inherit the image's labels (seatrial.base).
    assert doc["state"] == "running" and labels.items() <= doc["labels"].items() and doc["id"] == result.container.id
    assert engine.exec(name, ("echo", "inside")).stdout == "inside\n"
    failed = engine.exec(name, ("sh", "-c", "echo e >&2; exit 4"))
    assert (failed.exit_code, failed.stderr) == (4, "e\n")
    engine.stop(name, timeout=1)
    assert engine.inspect(result.container)["state"] == "exited"
    assert engine.wait(name, timeout=30) == engine.inspect(result.container)["exit_code"]
    with pytest.raises(EngineError, match="exec in container"):
        engine.exec(unique("absent"), ("true",))


def test_env_entrypoint_and_command_override(engine, base_tag, labels, unique, tmp_path, requires):
    requires("build")
    ctx = write_context(tmp_path / "ep", f'FROM {base_tag}\nENTRYPOINT ["echo", "from-entrypoint"]\nCMD ["from-cmd"]\n')
    image = engine.build(BuildSpec(tag=unique("ep"), context=ctx, labels=labels)).image.name
    assert engine.run(RunSpec(image, unique("a"), network="none", labels=labels)).stdout == "from-entrypoint from-cmd\n"
    assert (
        engine.run(RunSpec(image, unique("b"), command=("x",), network="none", labels=labels)).stdout
        == "from-entrypoint x\n"
    )
    cleared = engine.run(
        RunSpec(image, unique("c"), entrypoint=(), command=("echo", "cleared"), network="none", labels=labels)
    )
    assert cleared.stdout == "cleared\n"
    env = engine.run(
        RunSpec(
            image,
            unique("d"),
            entrypoint=("sh", "-c"),
            command=("echo $X-$Y",),
            env={"X": "a b", "Y": "$HOME"},
            network="none",
            labels=labels,
        )
    )
    assert env.stdout == "a b-$HOME\n"
    who = engine.run(
        RunSpec(
            base_tag,
            unique("e"),
            command=("sh", "-c", "id -u; hostname; pwd"),
            user="65534",
            hostname="seahost",
            workdir="/tmp",
            network="none",
            labels=labels,
        )
    )
    assert who.stdout == "65534\nseahost\n/tmp\n"


def test_network_none_has_only_loopback(engine, base_tag, labels, unique, requires):
    requires("network.none")
    out = engine.run(
        RunSpec(base_tag, unique("none"), command=("ls", "/sys/class/net"), network="none", labels=labels)
    ).stdout
    assert out.split() == ["lo"]


def test_network_host_sees_the_hosts_interfaces(engine, base_tag, labels, unique, requires):
    requires("network.host")
    out = engine.run(
        RunSpec(base_tag, unique("host"), command=("ls", "/sys/class/net"), network="host", labels=labels)
    ).stdout
    # Bridges and veths come and go with other containers on this host: compare the stable
    # one, the interface of the default route.
    with open("/proc/net/route") as routes:
        stable = {line.split()[0] for line in routes.readlines()[1:] if line.split()[1] == "00000000"}
    assert stable and stable <= set(out.split()) and "lo" in out.split()


def test_network_bridge_gives_an_address(engine, base_tag, labels, unique, requires):
    requires("network.bridge")
    name = unique("br")
    engine.run(RunSpec(base_tag, name, command=("sleep", "300"), detach=True, labels=labels))
    addresses = engine.inspect(ResourceRef("container", "", name))["ip_addresses"]
    assert list(addresses) == ["bridge"] and addresses["bridge"].count(".") == 3


WAIT_HTTP = "for i in $(seq 1 100); do wget -q -O- {url} && exit 0; sleep 0.1; done; exit 1"
HTTPD = "mkdir -p /www && echo {text} > /www/index.html && exec httpd -f -p {port} -h /www"


def test_user_network_resolves_names_and_aliases(engine, base_tag, labels, unique, requires):
    requires("network.user_defined")
    net = engine.network_create(NetworkSpec(unique("net"), labels=labels))
    server = unique("srv")
    engine.run(
        RunSpec(
            base_tag,
            server,
            command=("sh", "-c", HTTPD.format(text="hello-net", port=8080)),
            network=net.name,
            network_aliases=("web",),
            detach=True,
            labels=labels,
        )
    )
    for host in (server, "web"):
        client = engine.run(
            RunSpec(
                base_tag,
                unique("cli"),
                network=net.name,
                labels=labels,
                command=("sh", "-c", WAIT_HTTP.format(url=f"http://{host}:8080/")),
            )
        )
        assert (client.exit_code, client.stdout) == (0, "hello-net\n"), client.stderr
    lookup = engine.run(RunSpec(base_tag, unique("ns"), command=("nslookup", "web"), network=net.name, labels=labels))
    address = engine.inspect(ResourceRef("container", "", server))["ip_addresses"][net.name]
    assert lookup.exit_code == 0 and address in lookup.stdout, lookup.stdout + lookup.stderr
    assert engine.inspect(net)["labels"] == labels


def test_published_port_is_reachable_on_loopback(engine, base_tag, labels, unique, requires):
    requires("ports.publish")
    name = unique("port")
    engine.run(
        RunSpec(
            base_tag,
            name,
            command=("sh", "-c", HTTPD.format(text="hello-port", port=8080)),
            ports=(PortMapping(8080),),
            detach=True,
            labels=labels,
        )
    )
    port = engine.inspect(ResourceRef("container", "", name))["ports"]["8080/tcp"]
    deadline, body = time.monotonic() + 15, None
    while body is None and time.monotonic() < deadline:
        try:
            body = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read()
        except OSError:
            time.sleep(0.1)
    assert body == b"hello-port\n"


def test_named_volume_outlives_its_container(engine, base_tag, labels, unique, requires):
    requires("volumes.named")
    vol = engine.volume_create(VolumeSpec(unique("vol"), labels=labels))
    mount = Mount("volume", vol.name, "/data")
    engine.run(
        RunSpec(
            base_tag,
            unique("w"),
            command=("sh", "-c", "echo kept > /data/f"),
            mounts=(mount,),
            network="none",
            labels=labels,
        )
    )
    read = engine.run(
        RunSpec(base_tag, unique("r"), command=("cat", "/data/f"), mounts=(mount,), network="none", labels=labels)
    )
    assert read.stdout == "kept\n"
    assert engine.inspect(vol)["labels"] == labels


def test_bind_mount_shows_host_files_and_read_only_holds(engine, base_tag, labels, unique, tmp_path, requires):
    requires("mounts.bind")
    (tmp_path / "f").write_text("from-host\n")
    mount = Mount("bind", str(tmp_path), "/host", read_only=True)
    result = engine.run(
        RunSpec(
            base_tag,
            unique("b"),
            mounts=(mount,),
            network="none",
            labels=labels,
            command=("sh", "-c", "cat /host/f; touch /host/g"),
        )
    )
    assert result.stdout == "from-host\n" and result.exit_code != 0
    assert not (tmp_path / "g").exists()


def test_testinfra_host_checks_files_in_the_container(engine, base_tag, labels, unique, requires):
    requires("inspect.files", "exec")
    name = unique("ti")
    engine.run(
        RunSpec(
            base_tag, name, command=("sh", "-c", "echo marker > /tmp/m; exec sleep 300"), detach=True, labels=labels
        )
    )
    host = engine.testinfra_host(name)
    deadline = time.monotonic() + 10
    while not host.file("/tmp/m").exists and time.monotonic() < deadline:
        time.sleep(0.1)
    assert host.file("/tmp/m").content_string == "marker\n"
    assert not host.file("/absent").exists
    assert host.run("hostname").rc == 0


def test_resources_finds_every_kind_and_remove_is_idempotent(engine, base_tag, labels, unique, tmp_path):
    probe = {**labels, "seatrial.probe": uuid.uuid4().hex}
    selector = f"seatrial.probe={probe['seatrial.probe']}"
    ctx = write_context(tmp_path / "r", f"FROM {base_tag}\nRUN echo {uuid.uuid4().hex} > /x\n")
    image = engine.build(BuildSpec(tag=unique("res"), context=ctx, labels=probe)).image
    engine.tag(image.name, unique("alias"))
    made = {
        "image": image,
        "network": engine.network_create(NetworkSpec(unique("net"), labels=probe)),
        "volume": engine.volume_create(VolumeSpec(unique("vol"), labels=probe)),
        "container": engine.run(
            RunSpec(image.name, unique("c"), command=("sleep", "300"), detach=True, labels=probe)
        ).container,
    }
    found = engine.resources(selector)
    # Intermediate images of the build carry the labels too: several images may be found.
    assert sorted({r.kind for r in found}) == ["container", "image", "network", "volume"]
    assert all(r.labels["seatrial.probe"] == probe["seatrial.probe"] for r in found)
    for kind, ref in made.items():
        assert engine.inspect(ref)["id"] in {r.id for r in found if r.kind == kind}
    for ref in sorted(found, key=lambda r: ["container", "image", "network", "volume"].index(r.kind)):
        engine.remove(ref)
        engine.remove(ref)  # already gone: not an error
    assert engine.resources(selector) == []
    assert not engine.image_exists(image.name)
    engine.remove(ResourceRef("network", "", unique("never")))
    engine.remove(ResourceRef("volume", "", unique("never")))


def test_load_reports_the_tag_of_the_archive(engine, base, base_tag):
    ref = engine.load(base.path)  # loading again is harmless: same bytes, same id
    assert ref.name.endswith(base_tag) and engine.image_exists(base_tag)
    assert engine.inspect(ref)["labels"] == {"seatrial.base": base.digest}
