"""The native shim tail: a small C program (shimtail.c) that a shim becomes once pid 1 runs.

Kernel facilities: execve(2) (the shim's pid, its child pid 1 and its open pipes carry over;
fds are passed by number, made inheritable first), and for building it the host's C compiler
(gcc is in provision.sh's `--reference-only` packages).

Why: a shim is a fork of the zygote, a Python interpreter, and stays one for the container's
life; reference counts written after the fork copy the pages it shares with the zygote, about
1.8 MiB of PSS per container. The C tail waits for pid 1 and does the rest of the shim's job
(shimtail.c) in a few pages. A shim that serves published ports or the embedded DNS stays
Python (it runs a select loop over them, portproxy.py and dns.py). Without a compiler, or with
SEATRIAL_REFERENCE_NATIVE_SHIM=0, every shim stays Python: same behaviour, more memory.

The binary goes to the cache folder under a name that carries the source's digest
(/var/cache/seatrial/shimtail-<12 hex>), so a changed source is built anew and an old binary is
never run for it. `build` runs once per harness before the zygote starts, and at provision time
(`python -m seatrial.engines.reference.nativeshim`).
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

DEFAULT_CACHE = Path("/var/cache/seatrial")
COMPILE_TIMEOUT = 60.0


@dataclass(frozen=True)
class NativeProgram:
    """A C program of this folder, built on the host into the cache folder as `<stem>-<digest of
    its source>`, so that a changed source is built anew and an old binary is never run for it;
    `switch`=0 in the environment turns it off (the Python path then does its job)."""

    stem: str
    switch: str

    @property
    def source(self) -> Path:
        return Path(__file__).with_name(f"{self.stem}.c")

    @functools.cached_property
    def digest(self) -> str:
        """Of the source and the headers beside it (nativecommon.h), which it may include."""
        if not self.source.exists():
            return ""
        content = hashlib.sha256(self.source.read_bytes())
        for header in sorted(self.source.parent.glob("*.h")):
            content.update(header.read_bytes())
        return content.hexdigest()[:12]

    def is_enabled(self) -> bool:
        """False when `switch`=0 asks for the Python path throughout."""
        return os.environ.get(self.switch) != "0" and bool(self.digest)

    def binary(self, cache: Path = DEFAULT_CACHE) -> Path | None:
        """The built program for this source, or None (not built, or turned off)."""
        path = cache / f"{self.stem}-{self.digest}"
        return path if self.is_enabled() and os.access(path, os.X_OK) else None

    def build(self, cache: Path = DEFAULT_CACHE) -> Path | None:
        """Build the program unless it is there; None when it cannot be (no compiler, no write
        access, turned off)."""
        if not self.is_enabled():
            return None
        return self.binary(cache) or compile_program(self.source, f"{self.stem}-{self.digest}", cache)


SHIM_TAIL = NativeProgram("shimtail", "SEATRIAL_REFERENCE_NATIVE_SHIM")
SOURCE, DIGEST = SHIM_TAIL.source, SHIM_TAIL.digest


def is_enabled() -> bool:
    return SHIM_TAIL.is_enabled()


def binary(cache: Path = DEFAULT_CACHE) -> Path | None:
    return SHIM_TAIL.binary(cache)


def build(cache: Path = DEFAULT_CACHE) -> Path | None:
    """None when it cannot be built: shims stay Python."""
    return SHIM_TAIL.build(cache)


def compile_program(source: Path, name: str, cache: Path) -> Path | None:
    """`cache`/`name` built from the C file `source` with the host's compiler, statically linked
    where the C library allows it (fewer pages); None when it cannot be."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        return None
    path = cache / name
    tmp = cache / f".{name}.{os.getpid()}.tmp"
    try:
        cache.mkdir(parents=True, exist_ok=True)
        for static in (["-static"], []):
            argv = [compiler, "-O2", "-Wall", *static, "-o", str(tmp), str(source.resolve())]  # gcc takes no --
            if subprocess.run(argv, capture_output=True, timeout=COMPILE_TIMEOUT).returncode == 0:
                os.replace(tmp, path)  # atomic: two harnesses building at once both end with one binary
                return path
    except (OSError, subprocess.SubprocessError):
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return None


def exec_tail(
    pid1: int,
    exit_record: str,
    done_w: int,
    release_r: int,
    device_cgroup: str,
    trash_dir: str,
    lent,
    cache: Path = DEFAULT_CACHE,
) -> None:
    """In the shim: become the tail; returns only if that cannot be (then the Python shim goes on)."""
    path = binary(cache)
    if path is None:
        return
    try:
        for fd in (done_w, release_r, *lent):
            os.set_inheritable(fd, True)
        os.execv(
            path,
            ["seatrial-shimtail", str(pid1), exit_record, str(done_w), str(release_r), device_cgroup, trash_dir]
            + [str(fd) for fd in lent],
        )
    except OSError:
        return


if __name__ == "__main__":  # provision.sh: build the C programs ahead of the first run
    from . import containerinit, nativeexec  # both import this module: a top-level import would be circular

    target = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_CACHE
    built = build(target)
    print(f"shim tail: {built}" if built else "shim tail: not built (no C compiler?); shims stay Python")
    built = nativeexec.PROGRAM.build(target)
    print(f"exec: {built}" if built else "exec: not built (no C compiler?); exec stays Python")
    built = containerinit.NATIVE_INIT.build(target)
    print(f"pid 1: {built}" if built else "pid 1: not built (no C compiler?); pid 1 stays Python")
