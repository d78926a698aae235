"""exec into a running container: join its namespaces, then fork and run with its confinement.

`exec_in_container` is the harness's side (the exec step and health checks, healthcheck.py):
a pidfd of pid 1 checked against its start time, pid 1's root, pipes for the output, a deadline.
`exec_child` is the side that joins the container.

Kernel facilities: a pidfd of pid 1 (procfs.pid1_fd) and pidfd_send_signal(2), /proc/PID/root
(proc(5)), select(2) on the output pipes; prctl(2) PR_SET_DUMPABLE 0 and the container's devices cgroup (devices.py)
before anything else; setns(2) with a pidfd of pid 1 (pidfd_open(2)), which joins all its
namespaces in one call (namespaces(7)), chroot(2) into pid 1's root (/proc/PID/root), fork(2)
because a pid namespace applies to children only,
prctl(2) PR_SET_PDEATHSIG so a killed exec takes its command along, then containerinit.become
and containerinit.exec_command -- the same identity, HOME and confinement as the container's
pid 1. A command that cannot start exits 126, found or not, as `docker exec` does.
"""

from __future__ import annotations

import os
import select
import signal
import time

from seatrial.engines import base

from . import devices, nativeexec
from . import kernel as k
from .containerinit import CommandNotStarted, become, exec_command
from .identity import with_home
from .processspec import ProcessSpec, close_other_fds
from .procfs import alive, pid1_fd
from .security import confinement

NOT_STARTED = 126  # docker exec's code for a command it cannot start, missing or not

# Every namespace of the container's pid 1 but the user namespace (it has none of its own).
JOINED = (
    k.CLONE_NEWIPC
    | k.CLONE_NEWUTS
    | k.CLONE_NEWNET
    | k.CLONE_NEWPID
    | k.CLONE_NEWNS
    | (k.CLONE_NEWCGROUP if os.path.exists("/proc/self/ns/cgroup") else 0)
)


def exec_in(kern, pidfd: int, root: int, spec: ProcessSpec, launcher=None) -> tuple[int | None, int]:
    """Run `spec.argv` in the namespaces and the `root` directory (an fd) of the running pid 1
    behind `pidfd`, writing to the fds spec.extra["stdout"] and ["stderr"]. Returns a pid and a
    status fd:
    - where the C program of nativeexec.py is built, the pid of the command's own process (a
      child of this process, whose exit status is the exec's; None if the program could not
      start it) and -1; the user is resolved here, in the container's files, and a user it
      cannot find raises CommandNotStarted;
    - else the pid of the exec child, forked here or by `launcher` (the zygote), and a fd that
      yields its exit code as text once it is done."""
    program = nativeexec.PROGRAM.binary() if isinstance(kern, k.Kernel) else None  # not for a kernel double
    identity = None
    if program is not None:
        try:
            identity = nativeexec.identity_in(kern, root, spec.user)
        except OSError as exc:
            raise CommandNotStarted(NOT_STARTED, str(exc)) from None
    if program is not None and identity is not None:
        try:
            child = nativeexec.spawn(
                program, (pidfd, root, spec.extra["stdout"], spec.extra["stderr"]), JOINED, spec, identity
            )
        except ValueError as exc:  # a NUL byte in an argument or a variable: execve(2) takes none
            raise CommandNotStarted(NOT_STARTED, str(exc)) from None
        return child, -1
    status_r, status_w = os.pipe()
    ends = (pidfd, root, spec.extra["stdout"], spec.extra["stderr"], status_w)
    try:
        if launcher is not None:
            child = launcher(spec, ends, kind="exec")
        else:
            child = os.fork()
            if child == 0:
                os.close(status_r)
                exec_child(kern, spec, ends)
    finally:
        os.close(status_w)
    return child, status_r


