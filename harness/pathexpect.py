"""`expect: {paths: [...]}`: a file's existence, mode, owner and content inside a container,
read with a static busybox that the run step binds into the container.

Why not testinfra's `file` module: it runs `/bin/sh`, `stat` and friends of the image itself,
which a distroless or scratch image does not have. A statically linked busybox bound read-only
at TOOL (`mounts: [{bind: /bin/busybox, target: /.seatrial/busybox, read_only: true}]`) works on
every engine and in every image; the commands go through the engine's exec (argument lists, no
shell). The mode is shown as Go's `os.FileMode.String()` (`-rw-r--r--`, `drwxr-xr-x`,
`Lrwxrwxrwx`, `urwxr-xr-x` for setuid), the format container-structure-test compares.
"""

from __future__ import annotations

import re
import stat
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from seatrial.engines.base import EngineError
from seatrial.harness.check import Check, excerpt

TOOL = "/.seatrial/busybox"
HOST_TOOL = "/bin/busybox"  # Debian's busybox-static: the base image is made of it too
EXECUTABLE_BITS = {"any": 0o111, "owner": 0o100, "group": 0o010, "other": 0o001}
# Go's os.FileMode.String() writes one letter per type bit set, in the order of "dalTLDpSugct?";
# these are the bits a tar header (what CST reads) can carry.
_GO_LETTERS = (
    ("d", lambda m: stat.S_ISDIR(m)),
    ("L", lambda m: stat.S_ISLNK(m)),
    ("D", lambda m: stat.S_ISCHR(m) or stat.S_ISBLK(m)),
    ("p", lambda m: stat.S_ISFIFO(m)),
    ("S", lambda m: stat.S_ISSOCK(m)),
    ("u", lambda m: m & stat.S_ISUID),
    ("g", lambda m: m & stat.S_ISGID),
    ("c", lambda m: stat.S_ISCHR(m)),
    ("t", lambda m: m & stat.S_ISVTX),
)


class PathExpect(BaseModel):
    """A path inside the step's container (or `container`), read with busybox at `tool`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str
    container: str | None = Field(None, description="A container run earlier; default: the step's own")
    exists: bool | None = None
    mode: str | None = Field(
        None,
        pattern=r"^[dalTLDpSugct?-]+[r-][w-][x-][r-][w-][x-][r-][w-][x-]$",
        description="As Go's os.FileMode.String() shows it, e.g. -rw-r--r--, drwxr-xr-x",
    )
    uid: int | None = Field(None, ge=0)
    gid: int | None = Field(None, ge=0)
    executable_by: Literal["any", "owner", "group", "other"] | None = None
    matches: list[str] = Field(default_factory=list, description="Python regular expressions searched in the content")
    not_matches: list[str] = Field(default_factory=list, description="None of these may be found in the content")
    tool: str = Field(TOOL, description="Where the run step bound a static busybox into the container")

    @model_validator(mode="after")
    def _valid(self):
        for pattern in (*self.matches, *self.not_matches):
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{pattern!r} is not a valid regular expression: {exc}") from None
        return self


def go_mode_string(mode: int) -> str:
    """`mode` (st_mode) as Go's FileMode.String() shows it, the way a tar header maps it."""
    letters = "".join(letter for letter, test in _GO_LETTERS if test(mode))
    rwx = "".join(ch if mode & (1 << (8 - i)) else "-" for i, ch in enumerate("rwxrwxrwx"))
    return (letters or "-") + rwx


def path_checks(ctx, step: int, want: PathExpect, outcome) -> list:
    """The checks of one path: `exists` first; mode, owner and content only of a path that exists."""

    name = ctx.containers.get(want.container, want.container) if want.container else outcome.container
    path = ctx.render(want.path)
    label = f"path {path}"
    try:
        found = ctx.engine.exec(name, (want.tool, "stat", "-c", "%f %u %g", "--", path), timeout=60)
    except EngineError as exc:
        return [Check(step, label, f"a container with busybox at {want.tool}", f"error: {exc}", False)]
    exists = found.exit_code == 0
    checks = []
    if want.exists is not None:
        checks.append(
            Check(
                step,
                f"{label} exists",
                str(want.exists),
                str(exists) + ("" if exists or not found.stderr.strip() else f" ({found.stderr.strip()[:200]})"),
                exists == want.exists,
            )
        )
    if not exists:
        if any(v is not None for v in (want.mode, want.uid, want.gid, want.executable_by)) or want.matches:
            checks.append(Check(step, f"{label} details", "an existing path", "no such path", False))
        return checks
    raw, uid, gid = found.stdout.split()
    mode = int(raw, 16)
    shown = go_mode_string(mode)
    if want.mode is not None:
        checks.append(Check(step, f"{label} mode", want.mode, shown, shown == want.mode))
    if want.executable_by is not None:
        checks.append(
            Check(
                step,
                f"{label} executable by {want.executable_by}",
                "an x bit there",
                shown,
                bool(mode & EXECUTABLE_BITS[want.executable_by]),
            )
        )
    if want.uid is not None:
        checks.append(Check(step, f"{label} uid", str(want.uid), uid, int(uid) == want.uid))
    if want.gid is not None:
        checks.append(Check(step, f"{label} gid", str(want.gid), gid, int(gid) == want.gid))
    if want.matches or want.not_matches:
        read = ctx.engine.exec(name, (want.tool, "cat", "--", path), timeout=60)
        if read.exit_code != 0:
            return [*checks, Check(step, f"{label} content", "a readable file", read.stderr.strip()[:200], False)]
        for pattern in want.matches:
            checks.append(
                Check(
                    step,
                    f"{label} content matches",
                    repr(pattern),
                    excerpt(read.stdout),
                    re.search(pattern, read.stdout) is not None,
                )
            )
        for pattern in want.not_matches:
            checks.append(
                Check(
                    step,
                    f"{label} content does not match",
                    repr(pattern),
                    excerpt(read.stdout),
                    re.search(pattern, read.stdout) is None,
                )
            )
    return checks
