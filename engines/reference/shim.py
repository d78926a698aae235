"""The shim: the process that stays outside a container and answers for it, like conmon.

Kernel facilities: setsid(2); unshare(2) of pid, uts, ipc, net and cgroup namespaces
(namespaces(7), pid_namespaces(7), network_namespaces(7)) and fork(2) of the container's pid 1
(containerinit.py) into them; setns(2) back to the host's netns for network host;
sethostname(2); netdevice(7) and route(7) ioctls for eth0 (all through kernel.py); unix(7)
SOCK_SEQPACKET with SCM_RIGHTS to hand pid 1 its spec and borrow its mount namespace;
pidfd_open(2) and waitpid(2) for pid 1's exit; select(2) over published ports (portproxy.py) and
the embedded DNS (dns.py).

The harness forks a shim (launcher.py, or the zygote, zygote.py), which makes the sandbox
(`prepare_sandbox`: namespaces made and pid 1 forked, waiting for its spec). The shim lets the
harness plug in its network, sets the hostname, tells pid 1 to exec, and then stays outside the
container's mount namespace: it serves published ports (their listening sockets were opened in
the host's netns before the unshare) and the embedded DNS, waits for pid 1 and tells the harness
its exit code through a pipe (or, when nobody listens, writes it next to the logs: a harness that
listens records it itself, so no file write sits between the exit and the harness); it then waits for the harness to let go
and deletes a `run --rm` container's directory itself, off the harness's critical path. So a
detached container, its logs and its exit code survive the harness. A detached container's shim
with no ports and no DNS to serve does that waiting as a small C program it execs (nativeshim.py,
shimtail.c): a forked interpreter costs about 1.8 MiB per container, the C tail a few pages.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import selectors
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from . import devices, dns
from . import kernel as k
from . import portproxy as ports
from .containerinit import GO, pid1_waiting
from .nativeshim import exec_tail
from .processspec import ProcessSpec, close_other_fds
from .state import write_json


@dataclass(frozen=True)
class Sandbox:
    """Namespaces made and pid 1 forked, waiting on `init_sock` for the spec of its container."""

    pid1: int
    init_sock: socket.socket  # the shim's end; closing it without a spec makes pid 1 exit
    host_net: int = -1  # the host's netns, for containers on network host


def prepare_sandbox(kern, namespaces: int, native: str = "") -> Sandbox:
    """In the shim: make the namespaces and fork pid 1, which waits for its spec (as the C
    program at `native`, if given: containerinit.c). A sandbox made for a new netns also serves
    containers on network host (both switch back with setns)."""
    host_net = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC) if namespaces & k.CLONE_NEWNET else -1
    kern.unshare(namespaces)
    if namespaces & k.CLONE_NEWNET:
        kern.interface_up("lo")
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    pid = os.fork()
    if pid == 0:
        ours.close()
        pid1_waiting(kern, theirs, host_net, native)
    theirs.close()
    return Sandbox(pid, ours, host_net)


def fits(sandbox_namespaces: int, wanted: int) -> bool:
    """Whether a sandbox made with `sandbox_namespaces` can run a container that wants `wanted`:
    the same namespaces, but for a netns it can leave for the host's."""
    return (wanted | k.CLONE_NEWNET) == (sandbox_namespaces | k.CLONE_NEWNET) and bool(
        wanted & k.CLONE_NEWNET == 0 or sandbox_namespaces & k.CLONE_NEWNET
    )


def spec_message(spec: ProcessSpec) -> bytes:
    """The spec as shims and pid 1 receive it: listeners become (index, address, port), their
    sockets travelling as fds; nothing that only the harness can use."""
    listeners = tuple((index, address, port) for index, (_, address, port) in enumerate(spec.listeners))
    return pickle.dumps(("shim", dataclasses.replace(spec, listeners=listeners, attach_network=None)))


