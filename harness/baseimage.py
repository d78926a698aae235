"""The suite's base image: Debian's busybox-static packed as a docker-archive tarball.

No registry is reachable on the machines seatrial runs on, so `{{ base }}` is built here from
/bin/busybox and loaded into each engine. The archive is deterministic (fixed mtimes, sorted
entries, owner 0) so that the same inputs give the same bytes and the same image id on every
engine and machine; it is cached under a directory keyed by the digest of its inputs.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

BUSYBOX = Path("/bin/busybox")
DEFAULT_CACHE = Path("/var/cache/seatrial")
REPOSITORY = "seatrial/base"
# Bump when the layout below changes, so cached archives of the old layout are not reused.
FORMAT_VERSION = "1"
# A fixed, plausible time: some tools warn about entries dated at the epoch.
MTIME = 1_700_000_000
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
GROUP = "root:x:0:\nnogroup:x:65534:\n"
DIRECTORIES = {
    "bin": 0o755,
    "dev": 0o755,
    "etc": 0o755,
    "proc": 0o755,
    "root": 0o700,
    "sys": 0o755,
    "tmp": 0o1777,
    "usr": 0o755,
    "usr/bin": 0o755,
    "var": 0o755,
}


class BaseImageError(RuntimeError):
    """The base image cannot be built here; the message says what to install."""


@dataclass(frozen=True)
class BaseArchive:
    """A docker-archive tarball of the base image, its input digest and the tag it loads as."""

    path: Path
    digest: str  # sha256 hex of the inputs; also the value of the image label seatrial.base
    tag: str  # seatrial/base:<first 12 hex digits of digest>


def base_archive(cache_dir: Path | None = None, busybox: Path = BUSYBOX) -> BaseArchive:
    """Return the base image archive, building it only when its inputs changed."""
    if not busybox.is_file():
        raise BaseImageError(
            f"base image: {busybox} not found; install Debian's busybox-static "
            "(apt-get install busybox-static; vagrant/provision.sh does)"
        )
    cache = Path(cache_dir or os.environ.get("SEATRIAL_CACHE") or DEFAULT_CACHE)
    binary = busybox.read_bytes()
    applets = _applets(busybox)
    digest = input_digest(binary, applets)
    tag = f"{REPOSITORY}:{digest[:12]}"
    path = cache / f"base-{digest}.tar"
    if not path.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        data = archive_bytes(binary, applets, digest, tag)
        # Write beside and rename, so a concurrent reader never sees half an archive.
        fd, tmp = tempfile.mkstemp(dir=cache, prefix=".base-", suffix=".tar")
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    return BaseArchive(path=path, digest=digest, tag=tag)


def ensure_loaded(engine, archive: BaseArchive) -> str:
    """Load `archive` into `engine` unless its tag is already there; return the tag."""
    if not engine.image_exists(archive.tag):
        engine.load(archive.path)
    return archive.tag


def input_digest(binary: bytes, applets: list[str]) -> str:
    """The digest of everything that decides the archive's bytes."""
    h = hashlib.sha256()
    for part in (
        FORMAT_VERSION.encode(),
        hashlib.sha256(binary).digest(),
        "\n".join(applets).encode(),
        PASSWD.encode(),
        GROUP.encode(),
    ):
        h.update(len(part).to_bytes(8, "big") + part)
    return h.hexdigest()


def archive_bytes(binary: bytes, applets: list[str], digest: str, tag: str) -> bytes:
    """The docker-archive tarball (manifest.json, config, one layer) as bytes."""
    layer = _layer(binary, applets)
    layer_id = hashlib.sha256(layer).hexdigest()
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "created": "2023-11-14T22:13:20Z",  # MTIME, so the config digest is stable
            "config": {"Env": [PATH_ENV], "Cmd": ["sh"], "Labels": {"seatrial.base": digest}},
            "rootfs": {"type": "layers", "diff_ids": [f"sha256:{layer_id}"]},
            "history": [
                {
                    "created": "2023-11-14T22:13:20Z",
                    "created_by": "seatrial.harness.baseimage: busybox-static and applet links",
                }
            ],
        },
        sort_keys=True,
        separators=(",", ":"),
    ).encode()
    config_id = hashlib.sha256(config).hexdigest()
    repo, _, version = tag.partition(":")
    manifest = json.dumps(
        [{"Config": f"{config_id}.json", "RepoTags": [tag], "Layers": [f"{layer_id}/layer.tar"]}], separators=(",", ":")
    ).encode()
    repositories = json.dumps({repo: {version: layer_id}}, separators=(",", ":")).encode()
    members = [
        (f"{config_id}.json", config),
        (f"{layer_id}/layer.tar", layer),
        ("manifest.json", manifest),
        ("repositories", repositories),
    ]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        tar.addfile(_info(f"{layer_id}", tarfile.DIRTYPE, 0o755))
        for name, data in sorted(members):
            tar.addfile(_info(name, tarfile.REGTYPE, 0o644, size=len(data)), io.BytesIO(data))
    return buf.getvalue()


def _layer(binary: bytes, applets: list[str]) -> bytes:
    entries: list[tuple[tarfile.TarInfo, bytes | None]] = []
    for name, mode in DIRECTORIES.items():
        entries.append((_info(name, tarfile.DIRTYPE, mode), None))
    entries.append((_info("bin/busybox", tarfile.REGTYPE, 0o755, size=len(binary)), binary))
    for applet in applets:
        if applet != "busybox":
            # Symlinks rather than hard links: hard links in layers are where engines differ.
            entries.append((_info(f"bin/{applet}", tarfile.SYMTYPE, 0o777, link="busybox"), None))
    for name, text in (("etc/passwd", PASSWD), ("etc/group", GROUP)):
        entries.append((_info(name, tarfile.REGTYPE, 0o644, size=len(text)), text.encode()))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for info, data in sorted(entries, key=lambda e: e[0].name):
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def _info(name: str, kind: bytes, mode: int, *, size: int = 0, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.size, info.linkname = kind, mode, size, link
    info.mtime, info.uid, info.gid, info.uname, info.gname = MTIME, 0, 0, "root", "root"
    return info


def _applets(busybox: Path) -> list[str]:
    """Every applet this busybox has: links are cheap, and scenarios should not hit a missing one."""
    try:
        out = subprocess.run([str(busybox), "--list"], capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise BaseImageError(f"base image: '{busybox} --list' failed: {exc}") from exc
    return sorted({a for a in out.split() if a and "/" not in a})
