"""Volumes, bind mounts, networks and published ports on the real kernel."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request

import pytest
from reference_busybox import IMAGE, links

from seatrial.engines import base


def run(engine, labels, name, script, **kwargs) -> base.RunResult:
    kwargs.setdefault("network", "none")
    return engine.run(base.RunSpec(image=IMAGE, name=name, command=("sh", "-c", script), labels=labels, **kwargs))


def test_named_volume_outlives_its_container_and_is_seeded_from_the_image(engine, labels):
    volume = engine.volume_create(base.VolumeSpec("vol-data", labels=labels))
    mount = base.Mount("volume", "vol-data", "/data")
    first = run(engine, labels, "w", "cat /data/seed.txt; echo kept > /data/new", mounts=(mount,), remove=True)
    assert first.stdout == "from the image\n"
    second = run(engine, labels, "r", "cat /data/new", mounts=(mount,), remove=True)
    assert second.stdout == "kept\n"
    engine.remove(volume)
    assert engine.volumes.get("vol-data") is None


def test_bind_mount_shadows_the_image_and_is_shared_both_ways(engine, labels, tmp_path):
    (tmp_path / "host.txt").write_text("from host\n")
    mount = base.Mount("bind", str(tmp_path), "/data")
    result = run(engine, labels, "b", "ls /data; echo back > /data/back.txt", mounts=(mount,), remove=True)
    assert result.stdout.split() == ["host.txt"]  # seed.txt of the image is shadowed
    assert (tmp_path / "back.txt").read_text() == "back\n"
    assert run(engine, labels, "b2", "ls /data", remove=True).stdout.split() == ["seed.txt"]


def test_a_bind_mount_sees_a_host_mount_made_after_the_spare_sandbox(engine, labels, tmp_path):
    """A spare sandbox copies the host's mounts ahead of its container; a mount the host makes
    after that copy must still be what the container's bind mount shows, not the folder under it."""
    source = tmp_path / "mounted"
    source.mkdir()
    (source / "under.txt").write_text("the folder under the mount\n")
    run(engine, labels, "before", "true", remove=True)  # the next spare's copy is made after this
    time.sleep(0.5)
    subprocess.run(["mount", "-t", "tmpfs", "seatrial-test", str(source)], check=True)
    try:
        (source / "over.txt").write_text("the mount\n")
        mount = base.Mount("bind", str(source), "/data")
        assert run(engine, labels, "after", "ls /data", mounts=(mount,), remove=True).stdout.split() == ["over.txt"]
    finally:
        subprocess.run(["umount", str(source)], check=True)


def test_network_none_has_loopback_only(engine, labels):
    out = run(engine, labels, "n", "ls /sys/class/net", remove=True).stdout
    assert out.split() == ["lo"]


def test_host_network_sees_host_interfaces(engine, labels):
    out = run(engine, labels, "h", "ls /sys/class/net", network="host", remove=True).stdout
    assert "lo" in out.split() and len(out.split()) > 1


def test_user_network_resolves_names_and_default_bridge_does_not(engine, labels):
    engine.network_create(base.NetworkSpec("net-a", labels=labels))
    run(
        engine,
        labels,
        "web",
        "echo hello > /var/www/index.html; exec httpd -f -p 80 -h /var/www",
        network="net-a",
        detach=True,
    )
    client = run(
        engine,
        labels,
        "client",
        "grep -q web /etc/hosts || exit 9; for i in $(seq 50); do wget -qO- http://web/ && break; sleep 0.05; done",
        network="net-a",
        remove=True,
    )
    assert (client.exit_code, client.stdout) == (0, "hello\n")
    run(engine, labels, "db", "exec sleep 60", network="bridge", detach=True)
    address = engine.inspect(base.ResourceRef("container", "", "db"))["ip_addresses"]["bridge"]
    on_default = run(
        engine,
        labels,
        "probe",
        f"ping -c1 -W2 {address} >/dev/null && echo addr-ok; ping -c1 -W1 db || echo no-name",
        network="bridge",
        remove=True,
    )
    assert "addr-ok" in on_default.stdout and "no-name" in on_default.stdout


def test_user_networks_are_isolated_from_each_other(engine, labels):
    engine.network_create(base.NetworkSpec("net-b", labels=labels))
    engine.network_create(base.NetworkSpec("net-c", labels=labels))
    run(engine, labels, "b1", "exec sleep 60", network="net-b", detach=True)
    address = engine.inspect(base.ResourceRef("container", "", "b1"))["ip_addresses"]["net-b"]
    across = run(engine, labels, "c1", f"ping -c1 -W1 {address}", network="net-c", remove=True)
    assert across.exit_code != 0


def test_published_port_is_reachable_on_loopback_and_expose_alone_is_not(engine, labels):
    started = run(
        engine,
        labels,
        "pub",
        "echo hi > /var/www/index.html; exec httpd -f -p 8080 -h /var/www",
        network="bridge",
        detach=True,
        ports=(base.PortMapping(8080),),
    )
    port = engine.inspect(started.container)["ports"]["8080/tcp"]
    for _ in range(50):
        try:
            body = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read()
            break
        except OSError:
            time.sleep(0.05)
    assert body == b"hi\n"
    engine.remove(started.container)
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0


