"""An image must not touch the host: the six probes of issue 10, each aimed at a temporary folder
standing for the host, each passing only if the reference runtime keeps it out."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from reference_busybox import IMAGE

from seatrial.engines import base
from seatrial.engines.reference import devices


@pytest.fixture
def host(tmp_path) -> Path:
    """A folder standing for the host: nothing an image does may change it."""
    folder = tmp_path / "host"
    folder.mkdir()
    (folder / "secret").write_text("host secret\n")
    return folder


def build(engine, labels, context: Path, dockerfile: str, tag: str) -> base.BuildResult:
    (context / "Dockerfile").write_text(dockerfile)
    return engine.build(base.BuildSpec(tag=tag, context=context, labels=labels, no_cache=True))


def run(engine, labels, image: str, script: str, **changes) -> base.RunResult:
    spec = base.RunSpec(
        image=image,
        name=f"probe-{os.urandom(4).hex()}",
        command=("sh", "-c", script),
        network="none",
        labels=labels,
        remove=True,
        **changes,
    )
    return engine.run(spec)


def test_copy_to_dotdot_and_workdir_dotdot_land_inside_the_image(engine, labels, tmp_path, host):
    """Probe 1: `COPY a.txt /../../..<host>/PWNED` wrote the host; Docker clamps `..` at the
    image's root, and so must the reference builder -- for COPY, COPY --from and WORKDIR."""
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "a.txt").write_text("payload\n")
    climb = "/.." * 12
    built = build(
        engine,
        labels,
        context,
        f"""\
FROM {IMAGE} AS first
COPY a.txt {climb}{host}/PWNED
FROM {IMAGE}
COPY --from=first {host}/PWNED {climb}{host}/FROM
WORKDIR {climb}{host}/../..
COPY a.txt .{climb}{host}/WORKDIR
""",
        "probe-copy:1",
    )
    assert sorted(p.name for p in host.iterdir()) == ["secret"]
    result = run(engine, labels, built.image.id, f"cat {host}/FROM {host}/WORKDIR; pwd")
    assert (result.exit_code, result.stdout) == (0, f"payload\npayload\n{host.parent.parent}\n"), result.stderr


def test_a_context_symlink_into_a_sibling_folder_is_refused(engine, labels, tmp_path):
    """Probe 3: `evildir2 -> ../ctx-outside` passed a prefix test (`/x/ctx-outside` starts with
    `/x/ctx`); path components are compared now."""
    context, outside = tmp_path / "ctx", tmp_path / "ctx-outside"
    context.mkdir(), outside.mkdir()
    (outside / "secret").write_text("outside\n")
    os.symlink("../ctx-outside", context / "evildir2")
    with pytest.raises(base.EngineError, match="outside the build context"):
        build(engine, labels, context, f"FROM {IMAGE}\nCOPY evildir2/secret /\n", "probe-context:1")


def test_volume_seeding_and_mount_targets_stay_in_the_image(engine, labels, tmp_path, host, session):
    """Probe 4: a new volume at /data, where the image has `/data -> <host>`, received the host's
    folder; so did a target with `..`; a bind target with `..` made a folder on the host."""
    context = tmp_path / "ctx"
    context.mkdir()
    built = build(engine, labels, context, f"FROM {IMAGE}\nRUN rm -rf /data && ln -s {host} /data\n", "probe-volume:1")
    engine.volume_create(base.VolumeSpec(name=f"seed-{session}", labels=labels))
    engine.volume_create(base.VolumeSpec(name=f"climb-{session}", labels=labels))
    empty = tmp_path / "empty"
    empty.mkdir()
    climb = "/mnt" + "/.." * 12 + str(host)
    seeded = run(
        engine, labels, built.image.id, "ls -A /data", mounts=(base.Mount("volume", f"seed-{session}", "/data"),)
    )
    climbed = run(
        engine, labels, built.image.id, f"ls -A {host}", mounts=(base.Mount("volume", f"climb-{session}", climb),)
    )
    bound = run(
        engine,
        labels,
        built.image.id,
        f"ls -A {host}",
        mounts=(base.Mount("bind", str(empty), climb + "/made-by-bind"),),
    )
    assert [(r.exit_code, r.stdout) for r in (seeded, climbed, bound)] == [(0, ""), (0, ""), (0, "made-by-bind\n")], [
        r.stderr for r in (seeded, climbed, bound)
    ]
    assert sorted(p.name for p in host.iterdir()) == ["secret"]
    for name in (f"seed-{session}", f"climb-{session}"):
        assert list((engine.state.volumes / name / "_data").iterdir()) == []


DEVICES_PROBE = """\
for dev in kvm:10:232 ttyS0:4:64 vcs:7:0 kmsg:1:11; do
  IFS=: read name major minor <<EOF
$dev
EOF
  mknod /tmp/$name c $major $minor || echo "mknod $name refused"
  if head -c 0 /tmp/$name 2>/dev/null; then echo "$name opened"; else echo "$name refused"; fi
done
head -c 1 /dev/zero | wc -c; echo x > /dev/null && echo null-ok
"""


