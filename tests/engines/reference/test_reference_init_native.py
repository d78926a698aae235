"""pid 1 through the C program (containerinit.c, which a spare sandbox's pid 1 execs) on the
real kernel: for every container and command below it gives what the Python pid 1
(containerinit.py, SEATRIAL_REFERENCE_NATIVE_INIT=0) gives, to the byte: identity (from the
container's own passwd and group, bind-mounted here), HOME, working directory, environment,
capability sets, seccomp, no new privileges, signals, fds, the mount table (masked and read-only
paths, binds, /dev), exit codes, and the words and codes for a command that cannot start or a
user that does not exist. A bind target is resolved in scope, symlinks and `..` included."""

from __future__ import annotations

import dataclasses
import os
import time

import pytest
from reference_busybox import IMAGE, START_CASES

from seatrial.engines import base
from seatrial.engines.reference import containerinit, zygote

PROBE = (
    "id; echo HOME=$HOME; pwd; echo FOO=$FOO; hostname; "
    "grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp|Sig(Blk|Ign)):' /proc/self/status; "
    "grep -c 'devices:/seatrial-' /proc/self/cgroup; env | sort; ls /proc/self/fd; "
    "stat -c '%n %A %u %g %t %T %N' /dev/* /dev/pts/* /dev/shm; "
    "awk '{for (i = 7; $i != \"-\"; i++); print $5, $6, $(i + 1)}' /proc/self/mountinfo; "
    "cat /mnt/ro/file /etc/extra.conf /data/made/file 2>&1; touch /mnt/ro/new 2>&1; echo $?"
)
COMMANDS = (("sh", "-c", PROBE), *START_CASES)
PASSWD = "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000:Alice:/home/alice:/bin/sh\nbob:x:1002:1002:::/bin/sh\n"
GROUP = "root:x:0:\nalice:x:1000:\nstaff:x:50:alice,bob\nwheel:x:10:carol,alice\nbad:x:notanumber:alice\n"
CONTAINERS = {
    "root": {"env": {"FOO": "bar", "HOME": ""}, "workdir": "/work/made"},
    "alice": {"user": "alice", "workdir": "/tmp"},
    "alice-staff": {"user": "alice:staff"},
    "bob": {"user": "bob", "env": {"HOME": "/custom"}},
    "uid-only": {"user": "4242:0"},
    "uid-group": {"user": "1000:wheel"},
    "added": {"cap_add": ("NET_ADMIN", "SYS_TIME"), "no_new_privileges": True},
    "privileged": {"privileged": True},
    "path": {"env": {"PATH": "/nope::/bin/"}},  # an empty entry, a trailing slash
    "unconfined": {"seccomp": "unconfined", "unmask_paths": True},
    "no-user": {"user": "nosuchuser"},
    "no-group": {"user": "alice:nosuchgroup"},
}


@pytest.fixture(scope="module")
def program():
    built = containerinit.NATIVE_INIT.build()
    if built is None:
        pytest.skip("no C compiler here: pid 1 stays Python")
    return built


@pytest.fixture
def host_files(tmp_path):
    """Host folders and files the containers bind: read-only data, the account files, a script
    whose interpreter is missing, and a folder reached through a symlink in scope."""
    (tmp_path / "ro").mkdir()
    (tmp_path / "ro" / "file").write_text("read-only content\n")
    (tmp_path / "extra.conf").write_text("extra\n")
    (tmp_path / "passwd").write_text(PASSWD)
    (tmp_path / "group").write_text(GROUP)
    (tmp_path / "s").write_text("#!/nonexistent\n")
    (tmp_path / "s").chmod(0o755)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "file").write_text("through a link\n")
    return tmp_path


def mounts(host) -> tuple[base.Mount, ...]:
    return (
        base.Mount("bind", str(host / "ro"), "/mnt/ro", read_only=True),
        base.Mount("bind", str(host / "extra.conf"), "/../../etc/./extra.conf"),
        base.Mount("bind", str(host / "passwd"), "/etc/passwd", read_only=True),
        base.Mount("bind", str(host / "group"), "/etc/group", read_only=True),
        base.Mount("bind", str(host / "s"), "/bin/s"),
        # /data/made does not exist in the image: made, then bound
        base.Mount("bind", str(host / "data"), "/data/made"),
    )


