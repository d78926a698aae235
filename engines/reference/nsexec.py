"""exec into a running container: join its namespaces, then fork and run with its confinement.

Kernel facilities: prctl(2) PR_SET_DUMPABLE 0 and the container's devices cgroup (devices.py)
before anything else; setns(2) with a pidfd of pid 1 (pidfd_open(2)), which joins all its
namespaces in one call (namespaces(7)), chroot(2) into pid 1's root (/proc/PID/root), fork(2)
because a pid namespace applies to children only,
prctl(2) PR_SET_PDEATHSIG so a killed exec takes its command along, then process._become and
process._exec -- the same identity and confinement as the container's pid 1.
"""
from __future__ import annotations

import os
import signal

from . import devices, kernel as k
from .process import ProcessSpec, _become, _close_other_fds, _exec


# Every namespace of the container's pid 1 but the user namespace (it has none of its own).
JOINED = k.CLONE_NEWIPC | k.CLONE_NEWUTS | k.CLONE_NEWNET | k.CLONE_NEWPID | k.CLONE_NEWNS | (
    k.CLONE_NEWCGROUP if os.path.exists("/proc/self/ns/cgroup") else 0)


def exec_in(kern, pidfd: int, root: int, spec: ProcessSpec, launcher=None) -> tuple[int, int]:
    """Run `spec.argv` in the namespaces and the `root` directory (an fd) of the running pid 1
    behind `pidfd`, writing to the fds
    spec.extra["stdout"] and ["stderr"]. Returns the exec child's pid and a fd that yields its
    exit code as text once it is done. The child is forked here or by `launcher` (the zygote)."""
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
        _close_other_fds(set(ends))
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
