"""The container's init (pid 1) and what every process of a container goes through before
execve(2): its rootfs, stdio, signals, confinement and identity, then the command.

Kernel facilities: unshare(2) CLONE_NEWNS (mount_namespaces(7)) and the rootfs of rootfs.py
(pivot_root(2)); prctl(2) PR_SET_DUMPABLE and the devices cgroup (devices.py) before anything of
the container's can reach the process; setns(2) back into the host's netns for network host;
unix(7) SCM_RIGHTS to receive the spec and lend its mount namespace (/proc/self/ns/mnt) to the
shim; signal(7) dispositions and sigprocmask(2) reset; capabilities(7), seccomp(2) and
PR_SET_NO_NEW_PRIVS through kernel.py (security.py makes the filter); credentials(7) from
identity.py; execve(2), after looking the command up as runc does (path_resolution(7)).

pid 1 of a sandbox (made by the shim, shim.py) reads two messages on its socket, in either order:
the container's spec (pickled ("shim", ProcessSpec), the harness's start-error pipe as its one
fd), from the harness when the sandbox was made ahead or from the shim otherwise; and GO from the
shim once the hostname and network are set. It assembles the rootfs on the spec and execs only
after GO. A command that cannot start is reported on the start-error pipe (`EXEC_FAILED`), so the
engine refuses the run with Docker's exit code (127 not found, 126 not executable).
"""

from __future__ import annotations

import os
import pickle
import signal
import socket
import stat

from . import devices
from . import kernel as k
from .identity import Identity, checked_text, resolve_user, with_home
from .nativeshim import NativeProgram
from .processspec import ProcessSpec, close_fds_above_stdio_except
from .procfs import ignored_signals
from .rootfs import MountNamespace, enter, overlay_options
from .security import MASKED_PATHS, READONLY_PATHS

GO = b"g"
# pid 1 in C (containerinit.c): a spare sandbox's pid 1 execs it while it waits for a container
NATIVE_INIT: NativeProgram = NativeProgram("containerinit", "SEATRIAL_REFERENCE_NATIVE_INIT")
NATIVE_MAGIC = b"seatrial-init-1"
EXEC_FAILED = "exec failed "  # then "127: <Docker's words>" on the start-error pipe
NOT_FOUND, NOT_EXECUTABLE = 127, 126  # the exit codes Docker gives such a run

# Signals this process ignores: what it inherited, Python's own SIGPIPE and SIGXFSZ, and what
# the zygote ignores; read once, in the zygote. execve(2) keeps ignored signals ignored.
IGNORED_SIGNALS = tuple(
    sorted(
        (ignored_signals() | {signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT, signal.SIGCHLD})
        - {signal.SIGKILL, signal.SIGSTOP}
    )
)


