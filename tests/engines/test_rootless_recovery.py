"""Rootless Podman recovers from the state that a failed bridge setup leaves behind.

On a machine without udev, /dev/net/tun is mode 0600 and slirp4netns (run as the rootless user)
cannot open it; Podman 4.3 then leaves an empty rootless-netns file, and every later container
on a bridge network fails with "failed to mount runtime directory for rootless netns" even after
the device is fixed. provision.sh fixes the device; the adapter removes the stale file.
"""

from __future__ import annotations

import os
import stat
import uuid
from pathlib import Path

import pytest

from seatrial.engines.base import ENGINE_LABEL, SESSION_LABEL, EngineError, NetworkSpec, RunSpec
from seatrial.engines.discovery import load_engines
from seatrial.harness.baseimage import ensure_loaded

TUN = Path("/dev/net/tun")

pytestmark = pytest.mark.root


@pytest.fixture
def rootless(session_id):
    engine = load_engines(["podman-rootless"])[0]
    info = engine.info()
    if not info.is_available:
        pytest.skip(info.unavailable_reason)
    yield engine
    # Containers go with --rm; what is left is the network (and the base image, which stays).
    for ref in engine.resources(f"{SESSION_LABEL}={session_id}"):
        engine.remove(ref)


def run_on_bridge(engine, base_tag, network, labels):
    return engine.run(
        RunSpec(base_tag, f"rl-{uuid.uuid4().hex[:8]}", command=("true",), network=network, labels=labels, remove=True)
    )


def test_provisioned_tun_device_is_open_to_every_user():
    assert stat.S_IMODE(TUN.stat().st_mode) == 0o666, "vagrant/provision.sh makes /dev/net/tun 0666, as udev does"


def test_a_bridge_setup_that_failed_does_not_break_the_next_run(rootless, base, session_id):
    labels = {SESSION_LABEL: session_id, ENGINE_LABEL: rootless.name}
    base_tag = ensure_loaded(rootless, base)
    network = rootless.network_create(NetworkSpec(f"{session_id}-rl-{uuid.uuid4().hex[:6]}", labels=labels))
    mode = stat.S_IMODE(TUN.stat().st_mode)
    os.chmod(TUN, 0o600)  # the device as a machine without udev has it
    try:
        with pytest.raises(EngineError, match="tun"):
            run_on_bridge(rootless, base_tag, network.name, labels)
    finally:
        os.chmod(TUN, mode)
    runtime = Path(f"/run/user/{rootless.account.pw_uid}")
    assert list((runtime / "netns").glob("rootless-netns-*")), "the failure left no stale file: nothing to prove"
    # A new run's engine, as `seatrial run` makes one, checks the host before using it.
    fresh = load_engines(["podman-rootless"])[0]
    assert fresh.info().is_available
    result = run_on_bridge(fresh, base_tag, network.name, labels)
    assert result.exit_code == 0, result.stderr
