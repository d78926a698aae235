"""What one engine makes of one case: the build's outcome, the image config, the file tree
(as a delta from the base image) and the probe's exit code and output, all normalised.

Normalised means: what the harness itself adds is left out (its `seatrial.*` labels, the
base image's bytes), and an empty value is the same as an absent one (Docker writes
`"Volumes": null` where Podman writes nothing). Everything else is kept as the engine gave it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seatrial.engines.base import BuildSpec, EngineError, ResourceRef, RunSpec
from seatrial.harness.differential.corpuscase import Case, Probe
from seatrial.harness.differential.imagetree import Tree, delta, image_tree

CONFIG_KEYS = (
    "Cmd",
    "Entrypoint",
    "Env",
    "ExposedPorts",
    "Labels",
    "User",
    "WorkingDir",
    "Volumes",
    "StopSignal",
    "Healthcheck",
    "Shell",
    "OnBuild",
)
HARNESS_LABEL_PREFIX = "seatrial."
# Labels an engine stamps on every image it builds, whatever the Dockerfile says (Buildah's version).
ENGINE_STAMP_LABELS = ("io.buildah.version",)


@dataclass
class Bench:
    """What a case runs with on one engine: the engine, the base image tag and tree, the labels
    every resource carries, and a scratch folder for contexts."""

    engine: Any
    base: str
    base_tree: Tree
    labels: Mapping[str, str]
    scratch: Path
    prefix: str


def normal_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The compared keys of an image's Config; empty values dropped, harness labels dropped."""
    out = {}
    for key in CONFIG_KEYS:
        value = config.get(key)
        if key == "Labels" and value:
            value = {
                k: v
                for k, v in value.items()
                if not k.startswith(HARNESS_LABEL_PREFIX) and k not in ENGINE_STAMP_LABELS
            }
        if value not in (None, "", [], {}):
            out[key] = value
    return out


def observe(bench: Bench, case: Case) -> dict[str, Any]:
    """Build `case` on the bench's engine, read the image, run the probe; remove what it made."""
    engine, tag = bench.engine, f"{bench.prefix}-{case.name}".lower()
    with tempfile.TemporaryDirectory(prefix="case-", dir=bench.scratch) as tmp:
        context = Path(tmp) / "context"
        case.write_context(context, bench.base)
        try:
            built = engine.build(
                BuildSpec(
                    tag=tag,
                    context=context,
                    labels=dict(bench.labels),
                    build_args=dict(case.build_args),
                    target=case.target,
                    timeout=180,
                )
            )
        except EngineError as exc:
            return {"build": "failed", "build_error": exc.detail[-400:]}
    try:
        found: dict[str, Any] = {"build": "ok"}
        found["config"] = normal_config(engine.inspect(built.image).get("config") or {})
        found["tree"] = delta(bench.base_tree, image_tree(engine, built.image.id))
        if case.probe is not None:
            found["probe"] = probe(bench, case.name, case.probe, built.image.id)
        return found
    finally:
        engine.remove(ResourceRef("image", built.image.id, tag))


def probe(bench: Bench, case: str, spec: Probe, image: str) -> dict[str, Any]:
    """Run case `case`'s probe `spec` to completion without a network: exit code and output, or
    the engine's refusal."""
    name = f"{bench.prefix}-{case}-probe".lower()
    try:
        result = bench.engine.run(
            RunSpec(
                image=image,
                name=name,
                command=spec.command,
                entrypoint=spec.entrypoint,
                env=dict(spec.env),
                user=spec.user,
                workdir=spec.workdir,
                network="none",
                labels=dict(bench.labels),
                timeout=60,
            )
        )
        return {"exit_code": result.exit_code, "stdout": result.stdout, "stderr": result.stderr}
    except EngineError as exc:
        return {"refused": True, "exit_code": exc.exit_code, "error": exc.detail[-300:]}
    finally:
        bench.engine.remove(ResourceRef("container", "", name))