def pid1_waiting(kern, sock: socket.socket, host_net: int, native: str = "") -> None:
    """pid 1 of a sandbox: wait for the container's spec, then become the container. EOF instead
    (the shim, the zygote or the harness died before using it): exit quietly. With `native`, the
    path of the C program (containerinit.c), exec it to do the same, from a spec in its own
    encoding (`native_spec_message`)."""
    go = False
    try:
        mounts: MountNamespace | None = MountNamespace(kern)
    except OSError:
        mounts = None  # made after the spec then, where a failure reaches the harness
    if native:
        _exec_native(native, sock, mounts, host_net)
    try:
        while True:
            payload, fds, _, _ = socket.recv_fds(sock, 1 << 20, 1)
            if payload != GO:
                break
            go = True
        if not payload or len(fds) != 1:
            os._exit(0)
        _, spec = pickle.loads(payload)
    except BaseException:
        os._exit(0)
    err_w = fds[0]
    try:
        # before anything of the container's can see this process (CVE-2019-5736), and in the
        # device cgroup before the rootfs exists, so that every process of it is held to the rules
        kern.set_non_dumpable()
        devices.join(spec.device_cgroup)
        logs = [
            os.open(os.path.join(spec.container_dir, name), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
            for name in ("stdout", "stderr")
        ]
        if host_net >= 0:
            if not spec.namespaces & k.CLONE_NEWNET:
                kern.setns(host_net, k.CLONE_NEWNET)
            os.close(host_net)
    except BaseException as exc:
        os.write(err_w, f"container init: {exc}".encode())
        os._exit(125)
    out, err = logs
    _init(kern, spec, out, err, err_w, sock, go, mounts)


def _exec_native(path: str, sock: socket.socket, mounts: MountNamespace | None, host_net: int) -> None:
    """Become the C pid 1; never returns. If the exec fails, exit: the harness, which was told
    that this sandbox's pid 1 is native, finds it gone and starts the container in a new shim."""
    try:
        host_mnt, host_mounts = mounts.handles() if mounts else (-1, -1)
        fds = [sock.fileno(), host_mnt, host_mounts, host_net]
        for fd in fds:
            if fd >= 0:
                os.set_inheritable(fd, True)
        os.execv(path, ["seatrial-containerinit", *map(str, fds), str(k.LAST_CAPABILITY)])
    finally:
        os._exit(0)


def native_spec_message(spec: ProcessSpec) -> bytes | None:
    """The spec as the C pid 1 reads it (containerinit.c says how); None for one that needs the
    Python pid 1: a volume to seed from the image (scope.copy_in)."""
    rootfs = spec.rootfs
    if rootfs is None or any(bind.seed_from_image for bind in rootfs.binds):
        return None
    fields: list[str | int] = [
        spec.container_dir,
        spec.device_cgroup,
        spec.namespaces,
        int(spec.confined),
        int(rootfs.mask_paths),
        int(spec.no_new_privs),
        f"{sum(1 << cap for cap in spec.capabilities):x}",
        spec.workdir,
        spec.user,
        overlay_options(rootfs),
        rootfs.merged,
        len(rootfs.binds),
    ]
    for bind in rootfs.binds:
        fields += [bind.source, bind.target, int(bind.read_only)]
    for items in (MASKED_PATHS, READONLY_PATHS, spec.argv, spec.env):
        fields += [len(items), *items]
    seccomp = spec.seccomp if spec.confined else b""
    fields.append(len(seccomp))
    encoded = [os.fsencode(str(item)) for item in fields]
    if any(b"\0" in item for item in encoded):
        return None  # the Python pid 1 refuses it with the error Python gives
    return b"\0".join([NATIVE_MAGIC, *encoded]) + b"\0" + seccomp


def _init(kern, spec: ProcessSpec, out: int, err: int, err_w: int, sock: socket.socket, go: bool, mounts) -> None:
    """pid 1: own mount namespace, the rootfs, identity, confinement; then, once the shim says
    GO (hostname and network ready), the command."""
    try:
        if mounts is None:
            mounts = MountNamespace(kern)
        mounts.make_current(kern)
        assert spec.rootfs is not None, "a container's pid 1 has a rootfs (only exec specs lack one)"
        enter(kern, spec.rootfs)
        _lend_mount_namespace(sock)
        identity = become(kern, spec, out, err, keep=(err_w, sock.fileno()), read=checked_account_file)
        if not go and sock.recv(16) != GO:
            os._exit(125)  # the shim died; it told the harness why
        sock.close()
    except BaseException as exc:
        os.write(err_w, f"container init: {exc}".encode())
        os._exit(125)
    try:
        # Closed by a successful execve(2) itself, so that the harness's EOF means the command
        # runs (an exec at once finds it as pid 1, not this Python); a failed one exits, same EOF
        os.set_inheritable(err_w, False)
        exec_command(spec.argv, with_home(spec.env, identity.home), err_w)
    finally:
        os._exit(NOT_FOUND)


def checked_account_file(name: str) -> str | None:
    """pid 1's reader of /etc/passwd and /etc/group (identity.checked_text)."""
    return checked_text(f"/etc/{name}")


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


def _default_signals() -> None:
    """A container's command starts as Docker's do: no signal ignored, none blocked."""
    for signum in IGNORED_SIGNALS:
        signal.signal(signum, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, ())


def become(kern, spec: ProcessSpec, out: int, err: int, keep: tuple[int, ...] = (), read=None) -> Identity:
    """Workdir, stdio, signals, confinement and user: everything between the rootfs and
    execve(2), for pid 1 and for exec alike. Returns the identity taken (its HOME is the
    command's unless the environment sets one). `read` reads the account files (identity.py)."""
    os.makedirs(spec.workdir or "/", exist_ok=True)
    os.chdir(spec.workdir or "/")
    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0), os.dup2(out, 1), os.dup2(err, 2)
    _default_signals()
    # Nothing of the engine's may reach the command: namespace fds, status pipes, sockets
    # (`keep`, pid 1's start-error pipe and socket, the caller closes just before execve).
    close_fds_above_stdio_except(keep)
    # Without no_new_privs the filter must be loaded while CAP_SYS_ADMIN is still held (as
    # runc does); with it, as late as possible, after the user change.
    if spec.confined and spec.seccomp and not spec.no_new_privs:
        kern.load_seccomp(spec.seccomp)
    if spec.confined:
        kern.limit_capabilities(spec.capabilities)
    # The user is looked up in the container's own files, so with the container's capabilities
    identity = resolve_user(spec.user, read=read)
    kern.set_identity(identity.uid, identity.gid, identity.groups)
    if spec.confined and spec.no_new_privs:
        kern.set_no_new_privs()
        if spec.seccomp:
            kern.load_seccomp(spec.seccomp)
    return identity


