"""A run's identity and its liveness lock.

A session holds an exclusive flock(2) on `<lock dir>/<id>.lock` for as long as it lives; the
kernel drops the lock on any death, SIGKILL included. So "is this session alive?" is one
non-blocking flock attempt, and the reaper removes what sessions with a free lock left behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from seatrial.engines.base import SESSION_LABEL

DEFAULT_LOCK_DIR = "/run/seatrial/sessions"


def lock_dir() -> Path:
    """Where session locks live; SEATRIAL_LOCK_DIR overrides (tests use a tmp dir)."""
    return Path(os.environ.get("SEATRIAL_LOCK_DIR", DEFAULT_LOCK_DIR))


def scratch_root() -> Path:
    """Where sessions keep scratch folders: beside the locks, so that whoever sees the locks
    decides about the same sessions' scratch (a test's private lock folder never judges the
    machine's sessions)."""
    return lock_dir().parent / "scratch"


def new_session_id() -> str:
    """Short, lowercase (image names must be), and unlikely to collide between machines."""
    return secrets.token_hex(4)


@dataclass
class Session:
    """A live session: its id, its held lock, and a scratch directory removed at the end."""

    id: str
    lock_path: Path
    scratch: Path
    _lock_fd: int | None = field(default=None, repr=False)

    @classmethod
    def start(cls, session_id: str | None = None) -> Session:
        sid = session_id or new_session_id()
        directory = lock_dir()
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{sid}.lock"
        fd = hold_lock(path)
        if fd is None:
            raise RuntimeError(f"session {sid} is already running (lock {path} is held)")
        os.write(fd, f"{os.getpid()}\n".encode())
        scratch = scratch_root() / sid
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir(parents=True)
        return cls(id=sid, lock_path=path, scratch=scratch, _lock_fd=fd)

    @property
    def labels(self) -> dict[str, str]:
        return {SESSION_LABEL: self.id}

    def prefix(self) -> str:
        """Prefix for names of things that cannot carry labels."""
        return f"st-{self.id}"

    def close(self) -> None:
        """Remove the scratch directory and the lock; the resources are the runner's to remove."""
        shutil.rmtree(self.scratch, ignore_errors=True)
        if self._lock_fd is not None:
            try:
                self.lock_path.unlink(missing_ok=True)
            finally:
                os.close(self._lock_fd)
                self._lock_fd = None


def hold_lock(path: Path) -> int | None:
    """An fd holding the exclusive lock of `path`, or None when another process holds it.

    Another run's reaper (or a parallel run's other worker, or the owner of a port reservation
    releasing it) may unlink a lock file it found free between our open and our flock: a lock on
    that unlinked file would protect nothing, and the session would look dead to every later
    reaper. So the lock counts only once the path still names the locked file; otherwise open
    again."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        try:
            if os.stat(path).st_ino == os.fstat(fd).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)


@contextlib.contextmanager
def _lock_if_free(path: Path) -> Iterator[bool]:
    """Hold the lock of an existing lock file for the block if no process holds it: yields True
    (this process holds it) or False (a live session does). FileNotFoundError when it is gone."""
    fd = os.open(path, os.O_RDWR)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
        else:
            yield True
    finally:
        os.close(fd)  # releases the lock too


def is_alive(session_id: str, directory: Path | None = None) -> bool:
    """True when a process holds the session's lock. A missing lock file means dead."""
    try:
        with _lock_if_free((directory or lock_dir()) / f"{session_id}.lock") as free:
            return not free
    except FileNotFoundError:
        return False


def forget_dead_locks(directory: Path | None = None) -> list[str]:
    """Delete lock files and scratch folders of dead sessions; returns their ids."""
    directory = directory or lock_dir()
    dead = []
    if directory.is_dir():
        for path in directory.glob("*.lock"):
            if _unlink_if_free(path):
                dead.append(path.stem)
    scratch_dir = directory.parent / "scratch"
    for scratch in scratch_dir.glob("*") if scratch_dir.is_dir() else ():
        sid = scratch.name
        if scratch.is_dir() and not is_alive(sid, directory):
            shutil.rmtree(scratch, ignore_errors=True)
    return dead


def _unlink_if_free(path: Path) -> bool:
    """Unlink a lock file while holding its lock, so that no session can take it in between
    (a session that opened it meanwhile sees the path gone and opens a fresh one)."""
    try:
        with _lock_if_free(path) as free:
            if free:
                path.unlink(missing_ok=True)
            return free
    except FileNotFoundError:
        return False
