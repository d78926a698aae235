"""Container processes: the shim, the container's init (pid 1), and exec into a running one.

Kernel facilities: fork(2), unshare(2) and setns(2) over namespaces(7) -- pid_namespaces(7),
mount_namespaces(7), uts_namespaces(7), ipc_namespaces(7), network_namespaces(7),
cgroup_namespaces(7); prctl(2) PR_SET_DUMPABLE and the devices cgroup (devices.py) before
anything of the container's can reach the process; pidfd_open(2) to wait for pid 1 with a timeout; unix(7) SCM_RIGHTS to hand
pid 1 its stdio; execve(2); credentials(7) (setgroups, setgid, setuid); then confinement from
security.py through kernel.py.

Shape (like conmon + runc in one): the harness forks a *shim*, which enters new pid, uts, ipc,
net and cgroup namespaces and forks pid 1 (`prepare_sandbox`); pid 1 waits for its container's
spec, which the shim hands it (or the harness, when the sandbox was made ahead), and assembles
the rootfs. The shim lets the harness plug in its network, sets the hostname, tells pid 1 to
exec, and then stays outside the container's mount namespace: it serves published ports (its listening sockets were opened in
the host's netns before the unshare) and the embedded DNS, waits for pid 1, writes the exit code
next to the logs and tells the harness through a pipe; it then waits for the harness to let go
and deletes a `run --rm` container's directory itself, off the harness's critical path.
So a detached container, its logs and its exit code survive the harness.

Because a sandbox holds no container until it gets a spec, the zygote (zygote.py) keeps one made
ahead of time: the unshare and both forks then happen while the previous container runs, not
while the harness waits for the next one.
"""
from __future__ import annotations

import dataclasses
import os
import pickle
import selectors
import shutil
import signal
import socket
from dataclasses import dataclass, field

from . import devices, dns, kernel as k, portproxy as ports
from .rootfs import RootfsSpec, enter
from .security import DEFAULT_CAPABILITY_SET
from .state import write_json
from pathlib import Path


# Every container's namespaces but the netns (which depends on its network) and the mount
# namespace (pid 1's own); the cgroup namespace where the host has them.
BASE_NAMESPACES = k.CLONE_NEWPID | k.CLONE_NEWUTS | k.CLONE_NEWIPC | (
    k.CLONE_NEWCGROUP if os.path.exists("/proc/self/ns/cgroup") else 0)


@dataclass(frozen=True)
class Interface:
    """eth0 inside the container: the harness moves it in; the shim configures it."""

    address: str
    netmask: str
    gateway: str


@dataclass(frozen=True)
class ProcessSpec:
    argv: tuple[str, ...]
    env: tuple[str, ...]            # "KEY=value"
    workdir: str
    user: str
    hostname: str
    rootfs: RootfsSpec
    container_dir: str              # stdout, stderr and exit live here
    namespaces: int                 # CLONE_NEW* flags for the shim (mount is pid 1's own)
    interface: Interface | None = None
    listeners: tuple = ()           # (listening socket, container address, container port)
    confined: bool = True
    capabilities: frozenset = DEFAULT_CAPABILITY_SET   # kept when confined (Docker's set + cap_add)
    no_new_privs: bool = False      # Docker's default is off; `--security-opt no-new-privileges`
    has_dns: bool = False           # answer names from the container's hosts file (dns.py)
    seccomp: bytes = b""
    trash_dir: str = ""             # where the harness moves container_dir to have it deleted
    device_cgroup: str = ""         # the container's device cgroup (devices.py); "": no rules
    attach_network: object = None   # callable(shim_pid), run by the harness before pid 1 starts
    extra: dict = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class Sandbox:
    """Namespaces made and pid 1 forked, waiting on `init_sock` for the spec of its container."""

    pid1: int
    init_sock: socket.socket        # the shim's end; closing it without a spec makes pid 1 exit
    host_net: int = -1              # the host's netns, for containers on network host


@dataclass(frozen=True)
class Started:
    shim_pid: int
    pid: int                        # pid 1 of the container, as the host sees it
    done_fd: int                    # readable once pid 1 has exited: its exit code, as text
    release_fd: int                 # close it to let the shim finish (see `_shim`)


def proc_stat(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command name (proc(5): [0] is the state, [19] the
    start time); [] once the process is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def alive(pid: int) -> bool:
    """Whether `pid` runs: not gone, not a zombie (a pid namespace whose pid 1 is one takes no
    new process)."""
    return proc_stat(pid)[:1] not in ([], ["Z"], ["X"])


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks)


