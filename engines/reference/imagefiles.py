"""Reading an image's files without mounting it: a path's metadata, /etc/passwd and /etc/group.

Kernel facilities: lstat(2) and read(2) on the layer directories, top layer first, as overlayfs
(Documentation/filesystems/overlayfs.rst) would show them: a whiteout (character device 0/0)
hides the path, an opaque directory (xattr trusted.overlay.opaque=y) hides what lies below it.
Each lookup goes through scope.resolve, so a symlink in a layer is followed inside that layer's
root and never onto the host. (A link that crosses layers is followed within the layer holding
it: enough for the dest folders of COPY and the account files, which no image sensibly splits.)

Used by the builder for what Docker's classic builder reads from the image being built: the
mode and owner of a COPY destination folder that already exists, the names `--chown` gives, and
where a COPY destination or WORKDIR lands when the image has symlinks on its path (`resolve`,
which follows links across layers, always inside the image).
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat

from . import scope


def _is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _is_opaque(path: str) -> bool:
    try:
        return os.getxattr(path, "trusted.overlay.opaque", follow_symlinks=False) == b"y"
    except OSError:
        return False


def _hides_below(layer, parts: list[str]) -> bool:
    """Whether a parent folder of the path, in this layer, is a whiteout or opaque: then the
    path is hidden in every layer below."""
    for i in range(1, len(parts)):
        parent = scope.resolve(layer, "/".join(parts[:i]))
        try:
            if _is_whiteout(os.lstat(parent)) or _is_opaque(parent):
                return True
        except OSError:
            return False
    return False


def lookup(layer_paths: list, path: str, follow_last: bool = True) -> str | None:
    """The host path of `path` in the topmost layer holding it, or None (absent or whited out).
    `layer_paths` are the layers' directories, bottom first. With `follow_last` false, a symlink
    at `path` itself is the answer, not what it points to."""
    parts = [p for p in scope.clean(path).split("/") if p]
    parent, name = posixpath.split(scope.clean(path))
    for layer in reversed(layer_paths):
        host = (
            scope.resolve(layer, path) if follow_last or not name else os.path.join(scope.resolve(layer, parent), name)
        )
        try:
            st = os.lstat(host)
        except OSError:
            if _hides_below(layer, parts):
                return None
            continue
        return None if _is_whiteout(st) else host
    return None


def resolve(layer_paths: list, path: str) -> str:
    """`path` with every symlink the image holds on it followed, the last component too, in
    scope (an absolute target restarts at the image's root, `..` stops there): where Docker's
    classic builder writes a COPY destination or makes a WORKDIR (FollowSymlinkInScope in the
    container's root). Components that do not exist are kept, so the result may be created."""
    pending = [p for p in path.split("/") if p]
    pending.reverse()  # a stack: the next component last
    done: list[str] = []
    links = 0
    while pending:
        part = pending.pop()
        if part in (".", ".."):
            if part == ".." and done:
                done.pop()
            continue
        host = lookup(layer_paths, "/" + "/".join([*done, part]), follow_last=False)
        if host is None or not os.path.islink(host):
            done.append(part)
            continue
        links += 1
        if links > scope.MAX_SYMLINKS:
            raise scope.ScopeError(errno.ELOOP, f"resolve {path!r} in the image: too many symlinks")
        target = os.readlink(host)
        if target.startswith("/"):
            done = []
        pending.extend(reversed([p for p in target.split("/") if p]))
    return "/" + "/".join(done)


def stat_in(layer_paths: list, path: str) -> os.stat_result | None:
    """lstat of `path` as the image shows it, or None."""
    host = lookup(layer_paths, path)
    return os.lstat(host) if host else None


def read_text(layer_paths: list, path: str) -> str:
    """A text file of the image ('' when it has none), symlinks followed in scope."""
    host = lookup(layer_paths, path)
    if host is None or not os.path.isfile(host):
        return ""
    with open(host, encoding="utf-8", errors="replace") as handle:
        return handle.read(1 << 20)


def _find_id(name: str, text: str, kind: str) -> int:
    if name.isdigit():
        return int(name)
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) >= 3 and fields[0] == name and fields[2].isdigit():
            return int(fields[2])
    raise LookupError(f"can't find {'uid' if kind == 'user' else 'gid'} for {kind} {name}: no such {kind}: {name}")


def chown_ids(spec: str, layer_paths: list) -> tuple[int, int]:
    """`--chown=USER[:GROUP]` as Docker's classic builder reads it: numbers as they are, names
    from the image's /etc/passwd and /etc/group; without a group, the USER word names the group
    too (so `--chown=nobody` needs a group called nobody)."""
    parts = spec.split(":")
    if len(parts) > 2:
        raise LookupError(f"invalid chown string format: {spec}")
    user, group = parts if len(parts) == 2 else (parts[0], parts[0])
    uid = _find_id(user, "" if user.isdigit() else read_text(layer_paths, "/etc/passwd"), "user")
    gid = _find_id(group, "" if group.isdigit() else read_text(layer_paths, "/etc/group"), "group")
    return uid, gid
