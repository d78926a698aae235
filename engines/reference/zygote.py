"""The zygote: a small helper process that forks container shims on the harness's behalf.

Kernel facilities: fork(2) (its cost grows with the forking process's memory, and a harness with
pandas and pytest loaded is several times the size of this process), unix(7) SOCK_SEQPACKET with
SCM_RIGHTS to receive the shim's pipe ends and published-port listeners, SIGCHLD set to SIG_IGN
so the kernel reaps the shims (signal(7)). The zygote exits when the harness's end of the socket
closes, including when the harness is killed; shims then belong to init and keep running.

It keeps one *spare* shim ready: forked, with its namespaces made and pid 1 forked and waiting
(process.prepare_sandbox), so that a `run` pays for none of that while the harness waits. The
spare holds no container and no named kernel object; when the zygote goes, it sees EOF and exits,
and its pid 1 with it. SEATRIAL_REFERENCE_PREWARM=0 turns spares off (every shim is then forked on
request, as `tests/engines/reference/bench_reference_start.py --cold` measures).

The harness side is `Zygote.launch`, given to process.start as its launcher.
"""
from __future__ import annotations

import dataclasses
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading

from . import kernel as k
from .nsexec import exec_child
from .process import BASE_NAMESPACES, ProcessSpec, _close_other_fds, _shim, fits, prepare_sandbox

_BOOT = "import sys; from seatrial.engines.reference.zygote import serve; serve(int(sys.argv[1]))"


class Zygote:
    """The harness's handle on its zygote, started on first use and restarted if it died."""

    def __init__(self):
        self._sock: socket.socket | None = None
        self._proc: subprocess.Popen | None = None
        self._lock = threading.Lock()

    def _spawn(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _BOOT, str(theirs.fileno())], pass_fds=(theirs.fileno(),),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, start_new_session=True, cwd="/")
        theirs.close()
        self._sock = ours

    def launch(self, spec: ProcessSpec, ends: tuple[int, ...], kind: str = "shim") -> int:
        """Have the zygote fork a shim (or an exec child, kind="exec") for `spec` with the
        given fds; returns its pid."""
        listeners = tuple((index, address, port) for index, (_, address, port) in enumerate(spec.listeners))
        payload = pickle.dumps((kind, dataclasses.replace(spec, listeners=listeners, attach_network=None)))
        fds = list(ends) + [listener.fileno() for listener, _, _ in spec.listeners]
        with self._lock:
            for attempt in (1, 2):
                if self._sock is None or self._proc.poll() is not None:
                    self._spawn()
                try:
                    socket.send_fds(self._sock, [payload], fds)
                    reply = self._sock.recv(256)
                    break
                except OSError:
                    self._sock = None
                    if attempt == 2:
                        raise
        if not reply.isdigit():
            raise OSError(f"zygote: {reply.decode(errors='replace') or 'no reply'}")
        return int(reply)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._proc.wait(timeout=5)
            self._sock = None


SPARE_NAMESPACES = BASE_NAMESPACES | k.CLONE_NEWNET  # what every network but host needs


class _Spare:
    """A shim forked ahead: it makes its sandbox, then waits on `sock` for one request."""

    def __init__(self, kern):
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.pid = os.fork()
        if self.pid == 0:
            self.sock.close()
            _spare_main(kern, theirs)
        theirs.close()

    def take(self, payload: bytes, fds: list[int]) -> int:
        """Pass it the request; returns its pid. OSError if it died (then use a fresh fork)."""
        try:
            _normal_policy(self.pid)  # if it is still making its sandbox, finish at full speed
            socket.send_fds(self.sock, [payload], fds)
        finally:
            self.sock.close()
        return self.pid


def _normal_policy(pid: int) -> None:
    try:
        os.sched_setscheduler(pid, os.SCHED_OTHER, os.sched_param(0))
    except ProcessLookupError:
        pass  # dead: the send to it fails next


def _spare_main(kern, sock: socket.socket) -> None:
    """The spare: its sandbox first, then one request, served as any shim serves it. A sandbox
    that could not be made is reported to the harness that asks for it (its error pipe)."""
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # it waits for its pid 1
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.setsid()
        _close_other_fds({sock.fileno()})
        # Made while some container runs: never take a core from it (sched(7) SCHED_IDLE);
        # whoever claims the spare puts it back to the normal policy first.
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        sandbox, problem = None, None
        try:
            sandbox = prepare_sandbox(kern, SPARE_NAMESPACES)
        except OSError as exc:
            problem = exc
        payload, fds, _, _ = socket.recv_fds(sock, 1 << 20, 64)
        if not payload:
            os._exit(0)  # the zygote is gone; pid 1 sees EOF on its socket and exits too
        _normal_policy(0)  # the zygote did it already, unless it raced with our fork of pid 1
        if sandbox is not None:
            _normal_policy(sandbox.pid1)
        sock.close()
        if problem is not None:
            os.write(fds[2], f"shim: {problem}".encode())
            os._exit(125)
        _, spec = pickle.loads(payload)
        listeners = tuple((socket.socket(fileno=fds[5 + index]), address, port)
                          for index, address, port in spec.listeners)
        _shim(kern, dataclasses.replace(spec, listeners=listeners), *fds[:5], sandbox=sandbox)
    finally:
        os._exit(125)  # never return into the zygote's loop


def serve(fd: int) -> None:
    """The zygote's loop: one request, one shim (the spare, or a fresh fork) or exec child, one
    reply with its pid; then a new spare, made while the harness runs its container."""
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sock = socket.socket(fileno=fd)
    kern = k.Kernel()
    prewarm = os.environ.get("SEATRIAL_REFERENCE_PREWARM") != "0"
    spare = None
    while True:
        if prewarm and spare is None:
            spare = _Spare(kern)
        try:
            payload, fds, _, _ = socket.recv_fds(sock, 1 << 20, 64)
        except OSError:
            return
        if not payload:
            return
        try:
            kind, spec = pickle.loads(payload)
            pid = None
            if kind == "shim" and spare is not None and fits(SPARE_NAMESPACES, spec.namespaces):
                try:
                    pid = spare.take(payload, fds)
                except OSError:
                    prewarm = False  # the spare died: fork each shim on request from now on
                spare = None
            if pid is None:
                pid = _fork_child(kern, kind, spec, fds)
            for end in fds:
                os.close(end)
            sock.send(str(pid).encode())
        except Exception as exc:  # noqa: BLE001 -- answer, never die on one bad request
            for leftover in fds:
                try:
                    os.close(leftover)
                except OSError:
                    pass
            sock.send(f"{type(exc).__name__}: {exc}".encode() or b"error")


def _fork_child(kern, kind: str, spec: ProcessSpec, fds: list[int]) -> int:
    ends = fds[:5] if kind == "shim" else fds
    listeners = tuple((socket.socket(fileno=os.dup(fds[5 + index])), address, port)
                      for index, address, port in spec.listeners)
    pid = os.fork()
    if pid == 0:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # it waits for its own child
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        if kind == "shim":
            _shim(kern, dataclasses.replace(spec, listeners=listeners), *ends)
        exec_child(kern, spec, tuple(ends))
    for listener, _, _ in listeners:
        listener.close()
    return pid
