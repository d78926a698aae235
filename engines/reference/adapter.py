"""ReferenceEngine: seatrial's Engine protocol over the reference runtime, in-process.

No kernel facility of its own: it holds the state root and, on it, the image store, the
networks, the volumes and the containers (containers.py, with the `run` recipe), and turns their
errors into EngineError.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from seatrial.engines import base, capsets

from . import inspectrecords as inspection
from . import kernel as k
from . import layergc
from .containers import Containers, session_tag
from .images import ImageNotFound, ImageStore
from .network import NetworkError, Networks
from .state import StateRoot, default_root, matches_label, read_json
from .volumes import VolumeError, Volumes


class ReferenceEngine(base.Engine):
    """The bundled reference runtime, driven in-process; its `containers` (containers.py) run,
    exec, wait, stop, log and remove."""

    name = "reference"
    documented_capabilities = capsets.DOCKER_DEFAULT  # the oracle keeps Docker's default set

    def __init__(self, root: Path | None = None, kernel=None):
        self._root = Path(root) if root else None
        self.kernel = kernel or k.Kernel()
        self._containers: Containers | None = None

    def _open(self) -> Containers:
        """The state root and its stores, made on first use (the root is created then)."""
        if self._containers is None:
            state = StateRoot(self._root or default_root())
            self._containers = Containers(state, self.kernel, ImageStore(state), Networks(state), Volumes(state))
        return self._containers

    @property
    def state(self) -> StateRoot:
        """The state root (state.py): every image, network, volume and container lives under it."""
        return self._open().state

    @property
    def images(self) -> ImageStore:
        """The content-addressed image and layer store (images.py)."""
        return self._open().images

    @property
    def networks(self) -> Networks:
        """Bridge networks and address allocation (network.py)."""
        return self._open().networks

    @property
    def volumes(self) -> Volumes:
        """Named volumes (volumes.py)."""
        return self._open().volumes

    @property
    def containers(self) -> Containers:
        """The containers (containers.py), which also hold the zygote."""
        return self._open()

    # --- containers ---------------------------------------------------------------------------
    def run(self, spec: base.RunSpec) -> base.RunResult:
        """Run a container to completion or detached (containers.py has the recipe)."""
        if spec.env_from_host:  # this process is the client whose environment `-e NAME` reads
            spec = dataclasses.replace(spec, env=spec.host_env(os.environ), env_from_host=())
        return self.containers.run(spec)

    def run_image(self, spec: base.RunSpec, image: dict) -> base.RunResult:
        """Run `spec` on an image record: the builder's RUN steps, whose images have no tag."""
        return self.containers.run_image(spec, image)

    def exec(self, container: str, argv: tuple[str, ...], *, timeout: float = 60.0) -> base.ExecResult:
        """Run argv in a running container."""
        return self.containers.exec(container, argv, timeout=timeout)

    def wait(self, container: str, *, timeout: float) -> int:
        """Wait for a container to exit; its exit code."""
        return self.containers.wait(container, timeout=timeout)

    def stop(self, container: str, *, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after `timeout` seconds."""
        self.containers.stop(container, timeout=timeout)

    def logs(self, container: str) -> tuple[str, str]:
        """(stdout, stderr) of a container so far."""
        return self.containers.logs(container)

    # --- images, networks, volumes ------------------------------------------------------------
    def build(self, spec: base.BuildSpec) -> base.BuildResult:
        from .builder import Builder

        with layergc.claim(self.state.tmp) as claim:  # its layers are not orphans while it runs
            return Builder(self, claim).build(spec)

    def load(self, archive: Path) -> base.ResourceRef:
        try:
            with layergc.claim(self.state.tmp):
                image_id = self.images.load(Path(archive))
        except (OSError, ValueError, KeyError) as exc:
            raise base.EngineError("load", f"{archive}: {exc}") from None
        return _image_ref(self.images.resolve(image_id))

    def tag(self, image: str, new_tag: str) -> None:
        try:
            self.images.tag(image, new_tag)
        except ImageNotFound as exc:
            raise base.EngineError("tag", str(exc)) from None

    def image_exists(self, image: str) -> bool:
        return self.images.exists(image)

    def save(self, image: str, archive: Path) -> None:
        """Write `image` to `archive` as a docker-archive tarball, as `docker save -o` does."""
        from .imagesave import save_archive

        try:
            save_archive(self.images.resolve(image), self.images.layers.path, Path(archive))
        except (ImageNotFound, OSError) as exc:
            raise base.EngineError(f"save of image {image!r}", str(exc)) from None

    def network_create(self, spec: base.NetworkSpec) -> base.ResourceRef:
        try:
            record = self.networks.create(spec.name, dict(spec.labels), session_tag(spec.labels), spec.internal)
        except NetworkError as exc:
            raise base.EngineError(f"create of network {spec.name!r}", str(exc)) from None
        return base.ResourceRef("network", record["id"], record["name"], record["labels"])

    def volume_create(self, spec: base.VolumeSpec) -> base.ResourceRef:
        record = self.volumes.create(spec.name, dict(spec.labels))
        return base.ResourceRef("volume", spec.name, spec.name, record["labels"])

    def inspect(self, ref: base.ResourceRef) -> dict:
        """Normalized keys (see inspection.py), the state record under "raw"."""
        operation = f"inspect of {ref.kind} {ref.handle!r}"
        if ref.kind == "container":
            record = self.containers.record(ref.handle, operation)
            cdir = self.state.containers / record["id"]
            return inspection.container(
                record,
                is_running=self.containers.is_running(record),
                exit_record=read_json(cdir / "exit.json"),
                health_record=read_json(cdir / "health.json"),
            )
        if ref.kind == "image":
            try:  # by id when there is one: a tag may have moved on to another image
                return inspection.image(self.images.resolve(ref.id or ref.name))
            except ImageNotFound as exc:
                raise base.EngineError(operation, str(exc)) from None
        if ref.kind == "network" and (found := self.networks.get(ref.handle)):
            return inspection.network(found)
        if ref.kind == "volume" and (found := self.volumes.get(ref.handle)):
            return inspection.volume(found, str(self.state.volumes / found["name"] / "_data"))
        raise base.EngineError(operation, f"no such {ref.kind}: {ref.handle}")

    def remove(self, ref: base.ResourceRef) -> None:
        """Remove a resource; absent ones are fine (idempotent). Running containers are killed."""
        try:
            if ref.kind == "container":
                cdir = self.state.container_dir(ref.handle) or self.state.container_dir(ref.id)
                if cdir:
                    self.containers.remove(cdir.name)
            elif ref.kind == "image":
                # By id all its tags go (as on the CLI engines); by name only that one tag.
                self.images.remove(ref.id or ref.name)
            elif ref.kind == "network":
                self.networks.remove(ref.handle, is_active=self.containers.is_running_id)
            else:
                users = [
                    r["name"]
                    for r in self.state.containers_records()
                    if any(m["kind"] == "volume" and m["source"] == ref.handle for m in r["mounts"])
                ]
                self.volumes.remove(ref.handle, in_use=bool(users))
        except (NetworkError, VolumeError, OSError) as exc:
            raise base.EngineError(f"remove of {ref.kind} {ref.handle!r}", str(exc)) from None

    def resources(self, label: str) -> list[base.ResourceRef]:
        refs = [
            base.ResourceRef("container", r["id"], r["name"], r["labels"])
            for r in self.state.containers_records()
            if matches_label(r["labels"], label)
        ]
        refs += [base.ResourceRef("network", r["id"], r["name"], r["labels"]) for r in self.networks.with_label(label)]
        refs += [base.ResourceRef("volume", r["name"], r["name"], r["labels"]) for r in self.volumes.with_label(label)]
        refs += [_image_ref(r) for r in self.images.with_label(label)]
        return refs

    # --- about this engine --------------------------------------------------------------------
    def info(self) -> base.EngineInfo:
        from .about import info

        return info(self)

    def capabilities(self) -> base.Capabilities:
        from .about import capabilities

        return capabilities()

    def testinfra_host(self, container: str):
        from .testinfra_backend import host_for

        return host_for(self, container)

    def reap(self, session: str | None = None, *, label: str | None = None) -> list[str]:
        """Remove everything of a (dead) session, or of every session carrying `label`: its
        resources and kernel objects (veths, bridges, mounts, processes); see cleanup.py."""
        from .cleanup import reap

        return reap(self, label=label, session=session)

    def prune_caches(self) -> base.PruneReport:
        """Remove every build cache entry (the next build of each step is a miss), then the
        layers no image references: seatrial/base:* and every other image stay whole."""
        from . import buildcache

        with self.state.lock():
            entries, size = buildcache.clear(self.state.cache)
        swept = layergc.sweep(self.state, self.images)
        layers = [s for s in swept if s.startswith("layer ")]
        return base.PruneReport(
            entries + len(layers),
            None,
            (
                f"{entries} build cache entries ({size} bytes) under {self.state.cache}",
                f"{len(layers)} layers no image references",
            ),
        )

    def prune(self) -> list[str]:
        """Remove what belongs to no session: layers no image references that no live build
        or load needs (a build killed midway leaves them); see layergc.py."""
        return layergc.sweep(self.state, self.images)


def _image_ref(record: dict) -> base.ResourceRef:
    """An image by id, with its first tag (if it has one) and its labels."""
    doc = inspection.image(record)
    return base.ResourceRef("image", doc["id"], doc["tags"][0] if doc["tags"] else "", doc["labels"])
