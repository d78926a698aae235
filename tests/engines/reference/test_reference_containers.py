"""Containers on the real kernel: exit codes, output, pid 1, hostname, exec, isolation."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time

import pytest
from reference_busybox import IMAGE

from seatrial.engines import base
from seatrial.engines.reference.procfs import start_time


def run(engine, labels, *argv, **kwargs) -> base.RunResult:
    kwargs.setdefault("network", "none")
    kwargs.setdefault("name", f"c{abs(hash(argv)) % 10**8}")
    return engine.run(base.RunSpec(image=IMAGE, command=argv, labels=labels, **kwargs))


def test_run_reports_exit_code_and_separate_streams(engine, labels):
    result = run(engine, labels, "sh", "-c", "echo out; echo err >&2; exit 7", remove=True)
    assert (result.exit_code, result.stdout, result.stderr) == (7, "out\n", "err\n")
    assert engine.state.container_dir(result.container.id) is None
    trash = engine.state.root / "trash" / result.container.id
    for _ in range(500):  # the shim deletes the writable layer after the harness lets go
        if not trash.exists():
            break
        time.sleep(0.01)
    assert not trash.exists()


def test_missing_command_is_refused_with_127_like_docker(engine, labels):
    with pytest.raises(base.EngineError, match='exec: "no-such-command": executable file not found') as refused:
        run(engine, labels, "no-such-command", remove=True)
    assert refused.value.exit_code == 127
    assert not [r for r in engine.resources("seatrial.session=" + labels["seatrial.session"]) if r.kind == "container"]


def test_a_command_that_is_not_executable_is_refused_with_126_and_a_missing_interpreter_exits_1(engine, labels):
    with pytest.raises(base.EngineError, match='exec: "/etc/passwd": permission denied') as refused:
        run(engine, labels, "/etc/passwd", remove=True)
    assert refused.value.exit_code == 126
    run(engine, labels, "sleep", "60", name="interp", detach=True)
    engine.exec("interp", ("sh", "-c", "printf '#!/nonexistent\\n' > /s; chmod +x /s"))
    # found and executable: the container runs, and execve(2) fails as runc's init reports it
    script = engine.exec("interp", ("/s",))
    assert (script.exit_code, script.stdout, script.stderr) == (1, "", "exec /s: no such file or directory\n")
    # docker exec says 126 for a command it cannot start, found or not (Podman says 127)
    missing = engine.exec("interp", ("no-such-command",))
    assert (missing.exit_code, missing.stderr) == (126, 'exec: "no-such-command": executable file not found in $PATH\n')


def test_absent_image_fails_with_clear_error(engine, labels):
    with pytest.raises(base.EngineError, match="absent:1.* is not here"):
        engine.run(base.RunSpec(image="absent:1", name="x", labels=labels))


def test_container_is_pid_1_with_its_own_hostname(engine, labels):
    result = run(engine, labels, "sh", "-c", "echo $$; hostname; ps -o pid | wc -l", hostname="inside", remove=True)
    pid, hostname, count = result.stdout.split()
    assert (pid, hostname) == ("1", "inside")
    assert int(count) <= 4  # header, sh, ps, wc: no host process is visible


def test_env_workdir_and_user_apply(engine, labels):
    result = run(
        engine,
        labels,
        "sh",
        "-c",
        "echo $GREETING; pwd; id -u",
        env={"GREETING": "hi"},
        workdir="/work/here",
        user="nobody",
        remove=True,
    )
    assert result.stdout.split() == ["hi", "/work/here", "65534"]


def test_written_file_is_not_seen_by_another_container(engine, labels):
    run(engine, labels, "sh", "-c", "echo x > /data/mine", name="writer", remove=True)
    result = run(engine, labels, "ls", "/data", name="reader", remove=True)
    assert result.stdout.split() == ["seed.txt"]


def test_exec_runs_inside_a_detached_container_and_logs_survive(engine, labels):
    started = run(engine, labels, "sh", "-c", "echo started; exec sleep 60", name="detached", detach=True)
    assert started.exit_code is None
    # `run -d` returns once pid 1 (sh) runs; an exec may come before sh has exec'd sleep
    deadline = time.monotonic() + 10
    while True:
        result = engine.exec("detached", ("sh", "-c", "echo $$ $PATH; cat /proc/1/cmdline; hostname"))
        if "sleep60" in result.stdout.replace("\0", "") or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    assert result.exit_code == 0
    assert "sleep60" in result.stdout.replace("\0", "")
    assert engine.logs("detached")[0] == "started\n"
    engine.stop("detached", timeout=0.2)  # sleep as pid 1 ignores SIGTERM: SIGKILL follows
    assert engine.wait("detached", timeout=5) == 137
    engine.remove(started.container)
    engine.remove(started.container)  # idempotent
    assert engine.resources(f"seatrial.session={labels['seatrial.session']}") == []


@pytest.mark.parametrize("network", ["user", "none"])
def test_a_detached_container_that_exits_at_once_keeps_its_exit_code(engine, labels, network):
    # The shim may learn pid 1's code before the harness has closed its end of the exit pipe
    # (Python shim on a user network: it serves DNS; the C tail on network none). The code must
    # reach wait() all the same, not the 137 of "nothing recorded".
    made = None
    if network == "user":
        made = engine.network_create(base.NetworkSpec(f"quick-{labels['seatrial.session']}", labels=labels))
        network = made.name
    codes = []
    for attempt in range(40):
        name = f"quick{attempt}"
        started = run(engine, labels, "sh", "-c", f"exit {attempt % 5 + 3}", name=name, network=network, detach=True)
        codes.append(engine.wait(name, timeout=10))
        engine.remove(started.container)
    if made:
        engine.remove(made)
    assert codes == [attempt % 5 + 3 for attempt in range(40)]
    assert engine.resources(f"seatrial.session={labels['seatrial.session']}") == []


ISOLATION = r"""
grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status
for f in /proc/kcore /proc/timer_list; do [ -e $f ] && echo $f=$(wc -c < $f); done; echo acpi=$(ls /proc/acpi | wc -l)
mkdir -p /mnt/x; mount -t tmpfs none /mnt/x 2>/dev/null && echo mount=yes || echo mount=no
echo 1 > /proc/sys/kernel/hostname 2>/dev/null && echo procsys=rw || echo procsys=ro
touch /sys/x 2>/dev/null && echo sys=rw || echo sys=ro
unshare -n true 2>/dev/null && echo unshare=yes || echo unshare=no
ls /dev | tr '\n' ' '
"""


def test_isolation_defaults_hold_inside(engine, labels):
    out = run(engine, labels, "sh", "-c", ISOLATION, remove=True).stdout
    assert "CapEff:\t00000000a80425fb" in out  # Docker's default set, no CAP_SYS_ADMIN
    assert "NoNewPrivs:\t0" in out and "Seccomp:\t2" in out  # Docker's default: no_new_privs off
    assert "/proc/timer_list=0" in out and "acpi=0" in out  # this kernel has no /proc/kcore
    assert "/proc/kcore=" not in out or "/proc/kcore=0" in out
    for expected in ("mount=no", "procsys=ro", "sys=ro", "unshare=no"):
        assert expected in out
    assert "sda" not in out and "null" in out


def test_run_options_change_confinement_as_dockers_do(engine, labels):
    """no-new-privileges, --cap-add (with the syscalls it opens), seccomp=unconfined, and
    systempaths=unconfined each change exactly their part."""
    status = "grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status"
    out = run(engine, labels, "sh", "-c", status, remove=True, name="nnp", no_new_privileges=True).stdout
    assert "NoNewPrivs:\t1" in out
    probe = "mkdir -p /mnt/t && mount -t tmpfs none /mnt/t && echo mounted"
    assert run(engine, labels, "sh", "-c", probe, remove=True, name="plain").exit_code != 0
    out = run(engine, labels, "sh", "-c", probe, remove=True, name="admin", cap_add=("SYS_ADMIN",)).stdout
    assert out == "mounted\n"
    out = run(engine, labels, "sh", "-c", status, remove=True, name="unconf", seccomp="unconfined").stdout
    assert "Seccomp:\t0" in out
    out = run(
        engine, labels, "sh", "-c", "ls /sys/firmware | wc -l", remove=True, name="unmask", unmask_paths=True
    ).stdout
    assert out.strip() != "0"


def test_privileged_container_keeps_all_capabilities(engine, labels):
    out = run(engine, labels, "grep", "CapEff", "/proc/self/status", privileged=True, remove=True).stdout
    assert "0000000000000000" not in out and "a80425fb" not in out


def test_runs_the_same_without_the_zygote(engine, labels, monkeypatch):
    from seatrial.engines.reference.adapter import ReferenceEngine

    monkeypatch.setenv("SEATRIAL_REFERENCE_ZYGOTE", "0")
    direct = ReferenceEngine(engine.state.root)
    result = direct.run(
        base.RunSpec(
            image=IMAGE,
            name="direct",
            command=("sh", "-c", "echo $$; exit 4"),
            network="none",
            labels=labels,
            remove=True,
        )
    )
    assert (result.exit_code, result.stdout) == (4, "1\n")
    direct.run(
        base.RunSpec(image=IMAGE, name="direct-d", command=("sleep", "60"), network="none", labels=labels, detach=True)
    )
    executed = direct.exec("direct-d", ("sh", "-c", "echo $$; exit 5"))
    assert (executed.exit_code, executed.stdout) == (5, "2\n")


def _uptime_of_start(pid: int) -> float:
    """When `pid` started, in seconds since boot (proc(5) starttime)."""
    ticks = int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[19])
    return ticks / os.sysconf("SC_CLK_TCK")


def _uptime() -> float:
    return float(open("/proc/uptime").read().split()[0])


@pytest.mark.parametrize("prewarm", ["1", "0"])
def test_the_shim_comes_from_a_sandbox_made_ahead_unless_prewarm_is_off(
    state_root, labels, session, monkeypatch, prewarm
):
    from seatrial.engines.reference.adapter import ReferenceEngine

    monkeypatch.setenv("SEATRIAL_REFERENCE_PREWARM", prewarm)
    engine = ReferenceEngine(state_root)  # its own zygote, which reads the setting when it starts
    try:
        run(engine, labels, "true", remove=True, name="first")  # starts the zygote (and a spare)
        zygote, deadline = engine.containers.zygote, time.monotonic() + 20
        while prewarm == "1" and not zygote._spares and time.monotonic() < deadline:
            with zygote._lock:  # a spare is made at SCHED_IDLE: on a busy machine it takes a while
                zygote._read_announcements()
            time.sleep(0.05)
        assert bool(zygote._spares) == (prewarm == "1")
        time.sleep(0.3)  # so that a shim forked on request would start measurably later
        asked = _uptime()
        result = run(engine, labels, "sleep", "60", name="second", detach=True)
        raw = engine.inspect(result.container)["raw"]
        shim = raw["shim_pid"]
        made_ahead = _uptime_of_start(shim) < asked - 0.2
        assert made_ahead == (prewarm == "1")
        # the start times a spare announced ahead are the processes' own (pid reuse is told by them)
        assert (raw["shim_start"], raw["pid_start"]) == (start_time(shim), start_time(raw["pid"]))
    finally:
        engine.reap(session=session)


def _namespaces(pid: int) -> dict[str, str]:
    return {ns: os.readlink(f"/proc/{pid}/ns/{ns}") for ns in ("pid", "net", "uts", "ipc", "mnt")}


def test_every_container_gets_namespaces_of_its_own_and_host_network_shares_only_the_netns(engine, labels):
    pids = {}
    for name, network in (("ns-a", "none"), ("ns-b", "none"), ("ns-host", "host")):
        result = run(engine, labels, "sleep", "60", name=name, network=network, detach=True)
        pids[name] = engine.inspect(result.container)["pid"]
    a, b, host_net, ours = (
        _namespaces(pids["ns-a"]),
        _namespaces(pids["ns-b"]),
        _namespaces(pids["ns-host"]),
        _namespaces(os.getpid()),
    )
    for ns in ("pid", "net", "uts", "ipc", "mnt"):
        assert len({a[ns], b[ns], ours[ns]}) == 3, ns
        if ns != "net":
            assert host_net[ns] not in (a[ns], b[ns], ours[ns]), ns
    assert host_net["net"] == ours["net"]
    # The spare's sandbox is made at SCHED_IDLE; a container runs at the normal policy.
    assert {os.sched_getscheduler(pid) for pid in pids.values()} == {os.SCHED_OTHER}
    assert engine.exec("ns-host", ("hostname",)).stdout.strip() == os.uname().nodename


def test_the_command_starts_with_no_signal_ignored_or_blocked_in_run_and_exec(engine, labels):
    # The engine is Python, which ignores SIGPIPE and SIGXFSZ; execve(2) would pass that on.
    status = ("sh", "-c", "grep -E '^Sig(Ign|Blk):' /proc/self/status; yes | head -n 1")
    expected = "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\ny\n"
    assert run(engine, labels, "sleep", "60", name="signals", detach=True).exit_code is None
    assert engine.exec("signals", status).stdout == expected
    assert run(engine, labels, *status, remove=True, name="signals-run").stdout == expected


def test_exec_into_a_container_whose_command_just_ended_says_it_is_not_running(engine, labels):
    run(engine, labels, "sleep", "60", name="ended", detach=True)
    pid = engine.inspect(base.ResourceRef("container", "", "ended"))["pid"]
    # pid 1 ends by itself as far as the engine knows, and the test knows for sure that it has
    # ended (the kernel says so through the pidfd) before it execs: a `true` that ends "soon"
    # raced with the exec. The exec comes at once, so the shim may not have recorded it yet.
    pidfd = os.pidfd_open(pid)
    try:
        signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        assert select.select([pidfd], [], [], 30)[0], "pid 1 did not die within 30 s of SIGKILL"
    finally:
        os.close(pidfd)
    with pytest.raises(base.EngineError, match="'ended' is not running"):
        engine.exec("ended", ("echo", "hi"))


CHROOTED_HARNESS = """
import os, sys
os.chroot(sys.argv[1]); os.chdir("/")
from seatrial.engines import base
from seatrial.engines.reference.adapter import ReferenceEngine
engine = ReferenceEngine(sys.argv[2])
labels = {"seatrial.session": sys.argv[3]}
try:
    engine.run(base.RunSpec(image=sys.argv[4], name="chrooted", command=("sleep", "60"), network="none",
                            labels=labels, detach=True))
    print(engine.exec("chrooted", ("cat", "/proc/1/cmdline")).stdout)
finally:
    engine.reap(session=sys.argv[3])
"""


def test_exec_lands_in_pid_1s_root_when_the_engine_itself_runs_chrooted(state_root, session, tmp_path):
    # Chrooted (a build host's chroot, say), pid 1 pivots away from a root that is not its mount
    # namespace's root mount; setns(2) alone would put exec at the host's real root and /proc.
    jail = tmp_path / "jail"
    jail.mkdir()
    script = (
        f"mount --rbind / {jail} && exec {sys.executable} -c '{CHROOTED_HARNESS}' {jail} {state_root} {session} {IMAGE}"
    )
    done = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split("\n")[0] == "sleep\x0060\x00"
