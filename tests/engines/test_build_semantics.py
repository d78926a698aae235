"""Build semantics of Docker 20.10's classic builder, held on every engine that shares them:
each case's Dockerfile is built and the image config and a `stat` probe of its files compared
with what `DOCKER_BUILDKIT=0 docker build` produced on this machine (recorded below).

Where an engine departs from the classic builder by design, the case names it with the reason
(DIFFERS); the reference runtime must agree with the classic builder on every case.
"""

from __future__ import annotations

import io
import os
import tarfile
import time
import uuid

import pytest

from seatrial.engines.base import BuildSpec, EngineError, RunSpec

pytestmark = pytest.mark.root

PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
STAT = "stat -c '%n %a %u:%g %F' "


def _tar() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("t/sub/two")
        info.size, info.mode, info.uid, info.gid = 2, 0o640, 5, 6
        tar.addfile(info, io.BytesIO(b"22"))
    return buf.getvalue()


TREE = {
    "a": ("aaa", 0o644),
    "d/f": ("f", 0o600),
    "d/sub/g": ("g", 0o644),
    "d/l": "->f",
    "ln": "->a",
    "a.tar.gz": (_tar(), 0o644),
}

# name: (Dockerfile after FROM, context, probe, expected config subset, expected probe output)
CASES = {
    "env-old-values-and-forms": (
        "ENV A=1 X=hi\nENV A=2 B=$A C=${A:-z} Y=${X:+a$X-b} Z=${NOPE:-w${X}w} Q=\\$X R='$X' S=\"$X\"\n",
        {},
        None,
        {"Env": [PATH, "A=2", "X=hi", "B=1", "C=1", "Y=ahi-b", "Z=whiw", "Q=$X", "R=$X", "S=hi"]},
        None,
    ),
    "arg-label-expose-user-stopsignal": (
        'ARG P=8080\nARG U=nobody\nLABEL "k$P"="v ${U}"\nEXPOSE $P ${P}/udp 9000-9001\nUSER ${U}:nogroup\n'
        "STOPSIGNAL SIGUSR1\n",
        {},
        "id",
        {
            "Labels": {"k8080": "v nobody"},
            "User": "nobody:nogroup",
            "StopSignal": "SIGUSR1",
            "ExposedPorts": {"8080/tcp": {}, "8080/udp": {}, "9000/tcp": {}, "9001/tcp": {}},
        },
        "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)\n",
    ),
    "workdir-made-and-kept-as-written": (
        "WORKDIR /w/../w/./x/\n",
        {},
        STAT + "/w/x",
        {"WorkingDir": "/w/../w/./x/"},
        "/w/x 755 0:0 directory\n",
    ),
    "copy-chown-dest-folders-and-links": (
        "COPY --chown=1:2 d /dd\nCOPY d /tmp/\nCOPY ln /x\nCOPY --chown=3:4 a /p/q/r\n",
        TREE,
        STAT + "/dd /dd/f /dd/l /tmp /tmp/f /x /p /p/q/r",
        {},
        "/dd 755 1:2 directory\n/dd/f 600 1:2 regular file\n/dd/l 777 1:2 symbolic link\n"
        "/tmp 1777 0:0 directory\n/tmp/f 600 0:0 regular file\n/x 644 0:0 regular file\n"
        "/p 755 3:4 directory\n/p/q/r 644 3:4 regular file\n",
    ),
    "shell-volume-onbuild": (
        'SHELL ["/bin/sh", "-xc"]\nCMD echo x\nVOLUME /data\nRUN mkdir -p /data && echo x > /data/f && echo y > /keep\n'
        "ONBUILD RUN  echo a\n",
        {},
        "ls -A /data; cat /keep",
        {
            "Cmd": ["/bin/sh", "-xc", "echo x"],
            "Shell": ["/bin/sh", "-xc"],
            "Volumes": {"/data": {}},
            "OnBuild": ["RUN  echo a"],
        },
        "y\n",
    ),
    "add-local-tar-unpacks": (
        "ADD a.tar.gz /y/\n",
        TREE,
        STAT + "/y/t/sub/two",
        {},
        "/y/t/sub/two 640 5:6 regular file\n",
    ),
    "dockerignore-exceptions-last-match": (
        "COPY . /ctx\n",
        {
            "keep/me": "1",
            "keep/notme": "2",
            "B.txt": "3",
            "b.md": "4",
            "aab": "5",
            ".dockerignore": "keep\n!keep/me\nb.*\na+b\n",
        },
        "cd /ctx && find . | sort",
        {},
        ".\n./.dockerignore\n./B.txt\n./Dockerfile\n./keep\n./keep/me\n",
    ),
}
# Where an engine departs from the classic builder by design.
DIFFERS = {
    ("podman", "arg-label-expose-user-stopsignal"): "Buildah keeps an EXPOSE range as one key (9000-9001/tcp)",
    ("docker-buildkit", "shell-volume-onbuild"): "BuildKit keeps what a RUN writes under a VOLUME",
    ("podman", "shell-volume-onbuild"): "Podman writes OCI image configs by default, which have no "
    "Shell or OnBuild (--format docker keeps them)",
}


