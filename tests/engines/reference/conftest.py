"""Fixtures for the reference runtime on the real kernel (root only)."""

from __future__ import annotations

import os
import sys
import time
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from reference_busybox import links, write_archive

from seatrial.engines.base import SESSION_LABEL
from seatrial.engines.reference import devices
from seatrial.engines.reference.adapter import ReferenceEngine
from seatrial.engines.reference.containers import session_tag
from seatrial.engines.reference.network import IFACE_PREFIX

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items):
    for item in items:
        if HERE in Path(item.fspath).parents:
            item.add_marker(pytest.mark.root)


@pytest.fixture(autouse=True)
def _needs_root():
    if os.geteuid() != 0:
        pytest.skip("the reference runtime needs root")


def mounts_under(root: Path) -> list[str]:
    with open("/proc/self/mounts") as handle:
        return [line.split()[1] for line in handle if line.split()[1].startswith(str(root))]


@pytest.fixture(scope="session")
def state_root(tmp_path_factory) -> Path:
    if os.geteuid() != 0:
        pytest.skip("the reference runtime needs root")
    root = tmp_path_factory.mktemp("reference-state")
    engine = ReferenceEngine(root)
    engine.load(write_archive(tmp_path_factory.mktemp("archive") / "busybox.tar"))
    yield root
    engine.reap(label="seatrial.session")  # whatever a failed test left
    assert not mounts_under(root)
    assert not devices.parent_of(root).exists(), "device cgroups leaked"


@pytest.fixture
def session() -> str:
    return f"test-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def labels(session) -> dict:
    return {"seatrial.session": session}


@pytest.fixture
def engine(state_root, session):
    """An engine whose test cleans up after itself: the test's session must leave nothing."""
    engine = ReferenceEngine(state_root)
    before = links()
    yield engine
    engine.reap(session=session)
    assert engine.resources(f"seatrial.session={session}") == []
    assert not mounts_under(state_root)
    # a folder without config.json carries no label: no reap, by session or by `clean`, finds it
    unrecorded = [p.name[:12] for p in engine.state.containers.iterdir() if not (p / "config.json").exists()]
    assert not unrecorded, f"container folders left without a record: {unrecorded}"
    in_use = {record["id"] for record in engine.state.containers_records()}
    cgroups = devices.parent_of(state_root)
    leaked = {p.name for p in cgroups.iterdir() if p.is_dir()} - in_use if cgroups.is_dir() else set()
    assert not leaked, f"device cgroups of removed containers leaked: {leaked}"
    for _ in range(100):  # a netns dies asynchronously, and its veth with it
        # this session's links only: another xdist worker's tests make and remove their own
        leaked = {
            name
            for name in links() - before
            if name.startswith(f"{IFACE_PREFIX}{session_tag({SESSION_LABEL: session})}")
        }
        if not leaked:
            break
        time.sleep(0.05)
    assert not leaked, f"leaked links: {leaked}"
