"""Fixtures for the engine contract suite: a locked session, each available engine, cleanup.

The engines are those the registry knows (entry-point group seatrial.engines.v1: the built-in
ones and any installed plugin), or those named with `--engine NAME` (repeatable).

Other sessions' reapers remove resources labelled seatrial.session=<id> whose lock is free, so
the suite holds an flock on <SEATRIAL_LOCK_DIR>/<id>.lock for as long as it runs.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest

from seatrial.engines.base import ENGINE_LABEL, SESSION_LABEL
from seatrial.engines.discovery import load_engines, registered, unknown_engines_message
from seatrial.harness.baseimage import base_archive, ensure_loaded
from seatrial.harness.session import scratch_root

# Removal order: containers hold images, networks and volumes.
KIND_ORDER = {"container": 0, "image": 1, "network": 2, "volume": 3}


@pytest.fixture(scope="session")
def session_id():
    """A session id whose lock file is held (flock) until the suite ends."""
    sid = f"ct{uuid.uuid4().hex[:10]}"
    lock_dir = Path(os.environ.get("SEATRIAL_LOCK_DIR") or "/run/seatrial/sessions")
    lock_dir.mkdir(parents=True, exist_ok=True)
    path = lock_dir / f"{sid}.lock"
    with open(path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        try:
            yield sid
        finally:
            path.unlink(missing_ok=True)


def pytest_generate_tests(metafunc):
    """One parameter per engine: the registry's, or the `--engine` names."""
    if "session_engine" in metafunc.fixturenames:
        names = metafunc.config.getoption("seatrial_engines") or sorted(registered())
        message = unknown_engines_message(names)
        if message:
            raise pytest.UsageError(f"--engine: {message}")
        metafunc.parametrize("session_engine", names, indirect=True, scope="session")


@pytest.fixture(scope="session")
def session_scratch(session_id):
    """The suite's session scratch folder, where the harness's own items keep their files."""
    path = scratch_root() / session_id
    path.mkdir(parents=True)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def tmp_path(request, tmp_path_factory):
    """A fresh folder per test; for a test on an engine, inside the session's scratch folder, not
    pytest's own (private to root): the rootless adapter hands only a seatrial scratch folder to
    its unprivileged user (engines/rootless.py), and real runs build and bind-mount from there."""
    stem = re.sub(r"\W", "_", request.node.name)[:30]
    if "session_engine" not in request.fixturenames:
        return tmp_path_factory.mktemp(stem)
    return Path(tempfile.mkdtemp(prefix=f"{stem}-", dir=request.getfixturevalue("session_scratch")))


@pytest.fixture(scope="session")
def base():
    """The base image archive, built once (cached across runs)."""
    return base_archive()


def remove_labelled(engine, label: str) -> None:
    """Remove everything carrying `label` on `engine`, containers first."""
    for ref in sorted(engine.resources(label), key=lambda r: KIND_ORDER[r.kind]):
        engine.remove(ref)


@pytest.fixture(scope="session")
def session_engine(request, session_id):
    """Each registered engine that answers here; a leak check when the suite is done with it."""
    loaded = load_engines([request.param])
    if not loaded:
        pytest.skip(f"engine {request.param!r} could not be loaded (see the warning)")
    engine = loaded[0]
    info = engine.info()
    if not info.is_available:
        pytest.skip(info.unavailable_reason)
    yield engine
    label = f"{SESSION_LABEL}={session_id}"
    remove_labelled(engine, label)
    assert engine.resources(label) == [], f"{engine.name}: resources left with {label}"


@pytest.fixture
def engine(session_engine, session_id):
    """The engine under test; whatever the test made is removed afterwards, pass or fail."""
    yield session_engine
    remove_labelled(session_engine, f"{SESSION_LABEL}={session_id}")


@pytest.fixture
def base_tag(engine, base):
    """The base image's tag, loaded into the engine if it was not there."""
    return ensure_loaded(engine, base)


@pytest.fixture
def labels(engine, session_id):
    """The labels every resource of the test carries."""
    return {SESSION_LABEL: session_id, ENGINE_LABEL: engine.name}


@pytest.fixture
def unique(session_id):
    """A factory of unique, session-prefixed resource names."""

    def make(stem: str) -> str:
        return f"{session_id}-{stem}-{uuid.uuid4().hex[:6]}"

    return make


@pytest.fixture
def requires(engine):
    """Skip with the engine's reason when it lacks a capability (decided before side effects)."""

    def check(*capabilities: str) -> None:
        caps = engine.capabilities()
        for capability in capabilities:
            if not caps.has(capability):
                pytest.skip(f"{capability} is not available on {engine.name}: {caps.reason(capability)}")

    return check
