"""Images: a config (Docker's image config JSON) over an ordered list of layers, with tags.

No kernel facility of its own: files and rename(2) through state.py and layers.py. Formats read:
docker-archive (what `docker save` writes: manifest.json, a config JSON, layer tars) and OCI
image layouts (oci-layout, index.json, blobs/sha256/...; a directory or a tar of one).
An image's id is the sha256 of its config JSON, as in Docker.
"""

from __future__ import annotations

import hashlib
import json
import re
import tarfile
from pathlib import Path

from .layers import LayerStore
from .state import StateRoot, matches_label, read_json, write_json


class ImageNotFound(LookupError):
    pass


_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def _blob_path(digest: str) -> str:
    """blobs/sha256/<hex> for a well-formed digest; anything else (`sha256:../../etc`) refused."""
    if not isinstance(digest, str) or not _DIGEST.match(digest):
        raise ValueError(f"OCI descriptor digest {digest!r} is not sha256:<64 hex digits>")
    return "blobs/" + digest.replace(":", "/")


def _verified(digest: str, data: bytes) -> bytes:
    actual = "sha256:" + hashlib.sha256(data).hexdigest()
    if actual != digest:
        raise ValueError(f"OCI blob {digest}: content hashes to {actual}")
    return data


def normalize_reference(reference: str) -> str:
    """`busybox` and `docker.io/library/busybox:latest` both become `busybox:latest`."""
    if reference.startswith("sha256:"):
        return reference
    name, _, tag = reference.rpartition(":") if ":" in reference.rsplit("/", 1)[-1] else (reference, "", "")
    tag = tag or "latest"
    for prefix in ("docker.io/", "index.docker.io/", "registry-1.docker.io/"):
        if name.startswith(prefix):
            name = name[len(prefix) :]
    if name.startswith("library/") and name.count("/") == 1:
        name = name[len("library/") :]
    return f"{name}:{tag}"