def test_testinfra_host_sees_files_inside(engine, labels):
    run(engine, labels, "ti", "exec sleep 60", detach=True)
    host = engine.testinfra_host("ti")
    assert host.file("/data/seed.txt").exists
    assert host.file("/data/seed.txt").content_string == "from the image\n"
    assert not host.file("/nope").exists


def test_testinfra_finds_the_backend_by_url(engine, labels, state_root, monkeypatch):
    import testinfra

    import seatrial.engines.reference.testinfra_backend  # noqa: F401 -- registers the scheme

    monkeypatch.setenv("SEATRIAL_REFERENCE_ROOT", str(state_root))
    run(engine, labels, "byurl", "exec sleep 60", detach=True)
    host = testinfra.get_host("seatrial-reference://byurl")
    assert host.run("hostname").exit_status == 0 and host.file("/bin/busybox").exists


def test_nslookup_resolves_peers_on_a_user_network_only(engine, labels):
    engine.network_create(base.NetworkSpec("net-d", labels=labels))
    run(engine, labels, "peer", "exec sleep 60", network="net-d", detach=True)
    address = engine.inspect(base.ResourceRef("container", "", "peer"))["ip_addresses"]["net-d"]
    found = run(engine, labels, "asker", "nslookup peer; nslookup nosuch", network="net-d", remove=True)
    assert address in found.stdout and "NXDOMAIN" in found.stdout + found.stderr


def test_a_network_with_a_running_container_is_kept_and_a_stopped_one_detaches(engine, labels):
    network = engine.network_create(base.NetworkSpec("net-e", labels=labels))
    started = run(engine, labels, "e1", "exec sleep 60", network="net-e", detach=True)
    with pytest.raises(base.EngineError, match="active endpoints \\['e1'\\]"):
        engine.remove(network)
    engine.stop("e1", timeout=0.1)
    engine.remove(network)
    assert engine.networks.get("net-e") is None
    engine.remove(started.container)


def test_exec_that_times_out_is_killed(engine, labels):
    run(engine, labels, "slow", "exec sleep 60", detach=True)
    with pytest.raises(base.EngineError, match="timed out"):
        engine.exec("slow", ("sleep", "30"), timeout=0.3)
    listed = engine.exec("slow", ("ps", "-o", "args"))
    assert "sleep 30" not in listed.stdout


def test_two_state_roots_get_their_own_default_bridge_and_subnet(engine, labels, tmp_path):
    from reference_busybox import write_archive

    from seatrial.engines.reference.adapter import ReferenceEngine

    other = ReferenceEngine(tmp_path / "other-root")
    other.load(write_archive(tmp_path / "busybox.tar"))
    try:
        run(engine, labels, "here", "exec sleep 60", network="bridge", detach=True)
        run(other, labels, "there", "exec sleep 60", network="bridge", detach=True)
        mine, theirs = engine.networks.get("bridge"), other.networks.get("bridge")
        assert mine["bridge"] != theirs["bridge"] and mine["subnet"] != theirs["subnet"]
        address = other.inspect(base.ResourceRef("container", "", "there"))["ip_addresses"]["bridge"]
        reached = run(other, labels, "probe", f"ping -c1 -W2 {address}", network="bridge", remove=True)
        assert reached.exit_code == 0
    finally:
        other.reap(session=labels["seatrial.session"])
        other.reap(label="seatrial.session")


def test_a_container_on_a_bridge_gets_its_veth_up_on_that_bridge_and_eth0_inside(engine, labels):
    # One rtnetlink request makes the pair (rtnetlink.py): the host end enslaved and up, the
    # peer named eth0 in the container's netns with the address the network reserved.
    net = engine.network_create(base.NetworkSpec(f"veth-{labels['seatrial.session']}", labels=labels))
    try:
        started = run(engine, labels, "v", "exec sleep 60", network=net.name, detach=True)
        record = engine.state.container_record(started.container.id)
        assert record["address"], record  # from started.json, written with the start
        bridge = engine.networks.get(net.name)["bridge"]
        veth = f"/sys/class/net/sr{record['tag']}v{started.container.id[:6]}"
        assert os.path.basename(os.readlink(f"{veth}/master")) == bridge
        assert int(open(f"{veth}/flags").read(), 16) & 0x1  # IFF_UP
        inside = engine.exec("v", ("ip", "-o", "-4", "addr", "show", "eth0")).stdout
        assert f"inet {record['address']}/" in inside, inside
        engine.remove(started.container)
    finally:
        engine.remove(net)


def test_a_veth_for_a_bridge_that_is_gone_is_refused_with_the_kernels_reason_and_makes_nothing():
    from seatrial.engines.reference import rtnetlink

    with pytest.raises(OSError, match="no such device"):
        rtnetlink.add_veth("srtestgone0", os.getpid(), "srnosuchbr0")
    # a bridge that exists but a peer netns that does not: the kernel's ESRCH, and no half pair
    with pytest.raises(OSError, match="No such process"):
        rtnetlink.add_veth("srtestgone0", 2**22 + 7, "lo")
    # only this test's name: other workers' containers come and go on the host meanwhile
    assert not [link for link in links() if link.startswith("srtestgone")]