def wait_for_spare(engine, native: bool) -> None:
    """The next run must find a spare of this kind ready (the zygote makes it after each run)."""
    held = engine.containers.zygote
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with held._lock:
            held._read_announcements()
            if held._spares and held._spares[0].native == native:
                return
        time.sleep(0.005)
    pytest.fail("no spare sandbox was announced")


def warm(engine, labels) -> None:
    """A run, then its spare: the next run finds a native spare ready."""
    spec = base.RunSpec(image=IMAGE, name=f"warm-{os.urandom(3).hex()}", command=("true",), network="none")
    engine.run(dataclasses.replace(spec, remove=True, labels=labels))
    wait_for_spare(engine, True)


def spares_used(monkeypatch) -> list[bool]:
    """Whether each spare the harness hands a run to has the C pid 1, as runs go."""
    used: list[bool] = []
    real = zygote.Zygote._use_spare
    monkeypatch.setattr(
        zygote.Zygote, "_use_spare", lambda self, *a, **kw: used.append(a[1].native) or real(self, *a, **kw)
    )
    return used


def run_both(engine, labels, monkeypatch, binds, argv, options) -> tuple[tuple, tuple]:
    """(code, stdout, stderr, error) of the run with the C pid 1, then with the Python one (a
    shim forked anew: SEATRIAL_REFERENCE_NATIVE_INIT=0 leaves the native spare unused)."""
    used = spares_used(monkeypatch)
    outcomes = []
    for native in (True, False):
        if native:
            monkeypatch.delenv("SEATRIAL_REFERENCE_NATIVE_INIT", raising=False)
            warm(engine, labels)
        else:
            monkeypatch.setenv("SEATRIAL_REFERENCE_NATIVE_INIT", "0")
        used.clear()
        spec = base.RunSpec(
            image=IMAGE,
            name=f"init-{os.urandom(3).hex()}",
            command=argv,
            network="none",
            hostname="probe",
            remove=True,
            labels=labels,
            mounts=binds,
            **options,
        )
        try:
            result = engine.run(spec)
            outcomes.append((result.exit_code, result.stdout, result.stderr, ""))
        except base.EngineError as exc:
            outcomes.append((exc.exit_code, "", "", str(exc).replace(spec.name, "NAME")))
        assert used == ([True] if native else []), f"native={native}: spares used {used}"
    monkeypatch.delenv("SEATRIAL_REFERENCE_NATIVE_INIT", raising=False)
    return outcomes[0], outcomes[1]


@pytest.mark.parametrize("container", sorted(CONTAINERS))
def test_the_c_pid1_gives_what_the_python_pid1_gives(engine, labels, monkeypatch, program, host_files, container):
    options = CONTAINERS[container]
    for argv in COMMANDS if not container.startswith("no-") else COMMANDS[:1]:
        native, python = run_both(engine, labels, monkeypatch, mounts(host_files), argv, options)
        assert native == python, argv
    # and what both give is Docker's, not merely the same
    probe, _ = run_both(engine, labels, monkeypatch, mounts(host_files), ("sh", "-c", PROBE), options)
    if container == "no-user":
        assert "unable to find user nosuchuser: no matching entries in passwd file" in probe[3]
        return
    if container == "no-group":
        assert "unable to find group nosuchgroup: no matching entries in group file" in probe[3]
        return
    out = probe[1]
    expected = {
        "alice": "uid=1000(alice) gid=1000(alice) groups=10(wheel),50(staff),1000(alice)\nHOME=/home/alice\n/tmp\n",
        "alice-staff": "uid=1000(alice) gid=50(staff) groups=50(staff)\nHOME=/home/alice\n/\n",
        "bob": "uid=1002(bob) gid=1002 groups=50(staff),1002\nHOME=/custom\n",
        "uid-only": "uid=4242 gid=0(root) groups=0(root)\nHOME=/\n",
        "uid-group": "uid=1000(alice) gid=10(wheel) groups=10(wheel)\nHOME=/home/alice\n",
        "root": "uid=0(root) gid=0(root) groups=0(root)\nHOME=/root\n/work/made\nFOO=bar\n",
    }.get(container, "uid=0(root) gid=0(root) groups=0(root)\nHOME=/root\n/\n")
    assert probe[0] == 0 and out.startswith(expected), probe
    assert ("Seccomp:\t2" in out) == (container not in ("privileged", "unconfined")), out
    assert ("NoNewPrivs:\t1" in out) == (container == "added"), out
    assert "SigIgn:\t0000000000000000" in out and "SigBlk:\t0000000000000000" in out
    assert "\n0\n1\n2\n3\n" in out and "\n4\n" not in out, "an fd of the engine reached the command"
    assert "read-only content\nextra\nthrough a link\n" in out
    assert "Read-only file system" in out
    assert ("/proc/keys " in out) == (container not in ("privileged", "unconfined")), out
    assert probe[2] == ""
    missing = run_both(engine, labels, monkeypatch, mounts(host_files), ("no-such-command",), options)[0]
    assert missing[0] == 127 and 'exec: "no-such-command": executable file not found in $PATH' in missing[3]
    interpreter = run_both(engine, labels, monkeypatch, mounts(host_files), ("s",), options)[0]
    assert interpreter == (1, "", "exec /bin/s: no such file or directory\n", "")


