"""The shim's C tail (engines/reference/shimtail.c), built and run without root: a process
becomes it with a child standing in for pid 1, and it must record that child's exit code, tell
the harness, close the lent fds, wait for the release, and then empty the trash without
following a symbolic link out of it."""

from __future__ import annotations

import json
import os
import select
import signal
import time
from pathlib import Path

import pytest

from seatrial.engines.reference import nativeshim


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    cache = tmp_path_factory.mktemp("cache")
    if nativeshim.build(cache) is None:
        pytest.skip("no C compiler here: shims stay Python")
    return cache


def lent_end_closed(write_end: int, deadline: float) -> bool:
    """Whether the pipe's read end (lent to the tail) has been closed: a write then fails."""
    while time.monotonic() < deadline:
        try:
            os.write(write_end, b"x")
        except BrokenPipeError:
            return True
        time.sleep(0.02)
    return False


@pytest.mark.parametrize(("ending", "code"), [("exit 7", 7), ("SIGKILL", 137)])
def test_the_tail_records_pid1s_code_and_empties_the_trash_only_after_the_release(tmp_path, cache, ending, code):
    container, trash, outside = tmp_path / "container", tmp_path / "trash", tmp_path / "outside"
    container.mkdir()
    (trash / "upper").mkdir(parents=True)
    (trash / "upper" / "file").write_text("x")
    outside.mkdir()
    (outside / "kept").write_text("host")
    (trash / "upper" / "link").symlink_to(outside)  # must be removed, not followed
    done_r, done_w = os.pipe()
    release_r, release_w = os.pipe()
    lent_r, lent_w = os.pipe()
    shim = os.fork()
    if shim == 0:  # the shim: pid 1 is its child, then it becomes the tail
        try:
            pid1 = os.fork()
            if pid1 == 0:
                if ending == "SIGKILL":
                    os.kill(os.getpid(), signal.SIGKILL)
                os._exit(7)
            for fd in (done_r, release_w, lent_w):
                os.close(fd)
            exit_record = str(container / "exit.json")
            nativeshim.exec_tail(pid1, exit_record, done_w, release_r, "", str(trash), [lent_r], cache)
        finally:
            os._exit(99)  # exec failed
    for fd in (done_w, release_r, lent_r):
        os.close(fd)
    try:
        assert select.select([done_r], [], [], 20)[0]
        assert os.read(done_r, 16) == str(code).encode()
        assert json.loads((container / "exit.json").read_text()) == {"exit_code": code}
        assert lent_end_closed(lent_w, time.monotonic() + 10)
        assert (trash / "upper" / "file").exists()  # not before the harness lets go
    finally:
        os.close(release_w)
        _, status = os.waitpid(shim, 0)
    assert os.waitstatus_to_exitcode(status) == code
    assert not trash.exists()
    assert (outside / "kept").read_text() == "host"
    assert list(container.iterdir()) == [container / "exit.json"]  # no temporary file left


def test_the_binary_is_named_by_the_sources_digest_and_can_be_turned_off(cache, monkeypatch):
    assert nativeshim.binary(cache) == cache / f"shimtail-{nativeshim.DIGEST}"
    assert nativeshim.DIGEST and nativeshim.DIGEST in str(nativeshim.build(cache))
    monkeypatch.setenv("SEATRIAL_REFERENCE_NATIVE_SHIM", "0")
    assert nativeshim.binary(cache) is None and nativeshim.build(cache) is None


def test_without_a_compiler_nothing_is_built_and_shims_stay_python(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no cc, no gcc
    assert nativeshim.build(tmp_path / "empty") is None
    assert nativeshim.binary(tmp_path / "empty") is None