def test_only_dockers_default_devices_can_be_opened(engine, labels):
    """Probe 5: mknod then open of /dev/kvm, a serial console, /dev/vcs and /dev/kmsg worked;
    the devices cgroup lets mknod through and refuses the open, as Docker's default rules do."""
    assert devices.available(), "this host mounts the v1 devices controller (MACHINE.md)"
    result = run(engine, labels, IMAGE, DEVICES_PROBE)
    assert result.stdout == "kvm refused\nttyS0 refused\nvcs refused\nkmsg refused\n1\nnull-ok\n", result.stderr


def test_a_privileged_container_opens_every_device(engine, labels):
    """The control: --privileged lifts the device rules, as in Docker (the probe can pass)."""
    result = run(engine, labels, IMAGE, DEVICES_PROBE, privileged=True)
    assert "kmsg opened" in result.stdout and "vcs opened" in result.stdout, result.stdout + result.stderr


def test_device_cgroups_go_with_their_containers(engine, labels, state_root):
    """Nothing leaks: the cgroup of a detached container goes when it is removed."""
    spec = base.RunSpec(
        image=IMAGE,
        name=f"devs-{os.urandom(4).hex()}",
        command=("sleep", "60"),
        network="none",
        labels=labels,
        detach=True,
    )
    ref = engine.run(spec).container
    path = Path(engine.state.container_record(ref.id)["device_cgroup"])
    assert path.is_dir() and "a *:* rwm" not in (path / "devices.list").read_text()
    exec_cgroup = engine.exec(ref.id, ("cat", "/proc/self/cgroup"), timeout=30).stdout
    assert f"devices:/{path.parent.name}/{path.name}" in exec_cgroup  # exec joins it too
    engine.remove(ref)
    assert not path.exists()


EXE_PROBE = """\
mv /etc/passwd /etc/passwd.real 2>/dev/null; touch /etc/passwd.real
mkfifo /etc/passwd && touch /tmp/ready
while :; do
  for status in /proc/[0-9]*/status; do
    pid=${status#/proc/}; pid=${pid%/status}
    [ "$pid" = 1 ] && continue
    grep -q "^PPid:.0$" "$status" 2>/dev/null && break 2
  done
done
if cat /proc/$pid/exe > /dev/null 2>&1; then echo readable > /tmp/result; else echo refused > /tmp/result; fi
cat /etc/passwd.real > /etc/passwd
sleep 60
"""


def test_exec_cannot_be_read_through_proc_exe_before_it_execs(engine, labels, monkeypatch):
    """Probe 6, CVE-2019-5736: the Python exec's process is the host's Python until it execs;
    were it dumpable, a root process of the container could open /proc/PID/exe -- the host's
    interpreter -- and write it once the exec ends. Held here at its user lookup (the
    container's /etc/passwd is a FIFO), after it has the container's capabilities: its only
    defence is being non-dumpable. (The C exec reads the user in the harness, where a FIFO is
    refused; its own probe is in test_reference_exec_native.py.)"""
    monkeypatch.setenv("SEATRIAL_REFERENCE_NATIVE_EXEC", "0")
    spec = base.RunSpec(
        image=IMAGE,
        name=f"exe-{os.urandom(4).hex()}",
        command=("sh", "-c", EXE_PROBE),
        network="none",
        labels=labels,
        detach=True,
    )
    ref = engine.run(spec).container
    ready = engine.state.containers / ref.id / "upper" / "tmp" / "ready"
    for _ in range(500):
        if ready.exists():
            break
        time.sleep(0.01)
    assert ready.exists()
    result = engine.exec(ref.id, ("cat", "/tmp/result"), timeout=30)
    engine.remove(ref)
    assert (result.exit_code, result.stdout) == (0, "refused\n"), result.stderr


def test_add_of_a_hostile_archive_writes_nothing_outside_the_image(engine, labels, tmp_path, host):
    """ADD unpacks a local tar: a member climbing out with `..` is refused with a build error
    (not a traceback), and an absolute name or a member written through a symlink to a host
    folder stays inside the image."""
    import io
    import tarfile

    def archive(folder: Path, members) -> Path:
        folder.mkdir()
        with tarfile.open(folder / "a.tar", "w") as tar:
            for name, link in members:
                info = tarfile.TarInfo(name)
                if link is None:
                    info.size = 2
                    tar.addfile(info, io.BytesIO(b"x\n"))
                else:
                    info.type, info.linkname = tarfile.SYMTYPE, link
                    tar.addfile(info)
        return folder

    climbing = archive(tmp_path / "climb", [(f"../../../../../..{host}/climbed", None)])
    with pytest.raises(base.EngineError, match="escapes the layer"):
        build(engine, labels, climbing, "FROM scratch\nADD a.tar /dst/\n", f"{labels['seatrial.session']}-climb")
    inside = archive(tmp_path / "inside", [(f"{host}/absolute", None), ("esc", str(host)), ("esc/through", None)])
    build(engine, labels, inside, "FROM scratch\nADD a.tar /dst/\n", f"{labels['seatrial.session']}-inside")
    assert sorted(p.name for p in host.iterdir()) == ["secret"]