def start(kern, spec: ProcessSpec, launcher=None) -> Started:
    """Start the container described by `spec`; returns once pid 1 has exec'd its command.

    The shim is forked here, or by `launcher(spec, fds)` (the zygote, zygote.py), which gets the
    shim's ends of the pipes and returns its pid."""
    sync_r, sync_w = os.pipe()     # shim -> harness: "u" (namespaces made), then pid 1's pid
    go_r, go_w = os.pipe()         # harness -> shim: network attached
    err_r, err_w = os.pipe()       # shim or pid 1 -> harness: setup error; EOF once exec'd
    done_r, done_w = os.pipe()     # shim -> harness: pid 1's exit code
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
                _shim(kern, spec, *shim_ends)
    except BaseException:
        for fd in (sync_r, go_w, err_r, done_r, release_w):
            os.close(fd)
        raise
    finally:
        for fd in shim_ends:
            os.close(fd)
    try:
        if spec.interface is not None and os.read(sync_r, 1) == b"u":
            spec.attach_network(shim)
            os.write(go_w, b"g")
        pid = _read_all(sync_r)
        error = _read_all(err_r).decode(errors="replace")
    except BaseException:
        os.kill(shim, signal.SIGKILL)  # never let a shim go on with half a network
        os.close(sync_r), os.close(err_r), os.close(done_r), os.close(release_w)
        raise
    finally:
        os.close(go_w)
    if error or not pid:
        os.close(done_r), os.close(release_w)
        try:
            os.waitpid(shim, 0)
        except ChildProcessError:
            pass  # the zygote's child
        raise OSError(f"start container: {error or 'the shim died before pid 1 started'}")
    return Started(shim, int(pid), done_r, release_w)


def _close_other_fds(keep: set[int]) -> None:
    """Drop every fd inherited from the harness (its pipes must see EOF when it exits, even
    while detached containers run) except `keep`; stdio goes to /dev/null."""
    null = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    _close_fds_above_stdio_except(keep)


def _close_fds_above_stdio_except(keep) -> None:
    bounds = [2, *sorted(set(keep) - {0, 1, 2}), 2**31 - 1]
    for low, high in zip(bounds, bounds[1:]):
        os.closerange(low + 1, high)


# pid 1 of a sandbox reads two messages on its socket, in either order: the container's spec
# (pickled ("shim", ProcessSpec), the harness's start-error pipe as its one fd), from the harness
# when the sandbox was made ahead or from the shim otherwise; and GO from the shim once the
# hostname and network are set. It assembles the rootfs on the spec and execs only after GO.
GO = b"g"


def prepare_sandbox(kern, namespaces: int) -> Sandbox:
    """In the shim: make the namespaces and fork pid 1, which waits for its spec. A sandbox made
    for a new netns also serves containers on network host (both switch back with setns)."""
    host_net = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC) if namespaces & k.CLONE_NEWNET else -1
    kern.unshare(namespaces)
    if namespaces & k.CLONE_NEWNET:
        kern.interface_up("lo")
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    pid = os.fork()
    if pid == 0:
        ours.close()
        _pid1_waiting(kern, theirs, host_net)
    theirs.close()
    return Sandbox(pid, ours, host_net)


def fits(sandbox_namespaces: int, wanted: int) -> bool:
    """Whether a sandbox made with `sandbox_namespaces` can run a container that wants `wanted`:
    the same namespaces, but for a netns it can leave for the host's."""
    return (wanted | k.CLONE_NEWNET) == (sandbox_namespaces | k.CLONE_NEWNET) and (
        wanted & k.CLONE_NEWNET == 0 or sandbox_namespaces & k.CLONE_NEWNET)


def spec_message(spec: ProcessSpec) -> bytes:
    """The spec as shims and pid 1 receive it: listeners become (index, address, port), their
    sockets travelling as fds; nothing that only the harness can use."""
    listeners = tuple((index, address, port) for index, (_, address, port) in enumerate(spec.listeners))
    return pickle.dumps(("shim", dataclasses.replace(spec, listeners=listeners, attach_network=None)))


