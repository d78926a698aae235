"""The zygote: a small helper process that forks container shims on the harness's behalf.

Kernel facilities: fork(2) (its cost grows with the forking process's memory, and a harness with
pandas and pytest loaded is several times the size of this process), unix(7) SOCK_SEQPACKET with
SCM_RIGHTS to receive the shim's pipe ends and published-port listeners, SIGCHLD set to SIG_IGN
so the kernel reaps the shims (signal(7)). The zygote exits when the harness's end of the socket
closes, including when the harness is killed; shims then belong to init and keep running.

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
from .process import ProcessSpec, _shim

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


def serve(fd: int) -> None:
    """The zygote's loop: one request, one forked shim or exec child, one reply with its pid."""
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sock = socket.socket(fileno=fd)
    kern = k.Kernel()
    while True:
        try:
            payload, fds, _, _ = socket.recv_fds(sock, 1 << 20, 64)
        except OSError:
            return
        if not payload:
            return
        try:
            kind, spec = pickle.loads(payload)
            ends = fds[:5] if kind == "shim" else fds
            listeners = tuple((socket.socket(fileno=fds[5 + index]), address, port)
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
            for end in ends:
                os.close(end)
            sock.send(str(pid).encode())
        except Exception as exc:  # noqa: BLE001 -- answer, never die on one bad request
            for leftover in fds:
                try:
                    os.close(leftover)
                except OSError:
                    pass
            sock.send(f"{type(exc).__name__}: {exc}".encode() or b"error")