class ImageStore:
    """Image records and tags over a LayerStore."""

    def __init__(self, state: StateRoot):
        self.state = state
        self.layers = LayerStore(state.layers, state.tmp)

    # --- records ------------------------------------------------------------------------------
    def _tags(self) -> dict:
        return read_json(self.state.images / "tags.json") or {}

    def add(self, config: dict, layers: list[str], tags: tuple[str, ...] = (), raw: bytes = b"") -> str:
        """Record an image made of `layers` (diff ids, bottom first); returns its id, the sha256
        of the config bytes (`raw`, as imported, so that ids agree with Docker's)."""
        config = dict(config)
        if not raw or config.get("rootfs", {}).get("diff_ids") != list(layers):
            config["rootfs"] = {"type": "layers", "diff_ids": list(layers)}
            raw = json.dumps(config, sort_keys=True).encode()
        image_id = "sha256:" + hashlib.sha256(raw).hexdigest()
        size = sum(self.layers.size(layer) for layer in layers)
        write_json(
            self.state.images / f"{image_id[7:]}.json",
            {"id": image_id, "config": config, "layers": layers, "size": size},
        )
        for tag in tags:
            self.tag(image_id, tag)
        return image_id

    def tag(self, image: str, new_tag: str) -> None:
        image_id = self.resolve(image)["id"]
        with self.state.lock():
            tags = self._tags()
            tags[normalize_reference(new_tag)] = image_id
            write_json(self.state.images / "tags.json", tags)

    def resolve(self, reference: str) -> dict:
        """The image record for a tag, an id or an id prefix; ImageNotFound otherwise."""
        tags = self._tags()
        image_id = tags.get(normalize_reference(reference))
        if image_id is None:
            hexpart = reference.split(":")[-1] if reference.startswith("sha256:") else reference
            if len(hexpart) >= 6 and all(c in "0123456789abcdef" for c in hexpart):
                found = [p for p in self.state.images.glob(f"{hexpart}*.json")]
                if len(found) == 1:
                    image_id = "sha256:" + found[0].stem
        record = read_json(self.state.images / f"{image_id[7:]}.json") if image_id else None
        if record is None:
            raise ImageNotFound(
                f"image {reference!r} not found locally and no registry is reachable; load or build it first"
            )
        record["tags"] = sorted(t for t, i in tags.items() if i == record["id"])
        return record

    def exists(self, reference: str) -> bool:
        try:
            self.resolve(reference)
            return True
        except ImageNotFound:
            return False

    def all(self) -> list[dict]:
        tags = self._tags()
        records = []
        for path in sorted(self.state.images.glob("*.json")):
            if path.name == "tags.json":
                continue
            record = read_json(path)
            if record:
                record["tags"] = sorted(t for t, i in tags.items() if i == record["id"])
                records.append(record)
        return records

    def with_label(self, label: str) -> list[dict]:
        return [r for r in self.all() if matches_label(r["config"].get("config", {}).get("Labels") or {}, label)]

    def remove(self, reference: str) -> None:
        """Untag `reference` (or all tags of an id); delete the image when no tag is left, and
        the layers no other image uses. Idempotent."""
        try:
            record = self.resolve(reference)
        except ImageNotFound:
            return
        with self.state.lock():
            tags = self._tags()
            name = normalize_reference(reference)
            if name in tags and tags[name] == record["id"]:
                del tags[name]
            else:
                tags = {t: i for t, i in tags.items() if i != record["id"]}
            write_json(self.state.images / "tags.json", tags)
            if record["id"] in tags.values():
                return
            (self.state.images / f"{record['id'][7:]}.json").unlink(missing_ok=True)
            used = {layer for other in self.all() for layer in other["layers"]}
            for layer in record["layers"]:
                if layer not in used:
                    self.layers.remove(layer)

    # --- import -------------------------------------------------------------------------------
    # Names inside an archive are read from the archive; the one thing taken from content to make
    # a host path is an OCI digest (blobs/<algorithm>/<hex> of a layout directory), so it must be
    # a digest, and the blob must hash to it.
    def load(self, archive: Path) -> str:
        """Import a docker-archive tar, an OCI layout tar or an OCI layout directory."""
        archive = Path(archive)
        if archive.is_dir():
            return self._load_oci(lambda name: (archive / name).read_bytes())
        with tarfile.open(archive) as tar:
            names = set(tar.getnames())

            def read(name: str) -> bytes:
                member = tar.extractfile(name if name in names else f"./{name}")
                if member is None:
                    raise ValueError(f"{archive}: {name} is not a file")
                return member.read()

            if "manifest.json" in names or "./manifest.json" in names:
                return self._load_docker_archive(read)
            if "index.json" in names or "./index.json" in names:
                return self._load_oci(read)
            raise ValueError(f"{archive}: neither a docker-archive (manifest.json) nor an OCI layout (index.json)")

    def _load_docker_archive(self, read) -> str:
        manifest = json.loads(read("manifest.json"))
        image_id = ""
        for entry in manifest:
            raw = read(entry["Config"])
            config = json.loads(raw)
            diff_ids = config.get("rootfs", {}).get("diff_ids", [])
            layers = [
                self.layers.add_tar(read(path), diff_ids[i] if i < len(diff_ids) else None)
                for i, path in enumerate(entry["Layers"])
            ]
            image_id = self.add(config, layers, tuple(entry.get("RepoTags") or ()), raw)
        return image_id

    def _load_oci(self, read) -> str:
        index = json.loads(read("index.json"))
        image_id = ""
        for descriptor in index["manifests"]:
            blob = lambda d: _verified(d, read(_blob_path(d)))  # noqa: E731
            manifest = json.loads(blob(descriptor["digest"]))
            raw = blob(manifest["config"]["digest"])
            config = json.loads(raw)
            diff_ids = config.get("rootfs", {}).get("diff_ids", [])
            layers = [
                self.layers.add_tar(blob(layer["digest"]), diff_ids[i] if i < len(diff_ids) else None)
                for i, layer in enumerate(manifest["layers"])
            ]
            tag = descriptor.get("annotations", {}).get("org.opencontainers.image.ref.name")
            image_id = self.add(config, layers, (tag,) if tag else (), raw)
        return image_id
