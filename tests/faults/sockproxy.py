"""A Unix-socket relay standing in for an engine's daemon socket, so that a test can make the
daemon "die" for one client by killing this process (SIGKILL: every connection drops at once,
hijacked `exec` and `run` streams included), without touching the daemon other runs share.

Usage: python sockproxy.py LISTEN_PATH TARGET_PATH. Prints "ready" once it listens.
"""

from __future__ import annotations

import os
import socket
import sys
import threading


def pump(source: socket.socket, sink: socket.socket) -> None:
    """Copy bytes one way until either side closes; then half-close the other."""
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        try:
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def serve(listen: str, target: str) -> None:
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    if os.path.exists(listen):
        os.unlink(listen)
    server.bind(listen)
    server.listen(64)
    print("ready", flush=True)
    while True:
        client, _ = server.accept()
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        upstream.connect(target)
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=pump, args=(a, b), daemon=True).start()


if __name__ == "__main__":
    serve(sys.argv[1], sys.argv[2])
