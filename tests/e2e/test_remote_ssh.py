"""Engines on another machine, for real: Docker and Podman reached through an sshd on loopback.

The daemon is this machine's, but every command travels through SSH as it would to a remote
host (sshserver.py), so these runs prove the remote paths: the client's words, builds and loads
streamed over the connection, labels and cleanup through it, the results named `engine@host`,
and the scenarios that need this machine skipped with the capability they lack.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sshserver import SSHD, LoopbackSsh

from seatrial.engines.base import ResourceRef
from seatrial.engines.discovery import load_engines

SEATRIAL = [sys.executable, "-m", "seatrial.harness.cli"]
# Three scenarios that run through SSH (a build, the default bridge, a named volume) and two
# that must be skipped there: a bind mount of a folder here, a probe from here.
SUBSET = "default-bridge or named-volume or bind-mount-shadowing or expose-publishes-nothing"


def available(name: str) -> bool:
    try:
        return load_engines([name], environ={})[0].info().is_available
    except Exception:
        return False


pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(not SSHD.is_file(), reason="openssh-server is not installed (vagrant/provision.sh installs it)"),
    pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="ssh-keygen is not installed (openssh-client)"),
    pytest.mark.skipif(os.geteuid() != 0, reason="the engines and sshd's root login need root"),
]


@pytest.fixture(scope="module")
def ssh(tmp_path_factory):
    server = LoopbackSsh(tmp_path_factory.mktemp("ssh"))
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(server.folder, ignore_errors=True)  # keys and configs: nothing kept after the session


@pytest.fixture(scope="module")
def podman_url(ssh):
    if not available("podman"):
        pytest.skip("podman is not available here")
    return ssh.start_podman_service(load_engines(["podman"], environ={})[0].cli.binary)


def seatrial(ssh, *args, timeout=1500):
    return subprocess.run(
        [*SEATRIAL, *args], capture_output=True, text=True, timeout=timeout, env=ssh.env(), cwd=ssh.folder
    )


def test_engines_lists_remote_engines_with_the_far_sides_versions(ssh, podman_url):
    if not available("docker"):
        pytest.skip("docker is not available here")
    before = ssh.logins()
    proc = seatrial(
        ssh, "engines", "--quick", "--json", "--engine", f"docker@{ssh.url}", "--engine", f"podman@{podman_url}"
    )
    assert proc.returncode == 0, proc.stderr
    listed = {row["name"]: row for row in json.loads(proc.stdout)}
    assert set(listed) == {"docker@127.0.0.1", "podman@127.0.0.1"}
    for name, row in listed.items():
        local = load_engines([name.partition("@")[0]], environ={})[0].info()
        assert row["status"] == "available", row
        assert row["server_version"] == local.server_version  # the same engine, asked through ssh
        assert "mounts.bind" in row["missing"] and "host.probe" in row["missing"]
    assert ssh.logins() > before  # the questions went through sshd
    # DOCKER_HOST pointing there makes the plain `docker` that engine, labelled the same.
    env = {**ssh.env(), "DOCKER_HOST": ssh.url}
    args = [*SEATRIAL, "engines", "--quick", "--json", "--engine", "docker"]
    proc = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120, cwd=ssh.folder)
    assert proc.returncode == 0, proc.stderr
    assert [row["name"] for row in json.loads(proc.stdout)] == ["docker@127.0.0.1"]


def test_a_docker_context_and_a_podman_connection_are_engines_named_by_them(ssh, podman_url):
    if not available("docker"):
        pytest.skip("docker is not available here")
    env = ssh.env()  # HOME is the session's: Docker keeps the context there
    docker = load_engines(["docker"], environ={})[0].cli.binary
    made = [docker, "context", "create", "seatrial-e2e", "--docker", f"host={ssh.url}"]
    subprocess.run(made, env=env, check=True, capture_output=True, timeout=120)
    # Root's Podman connections live in /etc/containers/containers.conf, shared by everything on
    # this machine: the connection goes into a copy of it, named by CONTAINERS_CONF. (Podman
    # 4.3's `system connection add` cut the socket's path to its last two parts here, so the
    # entry is written as it would write it.)
    conf = ssh.folder / "containers.conf"
    system = Path("/etc/containers/containers.conf")
    conf.write_text(
        (system.read_text() if system.is_file() else "")
        + f'\n[engine.service_destinations.seatrial-e2e]\nuri = "{podman_url}"\nidentity = "{env["CONTAINER_SSHKEY"]}"\n'
    )
    env["CONTAINERS_CONF"] = str(conf)
    args = ["engines", "--quick", "--json", "--host", "seatrial-e2e", "--engine", "docker", "--engine", "podman"]
    proc = subprocess.run([*SEATRIAL, *args], capture_output=True, text=True, env=env, timeout=300, cwd=ssh.folder)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    listed = {row["name"]: row for row in json.loads(proc.stdout)}
    assert {n: r["status"] for n, r in listed.items()} == {
        "docker@seatrial-e2e": "available",
        "podman@seatrial-e2e": "available",
    }
    assert listed["docker@seatrial-e2e"]["extra"]["host"] == "seatrial-e2e"


def test_a_host_key_that_does_not_match_makes_the_engine_unavailable(ssh):
    if not available("docker"):
        pytest.skip("docker is not available here")
    # known_hosts naming another key for this host: ssh must refuse, and seatrial say so (exit 3).
    forged = ssh.folder / "forged"
    (forged / "bin").mkdir(parents=True)
    other_key = " ".join((ssh.folder / "client_key.pub").read_text().split()[:2])
    (forged / "known_hosts").write_text(f"[127.0.0.1]:{ssh.port} {other_key}\n")
    config = (
        (ssh.folder / "ssh_config").read_text().replace(str(ssh.folder / "known_hosts"), str(forged / "known_hosts"))
    )
    (forged / "ssh_config").write_text(config)
    (forged / "bin" / "ssh").write_text(f'#!/bin/sh\nexec /usr/bin/ssh -F {forged / "ssh_config"} "$@"\n')
    (forged / "bin" / "ssh").chmod(0o755)
    env = {**ssh.env(), "PATH": f"{forged / 'bin'}:{ssh.env()['PATH']}"}
    args = [*SEATRIAL, "engines", "--quick", "--engine", f"docker@{ssh.url}"]
    proc = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120, cwd=ssh.folder)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    said = " ".join((proc.stdout + proc.stderr).split())
    assert "Host key verification failed" in said and f"--host {ssh.url} info" in said


def test_library_subset_runs_through_ssh_labelled_by_host_and_leaves_nothing(ssh, podman_url, tmp_path, monkeypatch):
    engines = [f"docker@{ssh.url}", f"podman@{podman_url}"] if available("docker") else [f"podman@{podman_url}"]
    before = ssh.logins()
    args = ["run", "--json", "-k", SUBSET, "--results-dir", str(tmp_path)]
    proc = seatrial(ssh, *args, *[a for e in engines for a in ("--engine", e)])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.loads(proc.stdout)
    outcomes = {(i["scenario"], i["engine"]): (i["outcome"], i["reason"]) for i in summary["items"]}
    names = [e.partition("@")[0] + "@127.0.0.1" for e in engines]
    for name in names:
        for held in ("default-bridge", "named-volume"):
            assert outcomes[(held, name)][0] == "passed", outcomes[(held, name)]
        outcome, reason = outcomes[("bind-mount-shadowing", name)]
        assert outcome == "skipped" and f"mounts.bind is not available on {name}" in reason
        outcome, reason = outcomes[("expose-publishes-nothing", name)]
        assert outcome == "skipped" and f"host.probe is not available on {name}" in reason
    assert ssh.logins() - before > 20  # every build, run and cleanup went through sshd
    # Nothing of the run is left, asked through the same connection and on the engine here.
    session = next(json.loads(line) for line in Path(summary["events"]).open())["session"]
    label = f"seatrial.session={session}"
    for spec in engines:
        (local,) = load_engines([spec.partition("@")[0]], environ={})
        assert local.resources(label) == []
    for key, value in ssh.env().items():
        monkeypatch.setenv(key, value)  # the adapters' clients take this process's environment
    for spec in engines:
        (remote,) = load_engines([spec])
        assert remote.resources(label) == []
    report = subprocess.run(
        [*SEATRIAL, "report", str(tmp_path), "-o", str(tmp_path / "report")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert report.returncode == 0, report.stderr
    markdown = (tmp_path / "report" / "summary.md").read_text()
    assert all(name in markdown for name in names)


def test_through_ssh_only_this_machines_resources_count_as_a_sessions(ssh, monkeypatch):
    """The reaper and the leak check of a remote engine list a session's resources through
    `resources`: on a daemon that other machines drive too, only those this machine made."""
    from seatrial.engines.base import SESSION_LABEL, VolumeSpec
    from seatrial.engines.remote import ORIGIN_LABEL
    from seatrial.harness.session import Session

    if not available("docker"):
        pytest.skip("docker is not available here")
    session = Session.start()  # alive while the test runs: no reaper of this machine takes its volumes
    label = {SESSION_LABEL: session.id}
    (local,) = load_engines(["docker"], environ={})
    foreign = local.volume_create(VolumeSpec(f"e2e-remote-{session.id}-b", {**label, ORIGIN_LABEL: "another-machine"}))
    try:
        for key, value in ssh.env().items():
            monkeypatch.setenv(key, value)
        (remote,) = load_engines([f"docker@{ssh.url}"])
        own = remote.volume_create(VolumeSpec(f"e2e-remote-{session.id}-a", label))  # stamped with this machine
        listed = {ref.name for ref in remote.resources(f"{SESSION_LABEL}={session.id}")}
        assert listed == {own.name}
        assert {ref.name for ref in local.resources(f"{SESSION_LABEL}={session.id}")} == {own.name, foreign.name}
        remote.remove(own)
        assert remote.resources(f"{SESSION_LABEL}={session.id}") == []
    finally:
        for name in (f"e2e-remote-{session.id}-a", foreign.name):
            local.remove(ResourceRef("volume", name, name))
        session.close()
