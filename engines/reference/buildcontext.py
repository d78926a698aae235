"""The build context: which files a COPY takes, their digest for the cache, and their copy.

No kernel facility beyond files: glob(7)-style matching, `.dockerignore` patterns (fnmatch),
lchown(2) to root as Docker's COPY does. The digest covers names, modes and contents and leaves
out mtimes, so touching a file keeps the cache while changing it invalidates the COPY.
"""
from __future__ import annotations

import fnmatch
import glob
import hashlib
import os
import posixpath
import stat
from pathlib import Path

from . import scope


class BuildError(ValueError):
    """A build step that cannot run; the message starts with `Dockerfile:line:`."""


def dockerignore(context: Path) -> list[str]:
    try:
        lines = (context / ".dockerignore").read_text().splitlines()
    except FileNotFoundError:
        return []
    return [line.strip().strip("/") for line in lines if line.strip() and not line.startswith("#")]


def is_ignored(rel: str, patterns: list[str]) -> bool:
    parts = rel.split("/")
    return any(fnmatch.fnmatch("/".join(parts[:i]), p) for p in patterns for i in range(1, len(parts) + 1))


def match(root: Path, sources: list[str], ignore: list[str], where: str) -> list[Path]:
    matches = []
    for source in sources:
        pattern = str(root / source.lstrip("/"))
        found = sorted(glob.glob(pattern)) if any(c in source for c in "*?[") else (
            [pattern] if os.path.lexists(pattern) else [])
        found = [f for f in found if os.path.relpath(f, root) == "." or not is_ignored(os.path.relpath(f, root), ignore)]
        if not found:
            raise BuildError(f"{where}: COPY failed: file not found in build context: {source!r}")
        root_real = os.path.realpath(root)
        for f in found:
            if not is_within(os.path.realpath(f), root_real):
                raise BuildError(f"{where}: COPY failed: {source!r} is outside the build context")
        matches += [Path(f) for f in found]
    return matches


def is_within(path: str, root: str) -> bool:
    """Whether `path` is `root` or below it, compared by whole components (`/ctx2` is not in
    `/ctx`, which a prefix test would say it is)."""
    return os.path.commonpath([path, root]) == root


def content_digest(path: Path, context: Path, ignore: list[str]) -> str:
    """sha256 of names, modes and contents under `path` (mtimes excluded, as Docker does)."""
    digest = hashlib.sha256()
    entries = [path] if not path.is_dir() else [path] + sorted(path.rglob("*"))
    for entry in entries:
        rel = os.path.relpath(entry, context)
        if rel != "." and is_ignored(rel, ignore):
            continue
        st = os.lstat(entry)
        digest.update(f"{os.path.relpath(entry, path)}\0{st.st_mode}\0".encode())
        if stat.S_ISLNK(st.st_mode):
            digest.update(os.readlink(entry).encode())
        elif stat.S_ISREG(st.st_mode):
            digest.update(hashlib.sha256(entry.read_bytes()).digest())
    return digest.hexdigest()


def copy_into(layer_dir: Path, matches: list[Path], dest: str, dest_is_dir: bool,
               ignore: list[str], context: Path) -> None:
    """Lay the matched sources out in `layer_dir` as they appear under `dest`, owned by root.
    Every entry is placed in scope (scope.py): `..` and symlinks cannot take it out of the layer."""
    dest = scope.clean(dest)
    layer_dir.mkdir(parents=True, exist_ok=True)
    for match in matches:
        def skip(rel, match=match):
            return bool(ignore) and is_ignored(os.path.relpath(os.path.join(match, rel), context), ignore)
        if match.is_dir() and not match.is_symlink():
            scope.copy_in(layer_dir, match, dest, skip)
        elif dest_is_dir:
            scope.makedirs(layer_dir, dest)
            scope.copy_in(layer_dir, match, posixpath.join(dest, match.name))
        else:
            scope.makedirs(layer_dir, posixpath.dirname(dest))
            scope.copy_in(layer_dir, match, dest)
    for root, dirs, files in os.walk(layer_dir):
        for name in dirs + files:
            os.lchown(os.path.join(root, name), 0, 0)
