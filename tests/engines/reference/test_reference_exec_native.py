"""exec through the C program (nativeexec.py, execjoin.c) on the real kernel: for every case
below it gives what the Python exec (nsexec.exec_child, SEATRIAL_REFERENCE_NATIVE_EXEC=0) gives,
to the byte: identity, HOME, working directory, environment, capability sets, seccomp, no new
privileges, signals, the device cgroup, stdin, exit codes and Docker's words for a command that
cannot start. And what only the C path has to answer for: the container's account files read
by the harness through pid 1's root (its mounts included), and a FIFO there refused instead of
holding the harness.

Not probed here: that the C program is not dumpable before it execs (CVE-2019-5736; it calls
prctl(PR_SET_DUMPABLE, 0) first, and fork(2) passes that on). The Python exec's probe
(test_reference_host_safety.py) holds it at a FIFO /etc/passwd after its capabilities are the
container's; the C program has no such hold: until it drops its capabilities a container's root
is refused /proc/PID/exe by the capability rule of ptrace(2) whatever the flag, and after that it
execs within microseconds."""

from __future__ import annotations

import os
import time

import pytest
from reference_busybox import IMAGE, START_CASES

from seatrial.engines import base
from seatrial.engines.reference import nativeexec

PROBE = (
    "id; echo HOME=$HOME; pwd; echo FOO=$FOO; "
    "grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp|Sig(Blk|Ign)):' /proc/self/status; "
    "grep devices /proc/self/cgroup; cat; env | sort; ls /proc/self/fd"
)
CASES = (
    ("sh", "-c", PROBE),
    *START_CASES,
    ("echo", "a\x00b"),  # execve(2) takes no NUL byte in an argument
)
CONTAINERS = {
    "root": {"env": {"FOO": "bar"}, "workdir": "/work/made"},
    "nobody": {"user": "nobody", "workdir": "/tmp"},
    "uid-only": {"user": "4242:0", "env": {"HOME": "/custom"}},
    "added": {"cap_add": ("NET_ADMIN", "SYS_TIME"), "no_new_privileges": True},
    "privileged": {"privileged": True},
    "path": {"env": {"PATH": "/nope::/bin/"}, "workdir": "/tmp"},  # an empty entry, a trailing slash
    "unconfined": {"seccomp": "unconfined"},
}


@pytest.fixture(scope="module")
def program():
    built = nativeexec.PROGRAM.build()
    if built is None:
        pytest.skip("no C compiler here: exec stays Python")
    return built


def start(engine, labels, name: str, **kwargs) -> str:
    full = f"{name}-{os.urandom(3).hex()}"
    spec = base.RunSpec(
        image=IMAGE, name=full, command=("sleep", "600"), network="none", detach=True, labels=labels, **kwargs
    )
    engine.run(spec)
    return full


def exec_both(engine, monkeypatch, name: str, argv: tuple[str, ...], spawns: int = 1) -> tuple[tuple, tuple]:
    """(code, stdout, stderr) of the C exec, then of the Python one; the C one must have spawned
    (but for a user the harness cannot find: `spawns=0`)."""
    spawned = []
    real_spawn = nativeexec.spawn
    monkeypatch.setattr(nativeexec, "spawn", lambda *a: spawned.append(a) or real_spawn(*a))
    monkeypatch.delenv("SEATRIAL_REFERENCE_NATIVE_EXEC", raising=False)
    native = engine.exec(name, argv, timeout=30)
    monkeypatch.setenv("SEATRIAL_REFERENCE_NATIVE_EXEC", "0")
    python = engine.exec(name, argv, timeout=30)
    monkeypatch.delenv("SEATRIAL_REFERENCE_NATIVE_EXEC")
    assert len(spawned) == spawns, "the C exec was not used" if spawns else "the C exec ran for a missing user"
    return (native.exit_code, native.stdout, native.stderr), (python.exit_code, python.stdout, python.stderr)


@pytest.mark.parametrize("container", sorted(CONTAINERS))
def test_the_c_exec_gives_what_the_python_exec_gives(engine, labels, monkeypatch, program, container):
    name = start(engine, labels, container, **CONTAINERS[container])
    engine.exec(name, ("/bin/sh", "-c", "printf '#!/nonexistent\\n' > /bin/s && chmod +x /bin/s"))
    for argv in CASES:
        native, python = exec_both(engine, monkeypatch, name, argv)
        assert native == python, argv
    # and what both give is Docker's, not merely the same
    probe, _ = exec_both(engine, monkeypatch, name, ("sh", "-c", PROBE))
    expected_user = {"nobody": "uid=65534(nobody)", "uid-only": "uid=4242 gid=0(root)"}.get(container, "uid=0(root)")
    assert probe[0] == 0 and probe[1].startswith(expected_user), probe
    assert ("Seccomp:\t2" in probe[1]) == (container not in ("privileged", "unconfined")), probe
    assert ("NoNewPrivs:\t1" in probe[1]) == (container == "added"), probe
    assert "SigIgn:\t0000000000000000" in probe[1] and "SigBlk:\t0000000000000000" in probe[1]
    assert probe[1].rstrip().endswith("0\n1\n2\n3"), "an fd of the engine reached the command"
    assert exec_both(engine, monkeypatch, name, ("sh", "-c", "exit 3"))[0][0] == 3
    arguments = exec_both(engine, monkeypatch, name, ("sh", "-c", 'echo "$0|$#|$*"', "zero", "a b", "c"))[0]
    assert arguments == (0, "zero|2|a b c\n", "")
    assert exec_both(engine, monkeypatch, name, ("sh", "-c", "kill -9 $$"))[0][0] == 137
    if container == "path":
        assert exec_both(engine, monkeypatch, name, ("s",))[0] == (1, "", "exec /bin/s: no such file or directory\n")
    missing = exec_both(engine, monkeypatch, name, ("no-such-command",))[0]
    assert missing == (126, "", 'exec: "no-such-command": executable file not found in $PATH\n')
    engine.remove(base.ResourceRef("container", name, name))


