"""Layers no image holds and no live build needs: what a build or load killed midway leaves.

Kernel facilities: flock(2) on one claim file per running build or load under `tmp/claims/`
(the kernel drops the lock on any death, SIGKILL included, so a free lock means a dead owner);
rename(2) of an orphan layer out of `layers/` under the state lock, so that no one can take it
while it goes; /proc/PID/stat (procfs.alive) for work folders named `<hex>.<pid>`.

A build commits a layer per RUN and COPY as it goes, and records its image only at the end, so a
build killed in between leaves layers that no image references (the build cache may name them;
a cache entry whose layer is gone is a miss). `sweep` removes a layer when, under the state lock:
no image references it; no live claim holds it (a build holds each cache hit it continues from);
and it was committed before every live claim started (a live build's own fresh layers are newer
than its claim). Work folders of dead processes under `tmp/` go too.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import time
from pathlib import Path

from .procfs import alive

CLAIMS = "claims"


class Claim:
    """A running build's (or load's) hold on layers: `tmp/claims/<pid>-<rand>`, flocked for
    as long as it runs; first line its start time, then one layer digest per line."""

    def __init__(self, tmp: Path):
        directory = Path(tmp) / CLAIMS
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"{os.getpid()}-{os.urandom(4).hex()}"
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        os.write(self._fd, json.dumps({"started": time.time()}).encode() + b"\n")

    def hold(self, layer: str | None) -> None:
        """Keep `layer` from the sweep until this claim ends (call under the state lock)."""
        if layer:
            os.write(self._fd, layer.encode() + b"\n")

    def release(self) -> None:
        self.path.unlink(missing_ok=True)
        os.close(self._fd)


@contextlib.contextmanager
def claim(tmp: Path):
    """A Claim for the duration of a build or load."""
    held = Claim(tmp)
    try:
        yield held
    finally:
        held.release()


def _live_claims(tmp: Path) -> tuple[set[str], float | None]:
    """Layers held by live claims and the earliest live start; dead claims' files are removed."""
    held: set[str] = set()
    earliest: float | None = None
    directory = Path(tmp) / CLAIMS
    for path in directory.iterdir() if directory.is_dir() else ():
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:  # held: its owner runs
            lines = path.read_text().splitlines()
            started = json.loads(lines[0])["started"] if lines else 0.0
            earliest = started if earliest is None else min(earliest, started)
            held.update(lines[1:])
        else:
            path.unlink(missing_ok=True)
        finally:
            os.close(fd)
    return held, earliest


def sweep(state, images) -> list[str]:
    """Remove orphan layers and dead processes' work folders; returns what went."""
    removed, doomed = [], []
    trash = state.root / "trash"
    trash.mkdir(exist_ok=True)
    with state.lock():
        held, earliest = _live_claims(state.tmp)
        referenced = {layer for image in images.all() for layer in image["layers"]}
        for layer in images.layers.all():
            meta = state.layers / layer[7:] / "meta.json"
            if layer in referenced or layer in held:
                continue
            if earliest is not None and meta.stat().st_mtime >= earliest:
                continue  # perhaps a live build's own, not yet in its claim
            target = trash / f"layer-{layer[7:]}"
            os.rename(state.layers / layer[7:], target)
            doomed.append(target)
            removed.append(f"layer {layer[:19]}")
        for entry in state.tmp.iterdir():
            if entry.name == CLAIMS or os.path.ismount(entry):
                continue
            owner = entry.name.rpartition(".")[2]
            if (owner.isdigit() and not alive(int(owner))) or (not owner.isdigit() and earliest is None):
                doomed.append(entry)  # `<hex>.<pid>` of a dead process; copy-/mnt- with no build alive
                removed.append(f"work folder {entry.name}")
    for path in doomed:
        shutil.rmtree(path, ignore_errors=True)
    return removed