def write(ctx, files: dict) -> None:
    for name, spec in files.items():
        path = ctx / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(spec, str) and spec.startswith("->"):
            os.symlink(spec[2:], path)
            continue
        data, mode = spec if isinstance(spec, tuple) else (spec, 0o644)
        path.write_bytes(data if isinstance(data, bytes) else data.encode())
        os.chmod(path, mode)
    os.chmod(ctx / "d", 0o700) if (ctx / "d").is_dir() else None


@pytest.mark.parametrize("case", sorted(CASES))
def test_build_agrees_with_dockers_classic_builder(case, engine, base_tag, labels, tmp_path, requires):
    requires("build")
    # Rootless Podman builds with the same Buildah: its departures are Podman's.
    builder = "podman" if engine.name == "podman-rootless" else engine.name
    if (builder, case) in DIFFERS:
        pytest.skip(f"{engine.name} differs from the classic builder here: {DIFFERS[builder, case]}")
    body, files, probe, config, output = CASES[case]
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    write(ctx, files)
    (ctx / "Dockerfile").write_text(f"FROM {base_tag}\n{body}")
    tag = f"semantics-{uuid.uuid4().hex[:8]}"
    built = engine.build(BuildSpec(tag=tag, context=ctx, labels=labels, no_cache=True))
    got = engine.inspect(built.image)["config"]
    got["Labels"] = {k: v for k, v in (got.get("Labels") or {}).items() if k in config.get("Labels", {})}
    assert {key: got.get(key) for key in config} == config
    if probe:
        result = engine.run(
            RunSpec(
                image=built.image.id,
                name=f"probe-{uuid.uuid4().hex[:8]}",
                command=("sh", "-c", probe),
                entrypoint=(),
                network="none",
                labels=labels,
                remove=True,
            )
        )
        assert (result.exit_code, result.stdout) == (0, output), result.stderr


@pytest.mark.parametrize(
    "body, message",
    [
        ("ENV X=${Y-w}\n", "in substitution"),
        ("COPY --chown=nobody a /a\n", "no such group: nobody"),
    ],
)
def test_build_refuses_what_dockers_classic_builder_refuses(
    body, message, engine, base_tag, labels, tmp_path, requires
):
    requires("build")
    if engine.name != "reference" and engine.name != "docker":
        pytest.skip(f"{engine.name}: messages differ; the classic builder's are the ones recorded")
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "a").write_text("a")
    (ctx / "Dockerfile").write_text(f"FROM {base_tag}\n{body}")
    with pytest.raises(EngineError, match=message):
        engine.build(BuildSpec(tag=f"refused-{uuid.uuid4().hex[:8]}", context=ctx, labels=labels, no_cache=True))


def test_run_gives_each_image_volume_a_fresh_anonymous_volume_seeded_from_the_image(
    engine, base_tag, labels, tmp_path, requires
):
    """`VOLUME /data` over an image file: every run sees the image's file in a new volume, and
    what one run writes there is not in the next (docker run's anonymous volumes, which `--rm`
    removes with the container)."""
    requires("build")
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(f"FROM {base_tag}\nRUN mkdir /data && echo seed > /data/file\nVOLUME /data\n")
    built = engine.build(BuildSpec(tag=f"volume-{uuid.uuid4().hex[:8]}", context=ctx, labels=labels))
    outputs = []
    for _ in range(2):
        result = engine.run(
            RunSpec(
                image=built.image.id,
                name=f"vol-{uuid.uuid4().hex[:8]}",
                network="none",
                command=("sh", "-c", "ls /data; echo x > /data/run"),
                labels=labels,
                remove=True,
            )
        )
        outputs.append((result.exit_code, result.stdout))
    assert outputs == [(0, "file\n"), (0, "file\n")]
    session = f"seatrial.session={labels['seatrial.session']}"
    assert [r for r in engine.resources(session) if r.kind == "volume"] == []  # --rm took them along


def test_stop_sends_the_images_stopsignal(engine, base_tag, labels, tmp_path, requires):
    requires("build")
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(f"FROM {base_tag}\nSTOPSIGNAL SIGUSR1\n")
    built = engine.build(BuildSpec(tag=f"stopsig-{uuid.uuid4().hex[:8]}", context=ctx, labels=labels))
    script = "trap 'exit 7' USR1; trap '' TERM; touch /tmp/ready; while :; do sleep 0.1; done"
    run = engine.run(
        RunSpec(
            image=built.image.id,
            name=f"stop-{uuid.uuid4().hex[:8]}",
            network="none",
            command=("sh", "-c", script),
            labels=labels,
            detach=True,
        )
    )
    deadline = time.monotonic() + 30  # pid 1 ignores a signal it has no handler for yet: wait for the trap
    while engine.exec(run.container.name, ["test", "-e", "/tmp/ready"], timeout=10).exit_code != 0:
        assert time.monotonic() < deadline, "the container never set its trap"
        time.sleep(0.1)
    engine.stop(run.container.name, timeout=20)
    assert engine.inspect(run.container)["exit_code"] == 7