def test_the_user_is_read_through_pid1s_root_with_its_mounts(engine, labels, monkeypatch, program, tmp_path):
    """The image has no user `app`; a passwd bind-mounted over /etc/passwd does. Removed from
    that file later, the user is gone for exec as `docker exec` finds it: 126, Docker's words."""
    passwd = tmp_path / "passwd"
    passwd.write_text("root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n")
    mounts = (base.Mount("bind", str(passwd), "/etc/passwd", read_only=True),)
    name = start(engine, labels, "mounted", user="app", mounts=mounts)
    native, python = exec_both(engine, monkeypatch, name, ("sh", "-c", "id; echo $HOME"))
    assert native == python == (0, "uid=1000(app) gid=1000 groups=1000\n/home/app\n", "")
    passwd.write_text("root:x:0:0:root:/root:/bin/sh\n")
    native, python = exec_both(engine, monkeypatch, name, ("true",), spawns=0)
    assert native == python == (126, "", "exec: unable to find user app: no matching entries in passwd file\n")
    engine.remove(base.ResourceRef("container", name, name))


def test_a_fifo_for_etc_passwd_is_refused_at_once_and_holds_nothing(engine, labels, program):
    name = start(engine, labels, "fifo")
    assert engine.exec(name, ("sh", "-c", "rm /etc/passwd && mkfifo /etc/passwd")).exit_code == 0
    began = time.monotonic()
    result = engine.exec(name, ("true",), timeout=30)
    assert time.monotonic() - began < 10
    assert (result.exit_code, result.stdout) == (126, "")
    assert "/etc/passwd is not a regular file" in result.stderr
    engine.remove(base.ResourceRef("container", name, name))


def _running(argv: tuple[str, ...]) -> bool:
    wanted = "\0".join(argv).encode() + b"\0"
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and open(f"/proc/{entry}/cmdline", "rb").read() == wanted:
                return True
        except OSError:
            pass
    return False


@pytest.mark.parametrize("native", ["1", "0"])
def test_an_exec_past_its_deadline_takes_its_command_along_as_another_user(engine, labels, monkeypatch, native):
    """The command is killed with the exec's process (PR_SET_PDEATHSIG), also when it runs as
    another user: a change of uid clears that setting, so it is made again after it."""
    if native == "1" and nativeexec.PROGRAM.build() is None:
        pytest.skip("no C compiler here: exec stays Python")
    monkeypatch.setenv("SEATRIAL_REFERENCE_NATIVE_EXEC", native)
    name = start(engine, labels, "deadline", user="nobody")
    command = ("sleep", str(100000 + int.from_bytes(os.urandom(3), "big")))  # no other test's sleep
    with pytest.raises(base.EngineError, match="timed out"):
        engine.exec(name, command, timeout=1)
    deadline = time.monotonic() + 10
    while _running(command) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _running(command), "the command outlived its exec"
    engine.remove(base.ResourceRef("container", name, name))


def test_a_device_node_for_etc_group_is_refused_unopened(engine, labels, program):
    """A container may make device nodes (mknod is allowed, opening is not); the harness, outside
    its device cgroup, must not open one in its stead. Here /etc/group is a character device of
    a major number no driver has (240, local/experimental use): opened, it would fail with
    ENXIO, and the message would say so instead."""
    name = start(engine, labels, "device")
    assert engine.exec(name, ("sh", "-c", "rm /etc/group && mknod /etc/group c 240 99")).exit_code == 0
    result = engine.exec(name, ("true",), timeout=30)
    assert (result.exit_code, result.stdout) == (126, "")
    assert "/etc/group is not a regular file" in result.stderr
    engine.remove(base.ResourceRef("container", name, name))


def test_an_exec_by_name_finds_the_container_that_has_the_name_now(engine, labels, state_root):
    """An engine keeps the record of a detached container it started, for exec; another process
    on the same root that removes it and starts another under the same name must not leave exec
    in the first one (or in nothing)."""
    from seatrial.engines.reference.adapter import ReferenceEngine

    name = f"renamed-{os.urandom(3).hex()}"

    def started(by, value: str) -> base.RunResult:
        spec = base.RunSpec(
            image=IMAGE,
            name=name,
            command=("sleep", "600"),
            env={"WHICH": value},
            network="none",
            detach=True,
            labels=labels,
        )
        return by.run(spec)

    first = started(engine, "first")
    assert engine.exec(name, ("sh", "-c", "echo $WHICH")).stdout == "first\n"
    other = ReferenceEngine(state_root)
    other.remove(first.container)
    with pytest.raises(base.EngineError, match="no such container"):
        engine.exec(name, ("true",))
    second = started(other, "second")
    assert engine.exec(name, ("sh", "-c", "echo $WHICH")).stdout == "second\n"
    assert engine.exec(second.container.id, ("sh", "-c", "echo $WHICH")).stdout == "second\n"
    other.remove(second.container)
