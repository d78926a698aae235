"""ADD of a local tar archive: Docker's classic builder unpacks it into the destination folder.

Kernel facilities: none beyond files; the unpacking is layers.extract_tar, which places every
member in scope (scope.py: `..` and symlinks cannot leave the layer) and refuses hard links
that point outside it. Formats, as Docker 20.10 recognises them: a tar, plain or compressed with
gzip, bzip2 or xz (the compression recognised by its magic bytes, not the file name). A file
that is none of these is copied as it is. Members keep the owners and modes the archive gives
them (`--chown` does not apply to them, as in Docker).
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import stat
import tarfile
from pathlib import Path

from . import scope
from .buildcontext import BuildError, settle_folders
from .layers import LayerError, extract_tar

_MAGIC = {b"\x1f\x8b": gzip.decompress, b"BZh": bz2.decompress, b"\xfd7zXZ\x00": lzma.decompress}
MAX_ARCHIVE = 1 << 31  # a bound on what is read into memory: 2 GiB


def _decompressed(data: bytes) -> bytes:
    for magic, decompress in _MAGIC.items():
        if data.startswith(magic):
            return decompress(data)
    return data


def _tar_bytes(path: Path) -> bytes | None:
    """The archive's tar bytes, or None when `path` is not a (compressed) tar."""
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_ARCHIVE or st.st_size == 0:
        return None
    try:
        raw = _decompressed(path.read_bytes())
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
            tar.next()
    except (OSError, EOFError, lzma.LZMAError, tarfile.TarError, ValueError):
        return None
    return raw


def is_archive(path: Path) -> bool:
    """Whether ADD unpacks `path` (a regular file that is a tar, maybe compressed)."""
    return _tar_bytes(path) is not None


def add_archive(layer_dir: Path, path: Path, dest: str, image_stat) -> None:
    """Unpack the archive at `path` into the folder `dest` of the new layer."""
    raw = _tar_bytes(path)
    if raw is None:
        raise BuildError(f"ADD {path.name}: not a tar archive")
    host = scope.makedirs(layer_dir, dest)
    os.lchown(host, 0, 0)
    settle_folders(layer_dir, scope.clean(dest), image_stat)
    try:
        extract_tar(raw, Path(host))
    except LayerError as exc:  # a member naming a place outside the image: refused, as Docker's untar does
        raise BuildError(f"ADD {path.name}: {exc}") from None
