"""The build context: which files a COPY takes, their digest for the cache, and their copy.

No kernel facility beyond files: glob(7)-style matching, `.dockerignore` (dockerignore.py),
lchown(2) to root (or `--chown`'s ids) as Docker's COPY does. The digest covers names, modes and
contents and leaves out mtimes, so touching a file keeps the cache while changing it invalidates
the COPY.

Docker's classic builder, as measured (tests/engines/test_build_semantics.py): a source named
in COPY (or matched by a wildcard) that is a symlink is followed, inside the context; symlinks
inside a copied folder stay links; a copied folder's *content* lands in the destination, whose
folder keeps its mode and owner when the image has it and is made 0755 when it does not.
"""

from __future__ import annotations

import glob
import hashlib
import os
import posixpath
import stat
from dataclasses import dataclass
from pathlib import Path

from . import scope
from .dockerignore import Ignore


class BuildError(ValueError):
    """A build step that cannot run; the message starts with `Dockerfile:line:`."""


def is_ignored(path: str | Path, context: Path, ignore: Ignore) -> bool:
    """Whether `path` (a host path in `context`) is left out by the context's .dockerignore."""
    if not ignore:
        return False
    rel = os.path.relpath(path, context)
    return rel != "." and ignore.excludes(rel, os.path.isdir(path) and not os.path.islink(path))


@dataclass(frozen=True)
class Source:
    """One COPY source: `path` is what is copied (a symlink named as the source followed inside
    the root), `name` the name it was matched under (a file keeps it in a destination folder)."""

    path: Path
    name: str


def match(root: Path, sources: list[str], ignore: Ignore, where: str) -> list[Source]:
    """The sources of a COPY in `root`: wildcards expanded, .dockerignore applied, symlinks
    followed in scope (scope.py), so nothing outside `root` is ever named."""
    matches = []
    root_real = os.path.realpath(root)
    for source in sources:
        pattern = str(root / source.lstrip("/"))
        found = (
            sorted(glob.glob(pattern, include_hidden=True))
            if any(c in source for c in "*?[")
            else ([pattern] if os.path.lexists(pattern) else [])
        )
        found = [f for f in found if not is_ignored(f, root, ignore)]
        if not found:
            raise BuildError(
                f"{where}: COPY failed: file not found in build context or excluded by .dockerignore: {source!r}"
            )
        for f in found:
            followed = scope.resolve(root, os.path.relpath(f, root))
            if not os.path.lexists(followed) or is_ignored(followed, root, ignore):
                if not is_within(os.path.realpath(f), root_real):  # say why: the link leaves the context
                    raise BuildError(
                        f"{where}: COPY failed: file not found in build context or excluded by "
                        f".dockerignore: {source!r} (a symlink to a path outside the build context)"
                    )
                raise BuildError(
                    f"{where}: COPY failed: file not found in build context or excluded "
                    f"by .dockerignore: {source!r} (a symlink, followed inside the context)"
                )
            matches.append(Source(Path(followed), os.path.basename(f.rstrip("/")) or "."))
    return matches


def check_destination(matches: list[Source], dest: str, keyword: str, where: str) -> None:
    """Docker's classic builder refuses several sources (after wildcards) onto a destination
    that does not end in `/`, even a folder that exists (`COPY a b .` too)."""
    if len(matches) > 1 and not dest.endswith("/"):
        raise BuildError(
            f"{where}: When using {keyword} with more than one source file, "
            f"the destination must be a directory and end with a /"
        )


def is_within(path: str, root: str) -> bool:
    """Whether `path` is `root` or below it, compared by whole components (`/ctx2` is not in
    `/ctx`, which a prefix test would say it is)."""
    return os.path.commonpath([path, root]) == root


def content_digest(path: Path, context: Path, ignore: Ignore) -> str:
    """sha256 of names, modes and contents under `path` (mtimes excluded, as Docker does)."""
    digest = hashlib.sha256()
    entries = [path] if not path.is_dir() else [path] + sorted(path.rglob("*"))
    for entry in entries:
        if is_ignored(entry, context, ignore):
            continue
        st = os.lstat(entry)
        digest.update(f"{os.path.relpath(entry, path)}\0{st.st_mode}\0".encode())
        if stat.S_ISLNK(st.st_mode):
            digest.update(os.readlink(entry).encode())
        elif stat.S_ISREG(st.st_mode):
            digest.update(hashlib.sha256(entry.read_bytes()).digest())
    return digest.hexdigest()