def run_shim(
    kern,
    spec: ProcessSpec,
    sync_w: int,
    go_r: int,
    err_w: int,
    done_w: int,
    release_r: int,
    sandbox: Sandbox | None = None,
) -> None:
    """Namespaces and pid 1 (or a `sandbox` made ahead, whose pid 1 has its spec from the
    harness already), network, hostname, GO; then serve until pid 1 exits, record its exit
    code, tell the harness, and wait for the harness to let go (EOF on `release_r`, also when
    the harness dies). If the harness moved the container directory to `spec.trash_dir`
    meanwhile (`run --rm`), delete it here, off the harness's critical path. Never returns."""
    try:
        if sandbox is None:
            os.setsid()
        keep = {sync_w, go_r, err_w, done_w, release_r} | {listener.fileno() for listener, _, _ in spec.listeners}
        if sandbox is not None:
            keep |= {sandbox.init_sock.fileno(), sandbox.host_net} - {-1}
        close_other_fds(keep)
        pids = os.open(os.path.join(spec.container_dir, "pids"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
        os.write(pids, f"{os.getpid()}\n".encode())  # for the reaper, before any namespace exists
        made_ahead = sandbox is not None
        if sandbox is None:
            sandbox = prepare_sandbox(kern, spec.namespaces)
        elif sandbox.host_net >= 0 and not spec.namespaces & k.CLONE_NEWNET:
            kern.setns(sandbox.host_net, k.CLONE_NEWNET)
        os.write(pids, f"{sandbox.pid1}\n".encode())
        os.close(pids)
        if spec.interface is not None:
            os.write(sync_w, b"u")  # the netns exists: the harness plugs the veth in while we go on
        if sandbox.host_net >= 0:
            os.close(sandbox.host_net)
        if not made_ahead:
            socket.send_fds(sandbox.init_sock, [spec_message(spec)], [err_w])
        if spec.interface is not None:
            os.read(go_r, 1)  # the veth is in
        os.close(go_r)
        if spec.namespaces & k.CLONE_NEWNET:
            if spec.interface:
                kern.set_address("eth0", spec.interface.address, spec.interface.netmask)
                kern.interface_up("eth0")
                kern.add_default_route(spec.interface.gateway)
            if spec.has_dns:
                resolver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                resolver.bind((dns.ADDRESS, 53))
                spec.extra["dns"] = resolver
        if spec.namespaces & k.CLONE_NEWUTS:
            kern.sethostname(spec.hostname)
        try:
            sandbox.init_sock.send(GO)
        except (BrokenPipeError, ConnectionResetError):
            # pid 1 ended before GO; one that could not set up said why on the start-error pipe
            # and exited 125, and a word of ours after it would only garble that
            if os.waitstatus_to_exitcode(os.waitpid(sandbox.pid1, 0)[1]) == 125:
                os._exit(125)
            raise
        pid = sandbox.pid1
        os.write(sync_w, str(pid).encode())
        os.close(sync_w)
        os.close(err_w)
        mount_namespace = _borrow_mount_namespace(sandbox)
    except BaseException as exc:
        os.write(err_w, f"shim: {exc}".encode())
        os._exit(125)
    # Nothing left to serve: wait in C. Only when detached: the exec (tearing down the forked
    # interpreter's mappings) cost an attached `run --rm true` a few ms before its exit code, and
    # an attached run is not what piles up by the thousand.
    if spec.extra.get("detached") and not spec.listeners and "dns" not in spec.extra:
        exit_record = os.path.join(spec.container_dir, "exit.json")
        exec_tail(pid, exit_record, done_w, release_r, spec.device_cgroup, spec.trash_dir, mount_namespace)
    code = 255
    try:
        code = _serve(spec, pid)
        # A detached container's harness closes the pipe's read end right after the start; a
        # pid 1 that ended before that close would have its code written into a pipe closed
        # unread (wait then said 137). So its code goes to disk, as shimtail.c does.
        if spec.extra.get("detached"):
            _record_exit(spec.container_dir, code)
        else:
            try:  # a harness that listens records the code itself (containers.py): no file write on its path
                os.write(done_w, str(code).encode())
            except BrokenPipeError:  # the harness is gone
                _record_exit(spec.container_dir, code)
        os.close(done_w)
        for fd in mount_namespace:
            os.close(fd)  # the container's mounts go now, after the harness has its exit code
        try:
            devices.remove(spec.device_cgroup)  # its processes are gone with pid 1's namespace
        except OSError:
            pass  # the harness's removal or the reaper tries again
        os.read(release_r, 1)
        if spec.trash_dir and os.path.isdir(spec.trash_dir):
            shutil.rmtree(spec.trash_dir, ignore_errors=True)
    finally:
        os._exit(code & 0xFF)  # never return into the harness's stack


def _record_exit(container_dir: str, code: int) -> None:
    """exit.json next to the logs, as shimtail.c writes it; nothing if the container was removed
    meanwhile (its folder must not come back)."""
    try:
        write_json(Path(container_dir) / "exit.json", {"exit_code": code}, make_parents=False)
    except FileNotFoundError:
        pass


def _serve(spec: ProcessSpec, pid: int) -> int:
    """Proxy published ports until pid 1 exits; returns its exit code (128+signal if killed).

    Single-threaded on purpose: after unshare(CLONE_NEWPID) the shim cannot create threads
    (clone(2) CLONE_THREAD fails with EINVAL when pid_ns_for_children differs)."""
    selector = selectors.DefaultSelector()
    pidfd = os.pidfd_open(pid)
    selector.register(pidfd, selectors.EVENT_READ, None)
    for listener, address, port in spec.listeners:
        selector.register(listener, selectors.EVENT_READ, ("listen", (address, port)))
    if "dns" in spec.extra:
        selector.register(spec.extra["dns"], selectors.EVENT_READ, ("dns", os.path.join(spec.container_dir, "hosts")))
    while True:
        for key, _ in selector.select():
            if key.data is None:
                _, status = os.waitpid(pid, 0)
                code = os.waitstatus_to_exitcode(status)
                return code if code >= 0 else 128 - code
            kind, value = key.data
            sock = cast(socket.socket, key.fileobj)  # all but the pidfd (data None) are sockets
            if kind == "listen":
                ports.accept(selector, sock, value)
            elif kind == "dns":
                dns.respond(sock, value)
            else:
                ports.pump(selector, sock, value)


def _borrow_mount_namespace(sandbox: Sandbox) -> list[int]:
    """The handle pid 1 lends (containerinit.py); none if pid 1 ended first."""
    _, fds, _, _ = socket.recv_fds(sandbox.init_sock, 16, 1)
    sandbox.init_sock.close()
    return fds
