"""exec into a running container: join its namespaces, then fork and run with its confinement.

Kernel facilities: setns(2) with the files of /proc/PID/ns/ (namespaces(7); the mount namespace
last, as joining it changes the root), fork(2) because a pid namespace applies to children only,
prctl(2) PR_SET_PDEATHSIG so a killed exec takes its command along, then process._become and
process._exec -- the same identity and confinement as the container's pid 1.
"""
from __future__ import annotations

import os
import signal

from .process import ProcessSpec, _become, _close_other_fds, _exec


NAMESPACE_FILES = ("ipc", "uts", "net", "pid", "cgroup", "mnt")  # mnt last: it changes the root


def exec_in(kern, pid: int, spec: ProcessSpec, launcher=None) -> tuple[int, int]:
    """Run `spec.argv` in the namespaces of running pid 1 `pid`, writing to the fds
    spec.extra["stdout"] and ["stderr"]. Returns the exec child's pid and a fd that yields its
    exit code as text once it is done. The child is forked here or by `launcher` (the zygote)."""
    namespaces: list[int] = []
    try:
        for ns in NAMESPACE_FILES:
            namespaces.append(os.open(f"/proc/{pid}/ns/{ns}", os.O_RDONLY))
    except OSError:  # pid 1 is gone (ENOENT): keep no fd of the ones opened already
        for fd in namespaces:
            os.close(fd)
        raise
    status_r, status_w = os.pipe()
    ends = (*namespaces, spec.extra["stdout"], spec.extra["stderr"], status_w)
    try:
        if launcher is not None:
            child = launcher(spec, ends, kind="exec")
        else:
            child = os.fork()
            if child == 0:
                os.close(status_r)
                exec_child(kern, spec, ends)
    finally:
        for fd in namespaces + [status_w]:
            os.close(fd)
    return child, status_r


def exec_child(kern, spec: ProcessSpec, ends: tuple[int, ...]) -> None:
    """setns(2) into each namespace, fork (a pid namespace applies to children only), run the
    command in the grandchild with the container's confinement, report its exit code."""
    *namespaces, out, err, status_w = ends
    code = 126
    try:
        _close_other_fds(set(ends))
        for fd in namespaces:
            kern.setns(fd, 0)
        grandchild = os.fork()
        if grandchild == 0:
            try:
                kern.set_parent_death_signal(signal.SIGKILL)  # an exec that times out dies whole
                _become(kern, spec, out, err)
                _exec(spec.argv, spec.env)
            except BaseException as exc:  # noqa: BLE001
                os.write(2, f"exec: {exc}\n".encode())  # _become made fd 2 the exec's stderr
            finally:
                os._exit(126)
        os.close(out), os.close(err)
        _, status = os.waitpid(grandchild, 0)
        code = os.waitstatus_to_exitcode(status)
        code = code if code >= 0 else 128 - code
    except BaseException as exc:  # noqa: BLE001
        try:
            os.write(err, f"exec: {exc}\n".encode())
        except OSError:
            pass
    finally:
        try:
            os.write(status_w, str(code).encode())
        finally:
            os._exit(code & 0xFF)
