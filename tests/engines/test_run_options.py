"""The run options the Docker documentation's cases need, on every engine: an anonymous volume
(`-v /path`) seeded from the image, a named volume mounted with `nocopy` that is not, and
`-e NAME` without a value, which takes this process's variable or leaves it out."""

from __future__ import annotations

import os
import uuid

from seatrial.engines.base import BuildSpec, Mount, RunSpec, VolumeSpec


def seeded_image(engine, base_tag, labels, tmp_path) -> str:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(f"FROM {base_tag}\nRUN mkdir /seeded && echo from-image > /seeded/file\n")
    return engine.build(BuildSpec(tag=f"seeded-{uuid.uuid4().hex[:8]}", context=ctx, labels=labels)).image.id


def test_an_anonymous_volume_is_new_for_each_run_and_seeded_from_the_image(
    engine, base_tag, labels, unique, tmp_path, requires
):
    requires("build", "volumes.named")
    image = seeded_image(engine, base_tag, labels, tmp_path)
    script = "cat /seeded/file; ls /seeded; echo x > /seeded/written"
    outputs = [
        engine.run(
            RunSpec(
                image,
                unique("anon"),
                command=("sh", "-c", script),
                mounts=(Mount("volume", "", "/seeded"),),
                network="none",
                labels=labels,
                remove=True,
            )
        ).stdout
        for _ in range(2)
    ]
    assert outputs == ["from-image\nfile\n"] * 2  # the first run's file is not in the second's volume


def test_nocopy_leaves_a_new_named_volume_unseeded(engine, base_tag, labels, unique, tmp_path, requires):
    requires("build", "volumes.named")
    image = seeded_image(engine, base_tag, labels, tmp_path)
    seen = {}
    for nocopy in (False, True):
        volume = engine.volume_create(VolumeSpec(unique("vol"), labels=labels))
        seen[nocopy] = engine.run(
            RunSpec(
                image,
                unique("nocopy"),
                command=("ls", "-A", "/seeded"),
                mounts=(Mount("volume", volume.name, "/seeded", nocopy=nocopy),),
                network="none",
                labels=labels,
            )
        ).stdout
    assert seen == {False: "file\n", True: ""}


def test_env_without_a_value_takes_this_process_variable_or_leaves_it_out(engine, base_tag, labels, unique):
    name = f"SEATRIAL_CT_{uuid.uuid4().hex[:8].upper()}"
    assert name not in os.environ
    result = engine.run(
        RunSpec(
            base_tag,
            unique("env"),
            command=("sh", "-c", f'echo "$PATH"; echo "${{{name}-unset}}"; env | grep -c "^{name}=" || true'),
            env_from_host=("PATH", name),
            network="none",
            labels=labels,
        )
    )
    assert result.stdout == f"{os.environ['PATH']}\nunset\n0\n"