def copy_into(
    layer_dir: Path,
    matches: list[Source],
    dest: str,
    dest_is_dir: bool,
    ignore: Ignore,
    context: Path,
    owner: tuple[int, int] | None = (0, 0),
    image_stat=lambda path: None,
) -> None:
    """Lay the matched sources out in `layer_dir` as they appear under `dest`, owned by `owner`
    (None: as the sources are owned, which COPY --from does; the folders made on the way to
    `dest` are root's either way, as in Docker).
    Every entry is placed in scope (scope.py): `..` and symlinks cannot take it out of the layer.
    `image_stat(path)` is the image's lstat of a path (None when absent): a folder on the way to
    `dest` that the image has keeps its mode and owner, as in Docker (the layer's copy of the
    folder would otherwise hide them in the overlay)."""
    dest = scope.clean(dest)
    layer_dir.mkdir(parents=True, exist_ok=True)
    frame = dest_is_dir or any(m.path.is_dir() for m in matches)
    for match in matches:

        def skip(rel, match=match):
            return is_ignored(os.path.join(match.path, rel), context, ignore)

        if match.path.is_dir():
            scope.copy_in(layer_dir, match.path, dest, skip)
            if ignore:
                _drop_hidden_folders(layer_dir, match.path, dest, context, ignore)
        elif dest_is_dir:
            scope.makedirs(layer_dir, dest)
            scope.copy_in(layer_dir, match.path, posixpath.join(dest, match.name))
        else:
            scope.makedirs(layer_dir, posixpath.dirname(dest))
            scope.copy_in(layer_dir, match.path, dest)
    if owner is not None:
        for root, dirs, files in os.walk(layer_dir):
            for name in dirs + files:
                os.lchown(os.path.join(root, name), *owner)
    if owner is None or any(m.path.is_dir() for m in matches):
        # Docker makes the folders above a copied folder as root; keeping owners, also the
        # folder `dest` that the content lands in
        parent = dest if owner is None and frame else posixpath.dirname(dest)
        while parent != "/":
            os.lchown(scope.resolve(layer_dir, parent), 0, 0)
            parent = posixpath.dirname(parent)
    settle_folders(layer_dir, dest if frame else posixpath.dirname(dest), image_stat)


def settle_folders(layer_dir: Path, path: str, image_stat) -> None:
    """`path` and its parents in a new layer take the mode and owner the image gives them, or
    0755 when the image lacks them (the owner stays the one the copy gave them): a layer's copy
    of a folder hides the image's in the overlay, so it must carry the same metadata."""
    frame = set()
    while path not in ("/", ""):
        frame.add(path)
        path = posixpath.dirname(path)
    for path in frame:
        host = scope.resolve(layer_dir, path)
        if not os.path.isdir(host) or os.path.islink(host):
            continue
        existing = image_stat(path)
        if existing is not None and stat.S_ISDIR(existing.st_mode):
            os.chmod(host, stat.S_IMODE(existing.st_mode))
            os.lchown(host, existing.st_uid, existing.st_gid)
        else:
            os.chmod(host, 0o755)


def _drop_hidden_folders(layer_dir: Path, source: Path, dest: str, context: Path, ignore: Ignore) -> None:
    """A folder that .dockerignore matches but an exception keeps open is not in Docker's context
    itself: it is there only as the parent of what the exception keeps (made 0755), or not at all."""
    top = scope.resolve(layer_dir, dest)
    for where, _dirs, _files in os.walk(top, topdown=False):
        rel = os.path.relpath(where, top)
        if rel == "." or not ignore.matches(os.path.relpath(os.path.join(source, rel), context)):
            continue
        if os.listdir(where):
            os.chmod(where, 0o755)
        else:
            os.rmdir(where)