def exec_child(kern, spec: ProcessSpec, ends: tuple[int, ...]) -> None:
    """setns(2) into each namespace, fork (a pid namespace applies to children only), run the
    command in the grandchild with the container's confinement, report its exit code."""
    pidfd, root, out, err, status_w = ends
    code = 126
    try:
        close_other_fds(set(ends))
        # Not dumpable before joining (CVE-2019-5736: else a root process of the container could
        # open /proc/PID/exe of this host Python, and write the host's interpreter through it
        # once this exits), and held to the container's device rules, as runc's exec is
        kern.set_non_dumpable()
        devices.join(spec.device_cgroup)
        kern.setns(pidfd, JOINED)  # all at once, by pidfd: a reused pid number cannot mislead it
        # Joining a mount namespace puts us at its root mount. That is pid 1's root only if the
        # engine was not itself chrooted when pid 1 pivoted (a chroot build host, say): take
        # pid 1's own root, as exec must.
        kern.enter_root(root)
        grandchild = os.fork()
        if grandchild == 0:
            try:
                kern.set_parent_death_signal(signal.SIGKILL)  # an exec that times out dies whole
                identity = become(kern, spec, out, err)
                kern.set_parent_death_signal(signal.SIGKILL)  # again: a change of uid or gid clears it
                exec_command(spec.argv, with_home(spec.env, identity.home), failure_code=NOT_STARTED)
            except BaseException as exc:
                os.write(2, f"exec: {exc}\n".encode())  # become made fd 2 the exec's stderr
            finally:
                os._exit(126)
        os.close(out)
        os.close(err)
        _, status = os.waitpid(grandchild, 0)
        code = os.waitstatus_to_exitcode(status)
        code = code if code >= 0 else 128 - code
    except BaseException as exc:
        try:
            os.write(err, f"exec: {exc}\n".encode())
        except OSError:
            pass
    finally:
        try:
            os.write(status_w, str(code).encode())
        finally:
            os._exit(code & 0xFF)


def _root_of(pid: int, pidfd: int) -> int | None:
    """pid 1's root directory, opened through /proc/PID/root; None if pid 1 is gone. Checked by
    its pidfd afterwards: a pid reused in between would have left that process dead."""
    try:
        root = os.open(f"/proc/{pid}/root", os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return None
    try:
        signal.pidfd_send_signal(pidfd, 0)
    except ProcessLookupError:
        os.close(root)
        return None
    return root


def exec_in_container(kern, record: dict, argv, deadline: float, operation: str, launcher=None) -> tuple[int, str, str]:
    """Run argv in the running container of `record` with its identity and confinement, until
    `deadline` (time.monotonic()); (exit code, stdout, stderr). The exec (and the health
    checks of healthcheck.py) go through here."""
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    spec = ProcessSpec(
        argv=tuple(argv),
        env=tuple(record["env"]),
        workdir=record["workdir"],
        user=record["user"],
        hostname="",
        rootfs=None,
        container_dir="",
        namespaces=0,
        **confinement(record),
        device_cgroup=record.get("device_cgroup", ""),
        extra={"stdout": out_w, "stderr": err_w},
    )
    pidfd = pid1_fd(record)
    root = _root_of(record["pid"], pidfd) if pidfd is not None else None
    if pidfd is None or root is None:  # pid 1 ended since the caller looked
        for fd in (out_r, out_w, err_r, err_w) + ((pidfd,) if pidfd is not None else ()):
            os.close(fd)
        raise base.EngineError(operation, f"container {record['name']!r} is not running")
    try:
        child, status_fd = exec_in(kern, pidfd, root, spec, launcher)
    except CommandNotStarted as exc:  # the user is not in the container's files: docker exec's 126
        for fd in (out_r, err_r):
            os.close(fd)
        return NOT_STARTED, "", f"exec: {exc}\n"
    finally:
        for fd in (pidfd, root, out_w, err_w):
            os.close(fd)
    code = NOT_STARTED  # the C program could not get as far as the command (it said why)
    try:
        out, err = _collect({out_r: [], err_r: []}, deadline, child, operation)
        if status_fd >= 0:
            code = int(os.read(status_fd, 16) or b"126")
    finally:
        if status_fd >= 0:
            os.close(status_fd)
        if child is not None:
            try:
                _, status = os.waitpid(child, 0)
                if status_fd < 0:  # the command's own process, this process's child
                    code = os.waitstatus_to_exitcode(status)
                    code = code if code >= 0 else 128 - code
            except ChildProcessError:
                pass  # the zygote's child, reaped by the kernel
    if code == 126 and not alive(record["pid"]):  # pid 1 exited meanwhile: fork(2) got ENOMEM
        raise base.EngineError(operation, f"container {record['name']!r} is not running")
    return code, out, err


def _collect(buffers: dict, deadline: float, child: int | None, operation: str) -> tuple[str, str]:
    """Read both pipes to EOF (or kill the exec'd process at the deadline)."""
    fds = list(buffers)
    while fds:
        ready, _, _ = select.select(fds, [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            if child is not None:
                os.kill(child, signal.SIGKILL)
            for fd in fds:
                os.close(fd)
            raise base.EngineError(operation, "timed out")
        for fd in ready:
            data = os.read(fd, 65536)
            if data:
                buffers[fd].append(data)
            else:
                fds.remove(fd)
                os.close(fd)
    out, err = (b"".join(v).decode(errors="replace") for v in buffers.values())
    return out, err
