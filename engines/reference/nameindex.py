"""The name index: container name -> container id, one symbolic link per name.

Kernel facilities: symlink(2) (creating a link is atomic and fails with EEXIST if the name is
taken), readlink(2) (one syscall to resolve a name), flock(2) through the state root's lock.

Without it, a `run` checked that its name was free by reading every container's config.json, and
a density run of N containers cost N^2/2 reads (1,000 containers: half a million). Now a name is
claimed and released under the state root's lock (`StateRoot.lock`), so two processes or xdist
workers sharing a root cannot both take it; a lookup reads the link without the lock.

An entry is `names/<key>` -> `<container id>`. It is *live* while `containers/<id>/` exists: the
directory is made before the name is claimed and goes (removal, `run --rm`'s move to trash, the
reaper's rmtree) before the entry is dropped, and ids are 256 random bits, never reused. So an
entry left behind by a process that died (or by the reaper, which deletes directories alone) is
*stale*: it resolves to nothing, the next claim of that name replaces it, and `prune` drops it.
A lookup also checks the container's config.json carries the name, so an entry can never point
a name at another container. A state root made before the index has no `names/.complete`: the
first claim or lookup builds the index from the records, under the lock.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .state import StateRoot

_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")  # Docker's name rule, bounded
COMPLETE = ".complete"


def key(name: str) -> str:
    """The file name of `name`'s entry: the name itself when it is a plain one (Docker's rule),
    else a digest, so that no name can climb out of names/ or clash with the marker."""
    return name if _PLAIN.fullmatch(name) else "~" + hashlib.sha256(name.encode()).hexdigest()


class NameIndex:
    """Container names of one state root (see the module docstring for the rules)."""

    def __init__(self, state: StateRoot):
        self.state = state
        self.dir = state.root / "names"

    def target(self, name: str) -> str | None:
        """The id the entry of `name` points at, stale or not; None without one."""
        try:
            return os.readlink(self.dir / key(name))
        except (FileNotFoundError, NotADirectoryError):
            return None

    def _is_live(self, cid: str) -> bool:
        return (self.state.containers / cid).is_dir()

    def lookup(self, name: str) -> Path | None:
        """The directory of the container named `name`, or None."""
        found = self.lookup_config(name)
        return found[0] if found else None

    def lookup_config(self, name: str) -> tuple[Path, dict] | None:
        """The directory of the container named `name` and its config.json (read to check the
        name), or None."""
        if not (self.dir / COMPLETE).exists():
            with self.state.lock():
                self._build()
        cid = self.target(name)
        if cid is None:
            return None
        record = _config(self.state.containers / cid)  # {} for a directory that is gone
        return (self.state.containers / cid, record) if record.get("name") == name else None

    def claim(self, name: str, cid: str) -> bool:
        """Point `name` at `cid`, whose directory must exist; False if a live container has it.

        A free name in a built index is taken without the lock: symlink(2) makes the entry or
        fails, atomically. The lock is for building the index and for replacing a stale entry."""
        entry = self.dir / key(name)
        if (self.dir / COMPLETE).exists():
            try:
                os.symlink(cid, entry)
                return True
            except FileExistsError:
                pass
        with self.state.lock():
            self._build()
            try:
                os.symlink(cid, entry)
                return True
            except FileExistsError:
                holder = self.target(name)
                if holder is not None and self._is_live(holder):
                    return False
                entry.unlink(missing_ok=True)  # stale: its container is gone
                try:
                    os.symlink(cid, entry)
                except FileExistsError:
                    return False  # taken, without the lock, the moment the stale entry went
                return True

    def release(self, name: str, cid: str) -> None:
        """Drop `name`'s entry if it still points at `cid` (another container may hold it now)."""
        if self.target(name) != cid:
            return  # nobody else ever points a name at `cid`: no lock needed to see that
        with self.state.lock():
            self.release_present(name, cid)

    def release_present(self, name: str, cid: str) -> None:
        """`release`, called while `cid`'s folder is still in place (`run --rm`, before its
        folder goes to the trash): an entry whose container's folder exists is never taken
        over (`claim` replaces only a stale one), so the entry read is the entry unlinked, and
        no lock is needed."""
        if self.target(name) == cid:
            (self.dir / key(name)).unlink(missing_ok=True)

    def prune(self) -> list[str]:
        """Drop stale entries (their containers removed by the reaper or a process that died)."""
        dropped = []
        with self.state.lock():
            for entry in os.scandir(self.dir) if self.dir.is_dir() else ():
                if entry.is_symlink() and not self._is_live(os.readlink(entry.path)):
                    os.unlink(entry.path)
                    dropped.append(entry.name)
        return dropped

    def _build(self) -> None:
        """Index the containers of a root made before the index existed. Under the lock."""
        if (self.dir / COMPLETE).exists():
            return
        self.dir.mkdir(exist_ok=True)
        for entry in sorted(self.state.containers.iterdir()):
            record = _config(entry)
            if record.get("name"):
                link = self.dir / key(record["name"])
                link.unlink(missing_ok=True)
                os.symlink(entry.name, link)
        (self.dir / COMPLETE).touch()


def _config(cdir: Path) -> dict:
    """A container's config.json; {} before it is written or after the container went."""
    try:
        return json.loads((cdir / "config.json").read_text())
    except (FileNotFoundError, NotADirectoryError):
        return {}
