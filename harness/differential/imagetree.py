"""An image's file tree, read from a docker-archive tarball with the layers' whiteouts applied.

Every engine writes the same format (`docker save`, `podman save`, the reference runtime's
`save`), so one reader sees every engine's image alike. An entry keeps what Docker promises
about a file: its type, mode, owner, size, content digest and link target; never mtimes (they
are the build's time) nor link counts. A hard link is read as the file it links to: whether
an engine stores a copy or a link is how it packs layers, not what the image holds.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import tarfile
import tempfile
from pathlib import Path

from seatrial.engines.base import EngineError

WHITEOUT_PREFIX = ".wh."
OPAQUE = ".wh..wh..opq"
TYPES = {
    tarfile.REGTYPE: "file",
    tarfile.AREGTYPE: "file",
    tarfile.CONTTYPE: "file",
    tarfile.DIRTYPE: "dir",
    tarfile.SYMTYPE: "symlink",
    tarfile.CHRTYPE: "char",
    tarfile.BLKTYPE: "block",
    tarfile.FIFOTYPE: "fifo",
}

Tree = dict[str, dict]


def image_tree(engine, image: str) -> Tree:
    """The file tree of `image` in `engine`, through the engine's `save`."""
    save = getattr(engine, "save", None)
    if save is None:
        raise EngineError(
            f"save of image {image!r}",
            f"engine {engine.name!r} has no save(); its adapter must write a docker-archive to compare file trees",
        )
    with tempfile.TemporaryDirectory(prefix="seatrial-save-") as tmp:
        archive = Path(tmp) / "image.tar"
        save(image, archive)
        return read_archive(archive)


def read_archive(archive: Path) -> Tree:
    """The merged tree of the first image in a docker-archive: {path: entry}, paths without '/'."""
    with tarfile.open(archive) as outer:
        manifest = json.loads(_member(outer, "manifest.json"))
        tree: Tree = {}
        for layer in manifest[0]["Layers"]:
            raw = outer.extractfile(_name(outer, layer))
            with tarfile.open(fileobj=raw, mode="r:*") as tar:
                apply_layer(tree, tar)
    return tree


def apply_layer(tree: Tree, tar: tarfile.TarFile) -> None:
    """Apply one layer to `tree`: whiteouts remove, an opaque marker empties a folder of what
    lower layers had, every other member replaces what was at its path."""
    opaque, added = [], []
    for member in tar:
        path = posixpath.normpath(member.name.lstrip("/")).removeprefix("./")
        if path in (".", ""):
            continue
        parent, base = posixpath.split(path)
        if base == OPAQUE:
            opaque.append(parent)
        elif base.startswith(WHITEOUT_PREFIX):
            _remove(tree, posixpath.join(parent, base[len(WHITEOUT_PREFIX) :]))
        else:
            added.append((path, member, tar))
    fresh = {path for path, _member_, _tar in added}
    for folder in opaque:
        prefix = folder + "/" if folder else ""
        for path in [p for p in tree if p.startswith(prefix) and p not in fresh]:
            del tree[path]
    for path, member, source in added:
        if tree.get(path, {}).get("type") == "dir" and member.isdir() is False:
            _remove(tree, path)
        tree[path] = _entry(member, source, tree)


def _entry(member: tarfile.TarInfo, tar: tarfile.TarFile, tree: Tree) -> dict:
    if member.islnk():  # a hard link: the file it names, as read so far
        target = posixpath.normpath(member.linkname.lstrip("/")).removeprefix("./")
        found = dict(tree.get(target) or {"type": "file", "size": 0, "sha256": ""})
        found.update(mode=f"{member.mode & 0o7777:04o}", uid=member.uid, gid=member.gid)
        return found
    kind = TYPES.get(member.type, f"type {member.type!r}")
    entry = {"type": kind, "mode": f"{member.mode & 0o7777:04o}", "uid": member.uid, "gid": member.gid}
    if kind == "file":
        handle = tar.extractfile(member)
        assert handle is not None  # a regular file's member has contents
        data = handle.read()
        entry.update(size=len(data), sha256=hashlib.sha256(data).hexdigest())
    elif kind == "symlink":
        entry["target"] = member.linkname
    elif kind in ("char", "block"):
        entry["device"] = f"{member.devmajor}:{member.devminor}"
    return entry


def _remove(tree: Tree, path: str) -> None:
    tree.pop(path, None)
    for child in [p for p in tree if p.startswith(path + "/")]:
        del tree[child]


def delta(base: Tree, image: Tree) -> dict[str, dict | None]:
    """What `image` has that `base` has not (or has otherwise); removed paths map to None.
    Comparing deltas keeps recordings small and free of the base image's machine-specific bytes."""
    changed: dict[str, dict | None] = {p: e for p, e in image.items() if base.get(p) != e}
    changed.update({p: None for p in base if p not in image})
    return dict(sorted(changed.items()))


def _name(tar: tarfile.TarFile, name: str) -> str:
    names = tar.getnames()
    return name if name in names else f"./{name}"


def _member(tar: tarfile.TarFile, name: str) -> bytes:
    handle = tar.extractfile(_name(tar, name))
    if handle is None:
        raise ValueError(f"{tar.name!s}: {name} is not a file")
    return handle.read()
