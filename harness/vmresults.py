"""Bringing a run's results out of a VM: a tar stream of `results/<run-id>/` read on the host and
unpacked under the host's results folder, where `seatrial report` merges it with the host's own
runs (the VM's hostname makes its columns `engine@host`).

The stream comes from the guest, so it is not trusted: only regular files and folders inside
`<run-id>/` are written; anything else (links, devices, absolute or `..` paths) is refused.
Python 3.11.2 (Debian 12) has no tarfile extraction filters, hence the check here."""

from __future__ import annotations

import tarfile
from pathlib import Path, PurePosixPath
from typing import IO

MAX_BYTES = 1 << 30  # a run's events are megabytes; a gigabyte means something is wrong


class UnsafeArchive(ValueError):
    """The guest's archive holds something that must not be unpacked on the host."""


def member_path(member: tarfile.TarInfo, run_id: str) -> PurePosixPath:
    """The relative path a member may be written to, or UnsafeArchive saying why not."""
    path = PurePosixPath(member.name)
    if path.is_absolute() or ".." in path.parts:
        raise UnsafeArchive(f"{member.name!r}: absolute or '..' path")
    if not path.parts or path.parts[0] != run_id:
        raise UnsafeArchive(f"{member.name!r}: outside the run's folder {run_id!r}")
    if not (member.isfile() or member.isdir()):
        raise UnsafeArchive(f"{member.name!r}: not a regular file or folder")
    return path


def unpack_run(stream: IO[bytes], run_id: str, results_dir: Path) -> list[Path]:
    """Unpack the guest's `tar -c RUN_ID` stream into results_dir; return the files written."""
    written: list[Path] = []
    total = 0
    with tarfile.open(fileobj=stream, mode="r|") as archive:
        for member in archive:
            relative = member_path(member, run_id)
            target = results_dir.joinpath(*relative.parts)
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            total += member.size
            if total > MAX_BYTES:
                raise UnsafeArchive(f"more than {MAX_BYTES} bytes of results")
            target.parent.mkdir(parents=True, exist_ok=True)
            source = archive.extractfile(member)
            assert source is not None  # a regular file always has content
            with source, open(target, "wb") as sink:
                while chunk := source.read(1 << 20):
                    sink.write(chunk)
            written.append(target)
    return written