class CommandNotStarted(OSError):
    """The command cannot start: `exit_code` is Docker's for it (127 not found, 126 not
    executable), the message in Docker's words."""

    def __init__(self, exit_code: int, message: str):
        super().__init__(message)
        self.exit_code = exit_code


def look_up(command: str, path: str) -> str:
    """The file execve(2) gets for `command`, found as runc finds it (Go's exec.LookPath): a
    name with a slash as it is, else the first executable regular file of that name in `path`;
    a directory or a file without an execute bit is not executable."""
    if "/" in command:
        try:
            mode = os.stat(command).st_mode
        except OSError as exc:
            raise CommandNotStarted(NOT_FOUND, f'exec: "{command}": stat {command}: {_words(exc)}') from None
        if stat.S_ISDIR(mode) or not mode & 0o111:
            raise CommandNotStarted(NOT_EXECUTABLE, f'exec: "{command}": permission denied')
        return command
    for directory in path.split(":"):
        candidate = os.path.join(directory or ".", command)
        try:
            mode = os.stat(candidate).st_mode
        except OSError:
            continue
        if not stat.S_ISDIR(mode) and mode & 0o111:
            return candidate
    raise CommandNotStarted(NOT_FOUND, f'exec: "{command}": executable file not found in $PATH')


def exec_command(
    argv: tuple[str, ...], environ: dict[str, str], err_w: int = -1, failure_code: int | None = None
) -> None:
    """execve(2) `argv` with `environ`; never returns. A command that cannot be found or is not
    executable is told on `err_w` (pid 1's start-error pipe: the engine refuses the run) or,
    without one, on stderr (an exec), and exits with Docker's code for it (or `failure_code`:
    `docker exec` says 126 for both); an execve(2) that fails after the look-up (a missing
    interpreter, say) exits 1, as runc's init does."""
    try:
        found = look_up(argv[0], environ.get("PATH", os.defpath))
    except CommandNotStarted as exc:
        if err_w >= 0:
            os.write(err_w, f"{EXEC_FAILED}{exc.exit_code}: {exc}".encode())
        else:
            os.write(2, f"{exc}\n".encode())
        os._exit(exc.exit_code if failure_code is None else failure_code)
    try:
        os.execve(found, argv, environ)
    except OSError as exc:
        os.write(2, f"exec {found}: {_words(exc)}\n".encode())
        os._exit(1)


def _words(exc: OSError) -> str:
    """The errno as Go spells it: 'no such file or directory'."""
    return (exc.strerror or str(exc)).lower()
