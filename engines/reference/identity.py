"""Who a container's process is: user, primary group, supplementary groups and HOME, as Docker.

Kernel facilities: credentials(7) -- setgroups(2), setgid(2), setuid(2), made through kernel.py
(`Kernel.set_identity`); the files passwd(5) and group(5) are read inside the container's root,
after pivot_root(2), so a user is the image's user, never the host's.

Docker's rules, measured against Docker 20.10 with runc (and Podman 4.3, which agrees but for
root's supplementary groups, see scenarios/isolation/user-identity.yaml):
- `--user` is `name`, `uid`, `name:group` or `uid:gid`; "" is root. A name missing from
  /etc/passwd is an error; a uid missing from it runs with gid 0 and HOME=/.
- Without an explicit group, the supplementary groups are the primary group and every group of
  /etc/group that lists the user's name as a member; with one, only that group.
- HOME comes from the passwd entry (empty when its home field is) unless the environment sets
  it to something non-empty.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass

ACCOUNT_FILE_LIMIT = 4 << 20  # a larger /etc/passwd or /etc/group in an image is refused, not read


@dataclass(frozen=True)
class Identity:
    """The credentials and home directory a container's process gets."""

    uid: int
    gid: int
    groups: tuple[int, ...]  # supplementary groups, sorted (setgroups(2) sorts them too)
    home: str


def resolve_user(user: str, etc: str = "/etc", read: Callable[[str], str | None] | None = None) -> Identity:
    """`user` as Docker takes it, read from `etc`/passwd and `etc`/group; "" is root. `read`
    (given "passwd" or "group", the file's text or None when it is missing) reads them instead:
    the harness reads a running container's through its root (nativeexec.py)."""
    read = read or (lambda name: _text(f"{etc}/{name}"))
    name, _, group = (user or "0").partition(":")
    entry = next((row for row in _table(read("passwd")) if row[0] == name or (name.isdigit() and row[2] == name)), None)
    if entry is None:
        if not name.isdigit():
            raise OSError(f"unable to find user {name}: no matching entries in passwd file")
        uid, gid, login, home = int(name), 0, "", "/"
    else:
        uid, gid, login, home = int(entry[2]), int(entry[3]), entry[0], (entry[5] if len(entry) > 5 else "")
    groups = _table(read("group"))
    if group:
        matches = [int(row[2]) for row in groups if row[0] == group or row[2] == group]
        if not matches and not group.isdigit():
            raise OSError(f"unable to find group {group}: no matching entries in group file")
        gid = matches[0] if matches else int(group)
        return Identity(uid, gid, (gid,), home)
    members = {
        int(row[2]) for row in groups if login and len(row) > 3 and login in row[3].split(",") and row[2].isdigit()
    }
    return Identity(uid, gid, tuple(sorted(members | {gid})), home)


def with_home(env: tuple[str, ...], home: str) -> dict[str, str]:
    """The environment a command gets: `env` ("KEY=value"), HOME from the passwd entry unless
    `env` sets it to something non-empty (runc's rule)."""
    environ = dict(item.split("=", 1) for item in env)
    if not environ.get("HOME"):
        environ["HOME"] = home
    return environ


def _table(text: str | None) -> list[list[str]]:
    return [line.split(":") for line in (text or "").split("\n") if line.count(":") >= 2]


def _text(path: str) -> str | None:
    try:
        with open(path) as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def checked_text(path: str) -> str | None:
    """The file's text, None when it is missing; only a regular file of at most
    ACCOUNT_FILE_LIMIT bytes is read. For a container's pid 1: nothing of the container runs yet,
    so a FIFO there would never begin and a link to /dev/zero never end (opened without
    blocking, then checked). An exec reads as runc does (`_text`), within its deadline."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    with os.fdopen(fd, encoding="utf-8", errors="replace") as handle:
        check_account_file(path, os.fstat(fd))
        return handle.read()


def check_account_file(path: str, info: os.stat_result) -> None:
    """OSError unless `info` is of a regular file of at most ACCOUNT_FILE_LIMIT bytes."""
    if not stat.S_ISREG(info.st_mode) or info.st_size > ACCOUNT_FILE_LIMIT:
        raise OSError(f"{path} is not a regular file of at most {ACCOUNT_FILE_LIMIT} bytes")
