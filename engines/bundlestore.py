"""The on-disk state of the runtime floor (engines/bundle.py): its images, docker-archive tarballs
unpacked into one read-only root filesystem per image (the `rootfs` of every OCI bundle made from
it), and the records of its bundles.

A floor is the bare OCI runtime on a bundle, so its images are plain directories: the layers of
the archive applied in order (whiteouts honoured: `.wh.NAME` removes NAME, `.wh..wh..opq` empties
its folder), with no snapshotter or overlay between the runtime and the files. Every bundle
shares its image's tree, which the runtime mounts read-only (`root.readonly`, as `runc spec`
writes it). Members are extracted with tarfile's "tar" filter, which refuses absolute names and
names that climb out with `..`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tarfile
from pathlib import Path, PurePosixPath

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"


class ImageStore:
    """Images by id under `root`/images/<hex>/ (rootfs/ and config.json); tags in tags.json."""

    def __init__(self, root: Path):
        self.root = root
        self.images = root / "images"

    # --- tags --------------------------------------------------------------------------------
    def _tags(self) -> dict[str, str]:
        try:
            return json.loads((self.root / "tags.json").read_text())
        except FileNotFoundError:
            return {}

    def _write_tags(self, tags: dict[str, str]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f".tags.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(tags, indent=1, sort_keys=True))
        os.replace(tmp, self.root / "tags.json")

    def tag(self, image: str, new_tag: str) -> None:
        """Give the image `image` (tag or id) the tag `new_tag`."""
        tags = self._tags()
        tags[_full_tag(new_tag)] = self.resolve(image)
        self._write_tags(tags)

    def resolve(self, image: str) -> str:
        """The hex id of `image` (a tag, "sha256:HEX" or a unique id prefix); KeyError if absent."""
        found = self._tags().get(_full_tag(image))
        if found:
            return found
        hex_id = image.removeprefix("sha256:")
        if len(hex_id) >= 12 and self.images.is_dir():
            matches = [p.name for p in self.images.iterdir() if p.name.startswith(hex_id)]
            if len(matches) == 1:
                return matches[0]
        raise KeyError(image)

    def tags_of(self, hex_id: str) -> list[str]:
        """The tags that name image `hex_id`."""
        return sorted(t for t, i in self._tags().items() if i == hex_id)

    # --- images ------------------------------------------------------------------------------
    def rootfs(self, hex_id: str) -> Path:
        """The unpacked tree of image `hex_id`."""
        return self.images / hex_id / "rootfs"

    def config(self, hex_id: str) -> dict:
        """The image's config document (Docker's image JSON: "config" holds Env, Cmd, Labels...)."""
        return json.loads((self.images / hex_id / "config.json").read_text())

    def all_ids(self) -> list[str]:
        """Every image's hex id."""
        return sorted(p.name for p in self.images.iterdir()) if self.images.is_dir() else []

    def load(self, archive: Path) -> tuple[str, list[str]]:
        """Unpack the docker-archive `archive`; its image's hex id and tags. An image already here
        is kept as it is (the id is the digest of its config, which names its layers)."""
        with tarfile.open(archive) as outer:
            manifest = json.load(_member(outer, "manifest.json"))[0]
            config_bytes = _member(outer, manifest["Config"]).read()
            hex_id = hashlib.sha256(config_bytes).hexdigest()
            target = self.images / hex_id
            if not target.is_dir():
                staging = self.images / f".{hex_id}.{os.getpid()}.tmp"
                shutil.rmtree(staging, ignore_errors=True)
                (staging / "rootfs").mkdir(parents=True)
                for layer in manifest["Layers"]:
                    with tarfile.open(fileobj=_member(outer, layer)) as inner:
                        apply_layer(inner, staging / "rootfs")
                (staging / "config.json").write_bytes(config_bytes)
                os.replace(staging, target)
        tags = [_full_tag(t) for t in manifest.get("RepoTags") or []]
        for tag in tags:
            self.tag(hex_id, tag)
        return hex_id, tags

    def remove(self, image: str) -> None:
        """Remove `image` and its tags; nothing when it is absent."""
        try:
            hex_id = self.resolve(image)
        except KeyError:
            return
        self._write_tags({t: i for t, i in self._tags().items() if i != hex_id})
        shutil.rmtree(self.images / hex_id, ignore_errors=True)


def bundle_records(sessions: Path) -> list[tuple[Path, dict]]:
    """Every bundle of every session under `sessions` (<session>/<id>/record.json), with its record."""
    found = []
    for path in sessions.glob("*/*/record.json"):
        try:
            found.append((path.parent, json.loads(path.read_text())))
        except (FileNotFoundError, json.JSONDecodeError):
            continue  # removed meanwhile, or being written
    return found


def find_bundle(sessions: Path, container: str) -> tuple[Path, dict] | None:
    """The bundle of `container` (a name, an id, or an id prefix of 12 or more), or None."""
    for bundle, record in bundle_records(sessions):
        if container in (record["id"], record["name"]) or (len(container) >= 12 and record["id"].startswith(container)):
            return bundle, record
    return None


def apply_layer(layer: tarfile.TarFile, rootfs: Path) -> None:
    """Apply one layer tarball onto `rootfs`: whiteouts remove, other members are extracted."""
    for member in layer.getmembers():
        path = PurePosixPath(member.name)
        if path.is_absolute() or ".." in path.parts:
            raise ValueError(f"layer member {member.name!r} would land outside the image's root")
        if path.name == OPAQUE:
            folder = rootfs / path.parent
            for child in folder.iterdir() if folder.is_dir() else ():
                shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
        elif path.name.startswith(WHITEOUT):
            gone = rootfs / path.parent / path.name.removeprefix(WHITEOUT)
            if gone.is_dir() and not gone.is_symlink():
                shutil.rmtree(gone)
            elif gone.is_symlink() or gone.exists():
                gone.unlink()
        else:
            _check_lands_inside(rootfs, member)
            target = rootfs / path
            if target.is_symlink() or (target.exists() and not target.is_dir()):
                target.unlink()  # a later layer replaces the file, as overlayfs would show it
            layer.extract(member, rootfs, set_attrs=True, numeric_owner=True)


def _check_lands_inside(rootfs: Path, member: tarfile.TarInfo) -> None:
    """Refuse a member that an earlier symlink would carry out of `rootfs`, or a hard link to a
    file outside it. (tarfile's own `filter=` is not in Debian 12's Python 3.11.2.)"""
    root = os.path.realpath(rootfs)
    parent = os.path.realpath(rootfs / PurePosixPath(member.name).parent)
    if os.path.commonpath([root, parent]) != root:
        raise ValueError(f"layer member {member.name!r} would land outside the image's root through a symlink")
    if member.islnk():
        link = PurePosixPath(member.linkname)
        if link.is_absolute() or ".." in link.parts:
            raise ValueError(f"layer member {member.name!r} links to {member.linkname!r}, outside the image's root")
        _check_lands_inside(rootfs, tarfile.TarInfo(member.linkname))


def _member(tar: tarfile.TarFile, name: str):
    found = tar.extractfile(name)
    if found is None:
        raise ValueError(f"{name} is not a regular file in this docker-archive")
    return found


def _full_tag(name: str) -> str:
    """ "busybox" -> "busybox:latest", as engines read an untagged name; ids pass unchanged."""
    if name.startswith("sha256:") or ":" in name.rsplit("/", 1)[-1]:
        return name
    return f"{name}:latest"