def _pid1_waiting(kern, sock: socket.socket, host_net: int) -> None:
    """pid 1 of a sandbox: wait for the container's spec, then become the container. EOF instead
    (the shim, the zygote or the harness died before using it): exit quietly."""
    go = False
    try:
        while True:
            payload, fds, _, _ = socket.recv_fds(sock, 1 << 20, 1)
            if payload != GO:
                break
            go = True
        if not payload or len(fds) != 1:
            os._exit(0)
        _, spec = pickle.loads(payload)
    except BaseException:  # noqa: BLE001 -- nobody to tell: the shim sees pid 1 exit
        os._exit(0)
    err_w = fds[0]
    try:
        # before anything of the container's can see this process (CVE-2019-5736), and in the
        # device cgroup before the rootfs exists, so that every process of it is held to the rules
        kern.set_non_dumpable()
        devices.join(spec.device_cgroup)
        logs = [os.open(os.path.join(spec.container_dir, name), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
                for name in ("stdout", "stderr")]
        if host_net >= 0:
            if not spec.namespaces & k.CLONE_NEWNET:
                kern.setns(host_net, k.CLONE_NEWNET)
            os.close(host_net)
    except BaseException as exc:  # noqa: BLE001
        os.write(err_w, f"container init: {exc}".encode())
        os._exit(125)
    _init(kern, spec, *logs, err_w, sock, go)


def _shim(kern, spec: ProcessSpec, sync_w: int, go_r: int, err_w: int, done_w: int, release_r: int,
          sandbox: Sandbox | None = None) -> None:
    """Namespaces and pid 1 (or a `sandbox` made ahead, whose pid 1 has its spec from the
    harness already), network, hostname, GO; then serve until pid 1 exits, record its exit
    code, tell the harness, and wait for the harness to let go (EOF on `release_r`, also when
    the harness dies). If the harness moved the container directory to `spec.trash_dir`
    meanwhile (`run --rm`), delete it here, off the harness's critical path."""
    try:
        made_ahead = sandbox is not None
        if not made_ahead:
            os.setsid()
        keep = {sync_w, go_r, err_w, done_w, release_r} | {listener.fileno() for listener, _, _ in spec.listeners}
        if made_ahead:
            keep |= {sandbox.init_sock.fileno(), sandbox.host_net} - {-1}
        _close_other_fds(keep)
        pids = os.open(os.path.join(spec.container_dir, "pids"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
        os.write(pids, f"{os.getpid()}\n".encode())  # for the reaper, before any namespace exists
        if not made_ahead:
            sandbox = prepare_sandbox(kern, spec.namespaces)
        elif sandbox.host_net >= 0 and not spec.namespaces & k.CLONE_NEWNET:
            kern.setns(sandbox.host_net, k.CLONE_NEWNET)
        os.write(pids, f"{sandbox.pid1}\n".encode())
        os.close(pids)
        if sandbox.host_net >= 0:
            os.close(sandbox.host_net)
        if not made_ahead:
            socket.send_fds(sandbox.init_sock, [spec_message(spec)], [err_w])
        if spec.interface is not None:
            os.write(sync_w, b"u")
            os.read(go_r, 1)
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
        sandbox.init_sock.send(GO)
        pid = sandbox.pid1
        os.write(sync_w, str(pid).encode())
        os.close(sync_w), os.close(err_w)
        mount_namespace = _borrow_mount_namespace(sandbox)
    except BaseException as exc:  # noqa: BLE001 -- report anything to the harness, then die
        os.write(err_w, f"shim: {exc}".encode())
        os._exit(125)
    code = 255
    try:
        code = _serve(spec, pid)
        write_json(Path(spec.container_dir) / "exit.json", {"exit_code": code})
        try:
            os.write(done_w, str(code).encode())
        except BrokenPipeError:
            pass  # a detached container: nobody is listening
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
            if kind == "listen":
                ports.accept(selector, key.fileobj, value)
            elif kind == "dns":
                dns.respond(key.fileobj, value)
            else:
                ports.pump(selector, key.fileobj, value)


def _init(kern, spec: ProcessSpec, out: int, err: int, err_w: int, sock: socket.socket, go: bool) -> None:
    """pid 1: own mount namespace, the rootfs, identity, confinement; then, once the shim says
    GO (hostname and network ready), the command."""
    try:
        kern.unshare(k.CLONE_NEWNS)
        enter(kern, spec.rootfs)
        _lend_mount_namespace(sock)
        _become(kern, spec, out, err, keep=(err_w, sock.fileno()))
        if not go and sock.recv(16) != GO:
            os._exit(125)  # the shim died; it told the harness why
        sock.close()
    except BaseException as exc:  # noqa: BLE001
        os.write(err_w, f"container init: {exc}".encode())
        os._exit(125)
    try:
        # Closed by a successful execve(2) itself, so that the harness's EOF means the command
        # runs (an exec at once finds it as pid 1, not this Python); a failed one exits, same EOF
        os.set_inheritable(err_w, False)
        _exec(spec.argv, spec.env)
    finally:
        os._exit(127)


def _lend_mount_namespace(sock: socket.socket) -> None:
    """Give the shim a handle on this mount namespace. Whoever drops the last reference to a
    mount namespace unmounts all of it and waits for an RCU grace period (about a millisecond
    here); held by the shim, that happens after it has reported the exit code, not in pid 1's
    exit on the way to it."""
    namespace = os.open("/proc/self/ns/mnt", os.O_RDONLY)
    try:
        socket.send_fds(sock, [b"m"], [namespace])
    finally:
        os.close(namespace)


def _borrow_mount_namespace(sandbox: Sandbox) -> list[int]:
    """The handle pid 1 lends (see `_lend_mount_namespace`); none if pid 1 ended first."""
    _, fds, _, _ = socket.recv_fds(sandbox.init_sock, 16, 1)
    sandbox.init_sock.close()
    return fds


def _ignored_signals() -> tuple[int, ...]:
    """Signals this process ignores: what it inherited (SigIgn in proc(5)), Python's own SIGPIPE
    and SIGXFSZ, and what the zygote ignores. execve(2) keeps ignored signals ignored."""
    try:
        with open("/proc/self/status") as status:
            mask = next(int(line.split()[1], 16) for line in status if line.startswith("SigIgn:"))
    except (OSError, StopIteration, ValueError):
        mask = 0
    inherited = {bit + 1 for bit in range(64) if mask >> bit & 1}
    ours = {signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT, signal.SIGCHLD}
    return tuple(sorted((inherited | ours) & set(signal.valid_signals()) - {signal.SIGKILL, signal.SIGSTOP}))


_IGNORED_SIGNALS = _ignored_signals()


def _default_signals() -> None:
    """A container's command starts as Docker's do: no signal ignored, none blocked."""
    for signum in _IGNORED_SIGNALS:
        signal.signal(signum, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, ())


def _become(kern, spec, out: int, err: int, keep: tuple[int, ...] = ()) -> None:
    """Workdir, stdio, user, signals and confinement: everything between the rootfs and execve(2)."""
    os.makedirs(spec.workdir or "/", exist_ok=True)
    os.chdir(spec.workdir or "/")
    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0), os.dup2(out, 1), os.dup2(err, 2)
    _default_signals()
    # Nothing of the engine's may reach the command: namespace fds, status pipes, sockets
    # (`keep`, pid 1's start-error pipe and socket, the caller closes just before execve).
    _close_fds_above_stdio_except(keep)
    # Without no_new_privs the filter must be loaded while CAP_SYS_ADMIN is still held (as
    # runc does); with it, as late as possible, after the user change.
    if spec.confined and spec.seccomp and not spec.no_new_privs:
        kern.load_seccomp(spec.seccomp)
    if spec.confined:
        kern.limit_capabilities(spec.capabilities)
    # The user is looked up in the container's own files, so with the container's capabilities
    uid, gid, groups = resolve_user(spec.user)
    os.setgroups(groups)
    os.setgid(gid)
    os.setuid(uid)
    if spec.confined and spec.no_new_privs:
        kern.set_no_new_privs()
        if spec.seccomp:
            kern.load_seccomp(spec.seccomp)


def _exec(argv: tuple[str, ...], env: tuple[str, ...]) -> None:
    environ = dict(item.split("=", 1) for item in env)
    try:
        os.execvpe(argv[0], argv, environ)
    except OSError as exc:
        code = 127 if isinstance(exc, FileNotFoundError) else 126
        os.write(2, f"exec {argv[0]!r}: {exc.strerror}\n".encode())
        os._exit(code)


def resolve_user(user: str) -> tuple[int, int, list[int]]:
    """`user` as Docker takes it (name, uid, name:group, uid:gid), read from the rootfs's
    /etc/passwd and /etc/group; "" is root."""
    name, _, group = (user or "0").partition(":")
    passwd = _table("/etc/passwd")
    uid = gid = None
    for row in passwd:
        if row[0] == name or (name.isdigit() and row[2] == name):
            uid, gid = int(row[2]), int(row[3])
            break
    if uid is None:
        if not name.isdigit():
            raise OSError(f"unable to find user {name}: no matching entries in passwd file")
        uid, gid = int(name), 0
    if group:
        matches = [int(row[2]) for row in _table("/etc/group") if row[0] == group or row[2] == group]
        if not matches and not group.isdigit():
            raise OSError(f"unable to find group {group}: no matching entries in group file")
        gid = matches[0] if matches else int(group)
    return uid, gid, [gid]


def _table(path: str) -> list[list[str]]:
    try:
        with open(path) as handle:
            return [line.rstrip("\n").split(":") for line in handle if line.count(":") >= 2]
    except FileNotFoundError:
        return []

