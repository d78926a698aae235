"""On-disk state under one root directory, safe against the harness dying at any moment.

Kernel facilities: rename(2) (atomic replacement of a JSON record), flock(2) (one writer at a
time for allocations). Every record is written to a temporary file and renamed over the old one,
so a reader sees either the old or the new record, never half of one.

Layout under the root (default /var/lib/seatrial/reference, env SEATRIAL_REFERENCE_ROOT):
  layers/<hex>/fs         extracted layers, overlayfs-native whiteouts
  images/<hex>.json       image records; tags.json maps references to image ids
  cache/<hex>.json        build cache entries
  containers/<id>/        config.json (what was asked), started.json (address, ports, shim
                          and pid 1; network.json held the first two before), exit.json,
                          stdout, stderr, pids, upper/, work/, rootfs/, hosts...
  names/<name>            -> <id>: the container name index (nameindex.py)
  ready/<id>.<pid>/       the next container's folder, made ahead by process <pid> and renamed
                          into containers/ by its next run (readyfolder.py)
  networks/<name>.json    bridge, subnet, labels
  networks/<name>.endpoints/<id>  one container's address, name and aliases on it
  volumes/<name>/         meta.json and _data/

A container's record is split by the moment each part becomes known, and each file is written
once, never replaced: replacing a file by rename(2) costs ext4 a flush of the new data
(auto_da_alloc), about 0.1 ms each on this kind of disk, on the path of every `run`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
from pathlib import Path

from .nameindex import NameIndex

DEFAULT_ROOT = "/var/lib/seatrial/reference"
_GENERATED = re.compile(r"ref_[0-9a-f]{12}")  # the name of a container run without one
# merged over config.json, in order; network.json only in containers of older versions
CONTAINER_RECORD_PARTS = ("network.json", "started.json")


def default_root() -> Path:
    return Path(os.environ.get("SEATRIAL_REFERENCE_ROOT", DEFAULT_ROOT))


def write_json(path: Path, record: dict, *, make_parents: bool = True) -> None:
    """Replace `path` atomically with `record` as JSON. With make_parents=False a folder that is
    gone stays gone (FileNotFoundError): for writers racing a removal."""
    if make_parents:
        path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(record, indent=1, sort_keys=True))
    os.replace(tmp, path)


def read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None


def matches_label(labels: dict, label: str) -> bool:
    """True when `labels` carry `label`, given as "key" or "key=value"."""
    key, sep, value = label.partition("=")
    return key in labels and (not sep or labels[key] == value)


class StateRoot:
    """The directories of one reference runtime's state, and a lock for allocations."""

    def __init__(self, root: Path):
        self.root = Path(root)
        for sub in ("layers", "images", "cache", "containers", "networks", "volumes", "tmp", "trash"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    def __getattr__(self, name: str) -> Path:
        if name in ("layers", "images", "cache", "containers", "networks", "volumes", "tmp", "trash"):
            return self.root / name
        raise AttributeError(name)

    @contextlib.contextmanager
    def lock(self):
        """Serialise read-modify-write of shared records (addresses, tags, names)."""
        with open(self.root / ".lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def container_record(self, cid: str) -> dict | None:
        """A container's record: config.json with started.json (and an older network.json) merged in."""
        cdir = self.containers / cid
        return self._with_parts(cdir, read_json(cdir / "config.json"))

    @staticmethod
    def _with_parts(cdir: Path, config: dict | None) -> dict | None:
        if config is not None:
            for part in CONTAINER_RECORD_PARTS:
                config.update(read_json(cdir / part) or {})
        return config

    def find_container(self, handle: str) -> dict | None:
        """`container_record` of the container `container_dir` finds, reading its config.json
        once (an exec looks a container up by name on its way to the command)."""
        direct = None
        if handle and "/" not in handle and handle not in (".", ".."):  # an id names a folder here
            try:
                direct = read_json(self.containers / handle / "config.json")
            except (NotADirectoryError, IsADirectoryError, ValueError):
                pass
        if direct is not None:
            return self._with_parts(self.containers / handle, direct)
        if handle and (found := self.names.lookup_config(handle)):
            return self._with_parts(*found)
        cdir = self.container_dir(handle)
        return self.container_record(cdir.name) if cdir else None

    def containers_records(self) -> list[dict]:
        records = []
        for entry in sorted(self.containers.iterdir()):
            record = self.container_record(entry.name)
            if record:
                records.append(record)
        return records

    @property
    def names(self) -> NameIndex:
        """The container name index (nameindex.py)."""
        return NameIndex(self)

    def container_dir(self, handle: str) -> Path | None:
        """The directory of the container with id, name or id prefix `handle`, in Docker's order.

        No container's records are read but the one found: the name comes from the index, a
        prefix (and a generated `ref_<12 hex>` name) from the directory's entries alone."""
        direct = self.containers / handle
        if (direct / "config.json").exists():
            return direct
        if handle and (found := self.names.lookup(handle)):
            return found
        generated = _GENERATED.fullmatch(handle)  # `ref_` and the id's first 12 digits
        prefix = handle[4:] if generated else handle
        if len(prefix) < 6:
            return None
        for cid in sorted(os.listdir(self.containers)):
            if cid.startswith(prefix):
                record = read_json(self.containers / cid / "config.json")
                if record and (not generated or record["name"] == handle):
                    return self.containers / cid
        return None
