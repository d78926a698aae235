"""Content-addressed layer store: each layer is a directory named by the sha256 of its tar.

Kernel facilities: overlayfs (Documentation/filesystems/overlayfs.rst) whiteouts -- a character
device 0/0 hides a lower file, the xattr trusted.overlay.opaque=y hides a lower directory's
content; mknod(2), setxattr(2), rename(2). Layers are kept in that overlay-native form, so they
are mounted as lower directories as they are. Tar layers (docker-archive, OCI) use AUFS-style
whiteouts (`.wh.NAME`, `.wh..wh..opq`), converted at import; their members are placed with
scope.py (lstat(2), readlink(2)), so no member reaches outside the layer.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import stat
import tarfile
from pathlib import Path

from . import scope
from .state import read_json, write_json

WHITEOUT_PREFIX = ".wh."
OPAQUE = ".wh..wh..opq"


class LayerError(ValueError):
    """A layer tar is unsafe or does not match its declared digest."""


class _HashingWriter(io.RawIOBase):
    def __init__(self):
        self.digest = hashlib.sha256()

    def writable(self):
        return True

    def write(self, data):
        self.digest.update(data)
        return len(data)


def directory_digest(path: Path) -> str:
    """sha256 of a deterministic tar of `path` (sorted names, numeric owners, mtimes kept)."""
    sink = _HashingWriter()
    with tarfile.open(fileobj=sink, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for root, dirs, files in os.walk(path):
            dirs.sort()
            for name in sorted(dirs + files):
                full = os.path.join(root, name)
                info = tar.gettarinfo(full, arcname=os.path.relpath(full, path))
                info.uname = info.gname = ""
                if info.isreg():
                    with open(full, "rb") as handle:
                        tar.addfile(info, handle)
                else:
                    tar.addfile(info)
    return "sha256:" + sink.digest.hexdigest()


def directory_size(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            st = os.lstat(os.path.join(root, name))
            if stat.S_ISREG(st.st_mode):
                total += st.st_size
    return total


def _open_layer_bytes(data: bytes) -> bytes:
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def _safe_name(name: str) -> str:
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise LayerError(f"layer member {name!r} escapes the layer")
    return "/".join(parts)


def extract_tar(raw: bytes, dest: Path) -> None:
    """Extract a layer tar into `dest`, turning AUFS whiteouts into overlayfs ones. Every member
    lands in scope (scope.py): a symlink an earlier member made is followed as the container
    would follow it, inside `dest`, and a hard link must point inside `dest` too."""
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
        for member in tar:
            name = _safe_name(member.name)
            if not name:
                continue
            parent, base = os.path.split(name)
            parent_host = scope.makedirs(dest, parent)
            if base == OPAQUE:
                os.setxattr(parent_host, "trusted.overlay.opaque", b"y")
            elif base.startswith(WHITEOUT_PREFIX):
                hidden = os.path.join(parent_host, base[len(WHITEOUT_PREFIX) :])
                os.mknod(hidden, stat.S_IFCHR | 0o000, os.makedev(0, 0))
            elif member.type not in _MEMBER_TYPES:
                raise LayerError(f"layer member {member.name!r}: unsupported type {member.type!r}")
            else:
                target = os.path.join(parent_host, base)
                if member.islnk():
                    # the host path of the link's target, found in scope; tarfile joins it to
                    # the extraction folder, which leaves an absolute path as it is
                    member.linkname = scope.resolve(dest, _safe_name(member.linkname))
                    if not os.path.lexists(member.linkname) or os.path.isdir(member.linkname):
                        raise LayerError(f"layer member {member.name!r}: hard link target not in the layer")
                if os.path.islink(target) or (os.path.exists(target) and not os.path.isdir(target)):
                    os.unlink(target)
                member.name = base
                tar.extract(member, parent_host, set_attrs=True, numeric_owner=True)


# What a layer may hold: files, hard and symbolic links, devices, directories, fifos (tarfile(3)
# types; GNU long names and PAX headers are folded into the member by tarfile itself).
_MEMBER_TYPES = (
    tarfile.REGTYPE,
    tarfile.AREGTYPE,
    tarfile.LNKTYPE,
    tarfile.SYMTYPE,
    tarfile.CHRTYPE,
    tarfile.BLKTYPE,
    tarfile.DIRTYPE,
    tarfile.FIFOTYPE,
    tarfile.CONTTYPE,
)


class LayerStore:
    """Layers by digest under `root`; each is `<hex>/fs` plus `<hex>/meta.json`."""

    def __init__(self, root: Path, tmp: Path):
        self.root = Path(root)
        self.tmp = Path(tmp)

    def path(self, digest: str) -> Path:
        return self.root / digest.split(":")[-1] / "fs"

    def exists(self, digest: str) -> bool:
        return (self.root / digest.split(":")[-1] / "meta.json").exists()

    def size(self, digest: str) -> int:
        meta = read_json(self.root / digest.split(":")[-1] / "meta.json")
        return meta["size"] if meta else 0

    def add_tar(self, data: bytes, expected: str | None = None) -> str:
        """Store a (possibly gzipped) layer tar; returns its diff id, the sha256 of the tar."""
        raw = _open_layer_bytes(data)
        digest = "sha256:" + hashlib.sha256(raw).hexdigest()
        if expected and expected != digest:
            raise LayerError(f"layer digest mismatch: expected {expected}, actual {digest}")
        if self.exists(digest):
            return digest
        work = Path(os.path.join(self.tmp, digest[7:19] + f".{os.getpid()}"))
        shutil.rmtree(work, ignore_errors=True)
        (work / "fs").mkdir(parents=True)
        extract_tar(raw, work / "fs")
        return self._commit(work, digest)

    def add_directory(self, directory: Path) -> str:
        """Move `directory` (overlay-native) into the store; returns its content digest."""
        digest = directory_digest(directory)
        if self.exists(digest):
            shutil.rmtree(directory, ignore_errors=True)
            return digest
        work = Path(os.path.join(self.tmp, digest[7:19] + f".{os.getpid()}"))
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        os.rename(directory, work / "fs")
        return self._commit(work, digest)

    def _commit(self, work: Path, digest: str) -> str:
        write_json(work / "meta.json", {"digest": digest, "size": directory_size(work / "fs")})
        final = self.root / digest[7:]
        try:
            os.rename(work, final)
        except OSError:  # someone else stored it meanwhile
            shutil.rmtree(work, ignore_errors=True)
        return digest

    def remove(self, digest: str) -> None:
        shutil.rmtree(self.root / digest.split(":")[-1], ignore_errors=True)

    def all(self) -> list[str]:
        return ["sha256:" + p.name for p in self.root.iterdir() if (p / "meta.json").exists()]
