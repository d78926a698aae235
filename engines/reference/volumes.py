"""Named volumes and bind mounts, turned into the bind mounts rootfs.py performs.

Kernel facilities: mount(2) MS_BIND (done in rootfs.py, inside the container's mount
namespace). A named volume is a directory `volumes/<name>/_data` under the state root; like
Docker, a new and empty named volume receives a copy of the image's content at its mount point
the first time it is mounted. A bind mount shows the host directory as it is, shadowing the
image's content at the target. Each VOLUME of the image that no mount covers gets an anonymous
volume (a named one with a random 64-hex name, seeded the same way), as `docker run` does, and
so does each `-v /path` of the run. `-v NAME:/path:nocopy` is never seeded.
"""

from __future__ import annotations

import os
import posixpath
import secrets
import shutil
import time
from dataclasses import replace
from pathlib import Path

from seatrial.engines.base import Mount

from .rootfs import BindMount
from .state import StateRoot, matches_label, read_json, write_json


class VolumeError(ValueError):
    pass


class Volumes:
    def __init__(self, state: StateRoot):
        self.state = state

    def create(self, name: str, labels: dict | None = None) -> dict:
        """Create volume `name` (an existing one is kept, as `docker volume create` does)."""
        meta = self.state.volumes / name / "meta.json"
        record = read_json(meta)
        if record is None:
            (self.state.volumes / name / "_data").mkdir(parents=True, exist_ok=True)
            record = {"name": name, "labels": dict(labels or {}), "created": time.time()}
            write_json(meta, record)
        return record

    def get(self, name: str) -> dict | None:
        return read_json(self.state.volumes / name / "meta.json")

    def all(self) -> list[dict]:
        return [r for p in sorted(self.state.volumes.iterdir()) if (r := read_json(p / "meta.json"))]

    def with_label(self, label: str) -> list[dict]:
        return [r for r in self.all() if matches_label(r["labels"], label)]

    def remove(self, name: str, in_use: bool = False) -> None:
        if in_use:
            raise VolumeError("the volume is in use by a container")
        shutil.rmtree(self.state.volumes / name, ignore_errors=True)

    def binds(self, mounts, labels: dict) -> tuple[BindMount, ...]:
        """The bind mounts for a RunSpec's mounts; named volumes are created on first use."""
        binds = []
        for mount in mounts:
            if mount.kind == "volume":
                is_new = self.get(mount.source) is None
                self.create(mount.source, labels)
                data = self.state.volumes / mount.source / "_data"
                is_empty = not any(data.iterdir())
                # nocopy: the volume shows what it holds, even when it is new and the image has content there
                seed = (is_new or is_empty) and not mount.nocopy
                binds.append(BindMount(str(data), mount.target, mount.read_only, seed_from_image=seed))
            else:
                source = Path(mount.source)
                if not source.is_absolute():
                    raise VolumeError(f"bind mount source {mount.source!r}: must be an absolute path")
                if not source.exists():
                    os.makedirs(source)  # Docker's -v creates a missing host directory
                binds.append(BindMount(str(source), mount.target, mount.read_only))
        return tuple(binds)


def anonymous(image_volumes, mounts) -> tuple[Mount, ...]:
    """A fresh anonymous volume for each of the image's VOLUME paths that no mount covers."""
    taken = {posixpath.normpath("/" + m.target) for m in mounts}
    return tuple(
        Mount("volume", secrets.token_hex(32), path)
        for path in image_volumes or {}
        if posixpath.normpath("/" + path) not in taken
    )


def named(mounts) -> tuple[Mount, ...]:
    """The run's mounts with a fresh 64-hex name for each anonymous volume (`-v /path`), as
    Docker names the ones it makes."""
    return tuple(replace(m, source=secrets.token_hex(32)) if m.is_anonymous else m for m in mounts)
