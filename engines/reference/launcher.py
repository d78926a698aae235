"""The launcher: the harness's side of starting a container, from a spec to a running pid 1.

Kernel facilities: pipe(2) for the five channels between the harness and the shim (below);
fork(2) of the shim (shim.py) -- or the zygote forks it (zygote.py); kill(2) of a shim left with
half a network; waitpid(2).

`start` returns once pid 1 has exec'd its command, or raises: `CommandNotStarted` when the
command cannot be found or executed (Docker's exit codes 127 and 126; containerinit.py finds
it out), OSError for anything else that kept the container from starting.
"""

from __future__ import annotations

import os
import select
import signal
import time
from dataclasses import dataclass

from .containerinit import EXEC_FAILED, CommandNotStarted
from .processspec import ProcessSpec
from .shim import run_shim


@dataclass(frozen=True)
class Started:
    """A running container as the harness holds it."""

    shim_pid: int
    pid: int  # pid 1 of the container, as the host sees it
    done_fd: int  # readable once pid 1 has exited: its exit code, as text
    release_fd: int  # close it to let the shim finish (see shim.run_shim)


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks)


def _await_shim_record(shim: int, done_r: int, timeout: float = 10.0) -> None:
    """Wait until the shim of a container that did not start has closed its exit pipe, then close
    ours. The caller removes the container's folder next: a shim still recording the exit code
    (exit.json, when the pipe was closed or the C tail runs) would write into the folder as
    rmtree empties it, and the folder would stay, unlabelled, for good. The shim closes the pipe
    at once after the record; one that overstays is killed."""
    try:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0 and select.select([done_r], [], [], left)[0]:
            if not os.read(done_r, 64):
                return
        os.kill(shim, signal.SIGKILL)
    except ProcessLookupError:
        pass
    finally:
        os.close(done_r)


def start(kern, spec: ProcessSpec, launcher=None) -> Started:
    """Start the container described by `spec`; returns once pid 1 has exec'd its command.

    The shim is forked here, or by `launcher(spec, fds)` (the zygote, zygote.py), which gets the
    shim's ends of the pipes and returns its pid."""
    sync_r, sync_w = os.pipe()  # shim -> harness: "u" (namespaces made), then pid 1's pid
    go_r, go_w = os.pipe()  # harness -> shim: network attached
    err_r, err_w = os.pipe()  # shim or pid 1 -> harness: setup error; EOF once exec'd
    done_r, done_w = os.pipe()  # shim -> harness: pid 1's exit code
    release_r, release_w = os.pipe()  # harness -> shim: EOF when the harness is done with it
    shim_ends = (sync_w, go_r, err_w, done_w, release_r)
    try:
        if launcher is not None:
            shim = launcher(spec, shim_ends)
        else:
            shim = os.fork()
            if shim == 0:
                for fd in (sync_r, go_w, err_r, done_r, release_w):
                    os.close(fd)
                run_shim(kern, spec, *shim_ends)
    except BaseException:
        for fd in (sync_r, go_w, err_r, done_r, release_w):
            os.close(fd)
        raise
    finally:
        for fd in shim_ends:
            os.close(fd)
    try:
        if spec.interface is not None and os.read(sync_r, 1) == b"u":
            assert spec.attach_network is not None, "containers.py gives an interface with its attach_network"
            spec.attach_network(shim)
            os.write(go_w, b"g")
        pid = _read_all(sync_r)
        error = _read_all(err_r).decode(errors="replace")
    except BaseException:
        os.kill(shim, signal.SIGKILL)  # never let a shim go on with half a network
        for fd in (sync_r, err_r, done_r, release_w):
            os.close(fd)
        raise
    finally:
        os.close(go_w)
    if error or not pid:
        _await_shim_record(shim, done_r)
        os.close(release_w)
        try:
            os.waitpid(shim, 0)
        except ChildProcessError:
            pass  # the zygote's child
        if error.startswith(EXEC_FAILED):
            code, _, message = error.removeprefix(EXEC_FAILED).partition(": ")
            raise CommandNotStarted(int(code), message)
        raise OSError(f"start container: {error or 'the shim died before pid 1 started'}")
    return Started(shim, int(pid), done_r, release_w)