def test_a_volume_to_seed_goes_to_the_python_pid1(engine, labels, monkeypatch, program):
    """A new named volume is seeded from the image (scope.copy_in), which only the Python pid 1
    does: such a run leaves the native spare for the next run and still gets the image's files."""
    warm(engine, labels)
    used = spares_used(monkeypatch)
    volume = base.Mount("volume", f"seed-{os.urandom(3).hex()}", "/etc")
    spec = base.RunSpec(image=IMAGE, name=f"seed-{os.urandom(3).hex()}", command=("ls", "/etc"), network="none")
    seeded = engine.run(dataclasses.replace(spec, remove=True, labels=labels, mounts=(volume,)))
    assert "passwd" in seeded.stdout.split(), seeded
    assert used == [], "the seeding run went to a native spare"
    again = engine.run(dataclasses.replace(spec, name=f"again-{os.urandom(3).hex()}", remove=True, labels=labels))
    assert "passwd" in again.stdout.split()
    assert used == [True], "the native spare was not left for the next run"


def test_a_bind_target_through_symlinks_stays_in_the_container(engine, labels, monkeypatch, program, tmp_path):
    """A bind mounted earlier brings symlinks that lead out of the root, absolute and by `..`;
    the targets of later binds through them resolve inside the container's root, on both pid 1s,
    and nothing is made or mounted on the host's side."""
    links = tmp_path / "links"
    links.mkdir()
    outside = tmp_path / "outside"
    (links / "absolute").symlink_to(outside)  # in the container: its own path of that name
    (links / "relative").symlink_to("../../../../../../..")
    (links / "loop").symlink_to("loop")
    data = tmp_path / "data"
    data.mkdir()
    (data / "file").write_text("bound\n")
    binds = (
        base.Mount("bind", str(links), "/mnt/links"),
        base.Mount("bind", str(data), "/mnt/links/absolute/inner"),
        base.Mount("bind", str(data), "/mnt/links/relative/etc/relative-data"),
    )
    probe = ("sh", "-c", f"cat {outside}/inner/file /etc/relative-data/file")
    native, python = run_both(engine, labels, monkeypatch, binds, probe, {})
    assert native == python == (0, "bound\nbound\n", "", "")
    assert not outside.exists() and not (tmp_path.parent / "etc").exists()
    assert sorted(p.name for p in links.iterdir()) == ["absolute", "loop", "relative"], "made through a link"
    loop = binds[:1] + (base.Mount("bind", str(data), "/mnt/links/loop/x"),)
    native, python = run_both(engine, labels, monkeypatch, loop, ("true",), {})
    assert native[3] and python[3] and native[0] == python[0], (native, python)


@pytest.mark.parametrize("kind", ["zero", "fifo"])
def test_an_account_file_that_is_not_a_regular_file_is_refused_by_both(
    engine, labels, monkeypatch, program, tmp_path, kind
):
    """/etc/passwd as /dev/zero would never end and as a FIFO never begin: both pid 1s refuse it
    at once with the same words, instead of reading until memory runs out or waiting forever."""
    source = "/dev/zero"
    if kind == "fifo":
        source = str(tmp_path / "fifo")
        os.mkfifo(source)
    binds = (base.Mount("bind", source, "/etc/passwd", read_only=True),)
    began = time.monotonic()
    native, python = run_both(engine, labels, monkeypatch, binds, ("true",), {"user": "alice"})
    assert native == python, (native, python)
    assert "/etc/passwd is not a regular file of at most 4194304 bytes" in native[3], native
    assert time.monotonic() - began < 30
