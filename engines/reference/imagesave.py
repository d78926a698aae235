"""An image of the reference store written out as a docker-archive tarball (`save`).

The inverse of images.py's docker-archive import, so that the harness reads every engine's
image the same way (`docker save`, `podman save`, this). Layers are kept overlay-native on disk
(layers.py); here they go back to AUFS-style whiteouts: a character device 0/0 becomes
`.wh.NAME`, a directory with the xattr trusted.overlay.opaque=y gets a `.wh..wh..opq` member.
Kernel facilities: lstat(2), getxattr(2), readlink(2).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import tarfile
from pathlib import Path

from .layers import OPAQUE, WHITEOUT_PREFIX


def layer_tar(directory: Path) -> bytes:
    """A deterministic tar of one overlay-native layer folder with AUFS-style whiteouts."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for root, dirs, files in os.walk(directory):
            dirs.sort()
            for name in sorted(dirs + files):
                full = os.path.join(root, name)
                arcname = os.path.relpath(full, directory)
                st = os.lstat(full)
                if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                    parent, base = os.path.split(arcname)
                    tar.addfile(_empty(os.path.join(parent, WHITEOUT_PREFIX + base)))
                    continue
                info = tar.gettarinfo(full, arcname=arcname)
                info.uname = info.gname = ""
                if info.isreg():
                    with open(full, "rb") as handle:
                        tar.addfile(info, handle)
                else:
                    tar.addfile(info)
                if stat.S_ISDIR(st.st_mode) and _is_opaque(full):
                    tar.addfile(_empty(os.path.join(arcname, OPAQUE)))
    return buf.getvalue()


def save_archive(record: dict, layer_path, archive: Path) -> None:
    """Write `record` (an image of images.py) to `archive`; `layer_path(digest)` is its folder."""
    layers = [layer_tar(Path(layer_path(digest))) for digest in record["layers"]]
    config = dict(record["config"])
    config["rootfs"] = {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(data).hexdigest() for data in layers]}
    raw = json.dumps(config, sort_keys=True).encode()
    config_name = hashlib.sha256(raw).hexdigest() + ".json"
    names = [f"{i}/layer.tar" for i in range(len(layers))]
    manifest = json.dumps(
        [{"Config": config_name, "RepoTags": list(record.get("tags") or []), "Layers": names}]
    ).encode()
    with tarfile.open(archive, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in [(config_name, raw), *zip(names, layers), ("manifest.json", manifest)]:
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))


def _empty(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mode = 0o644
    return info


def _is_opaque(path: str) -> bool:
    try:
        return os.getxattr(path, "trusted.overlay.opaque", follow_symlinks=False) == b"y"
    except OSError:
        return False
