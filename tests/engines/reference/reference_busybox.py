"""Test helpers: a docker-archive tarball (what `docker save` writes) holding Debian's /bin/busybox,
and the host's links."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import tarfile
from pathlib import Path

APPLETS_EXTRA = ("true", "false", "sh")
IMAGE = "seatrial-busybox:latest"


def links() -> set[str]:
    """The host's network interfaces, to see that a test leaves none behind."""
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, timeout=10).stdout
    return {line.split(":")[1].strip().split("@")[0] for line in out.splitlines()}


def _applets() -> list[str]:
    out = subprocess.run(["/bin/busybox", "--list"], capture_output=True, text=True, timeout=10).stdout
    return sorted(set(out.split()) | set(APPLETS_EXTRA))


def _layer() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for directory in ("bin", "etc", "tmp", "root", "data", "var", "var/www"):
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if directory == "tmp" else 0o755
            tar.addfile(info)
        tar.add("/bin/busybox", "bin/busybox")
        for applet in _applets():
            if applet == "busybox":
                continue
            info = tarfile.TarInfo(f"bin/{applet}")
            info.type, info.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(info)
        files = {
            "etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
            "etc/group": "root:x:0:\nnogroup:x:65534:\n",
            "data/seed.txt": "from the image\n",
        }
        for name, text in files.items():
            raw = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(raw), 0o644
            tar.addfile(info, io.BytesIO(raw))
    return buffer.getvalue()


def write_archive(path: Path, tag: str = "seatrial-busybox:latest", labels: dict | None = None) -> Path:
    layer = _layer()
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {
                "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                "Cmd": ["sh"],
                "Labels": labels or {},
            },
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        }
    ).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    manifest = json.dumps([{"Config": config_name, "RepoTags": [tag], "Layers": [f"{diff_id[7:]}/layer.tar"]}]).encode()
    with tarfile.open(path, "w") as tar:
        for name, raw in ((config_name, config), (f"{diff_id[7:]}/layer.tar", layer), ("manifest.json", manifest)):
            info = tarfile.TarInfo(name)
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return path


# Commands whose outcome a native (C) start path must give as the Python one does, to the byte
# (test_reference_exec_native.py, test_reference_init_native.py): exit codes, a signal, Docker's
# words for a command that is missing, a folder, not executable, or has no interpreter (`s`, a
# script each test puts in place), and arguments.
START_CASES = (
    ("sh", "-c", "exit 3"),
    ("sh", "-c", "kill -9 $$"),
    ("no-such-command",),
    ("/etc",),
    ("/etc/passwd",),
    ("/no/such/file",),
    ("sh", "-c", "echo out; echo err >&2"),
    ("sh", "-c", 'echo "$0|$#|$*"', "zero", "a b", "c"),
    ("s",),  # found, executable, and its interpreter missing: execve(2) fails after the look-up
)
