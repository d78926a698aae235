"""Paths inside a root: every host path computed from image or scenario content goes through here.

Kernel facilities: lstat(2) and readlink(2), to evaluate symlinks *in scope* -- an absolute link
restarts at the root, `..` stops at the root -- as Docker's FollowSymlinkInScope and runc's
SecureJoin do (path_resolution(7) with the root taken as `/`). The kernel's own version of the
same rule, openat2(2) with RESOLVE_IN_ROOT (Linux 5.6), is `Kernel.open_in_root` in kernel.py;
the tests hold `resolve` to it. `resolve` is used because it also resolves paths that do not
exist yet (a COPY destination, a mount target to create).

A path resolved here stays inside the root as long as nobody swaps a component for a symlink
between the resolution and its use. The reference runtime resolves before any process of the
container runs (seeding, bind targets, layer extraction, COPY into a fresh layer), so nobody can.
"""

from __future__ import annotations

import errno as errno_mod
import os
import posixpath
import shutil
import stat

MAX_SYMLINKS = 255  # Docker's and runc's bound on links followed in one resolution


class ScopeError(OSError):
    """A path that cannot be resolved inside its root (a symlink loop, say)."""


def clean(path: str) -> str:
    """`path` made absolute with `..` clamped at `/`: the lexical half of Docker's rule."""
    return posixpath.normpath("/" + path).replace("//", "/")


def resolve(root: str | os.PathLike, path: str) -> str:
    """The host path of `path` inside `root`, symlinks evaluated in scope and `..` clamped at
    `root`. Components that do not exist are kept as they are: the result may be created."""
    root = os.path.abspath(root)
    pending = [p for p in path.split("/") if p]
    pending.reverse()  # a stack: the next component last
    done: list[str] = []
    links = 0
    while pending:
        part = pending.pop()
        if part == ".":
            continue
        if part == "..":
            if done:
                done.pop()
            continue
        candidate = os.path.join(root, *done, part)
        try:
            st = os.lstat(candidate)
        except FileNotFoundError:
            done.append(part)
            continue
        except NotADirectoryError:
            done.append(part)  # under a file: the caller's open or mkdir will say ENOTDIR
            continue
        if not stat.S_ISLNK(st.st_mode):
            done.append(part)
            continue
        links += 1
        if links > MAX_SYMLINKS:
            raise ScopeError(errno_mod.ELOOP, f"resolve {path!r} in {root}: too many symlinks")
        target = os.readlink(candidate)
        if target.startswith("/"):
            done = []
        pending.extend(reversed([p for p in target.split("/") if p]))
    return os.path.join(root, *done)


def makedirs(root: str | os.PathLike, path: str, mode: int = 0o755) -> str:
    """Create `path` inside `root` as a directory (with its parents); returns its host path."""
    host = resolve(root, path)
    os.makedirs(host, mode=mode, exist_ok=True)
    return host


def _place(root: str, path: str) -> str:
    """The host path for a new entry `path` in `root`: its parent resolved in scope, its own name
    taken literally (an existing symlink there is replaced, never followed)."""
    parent, name = posixpath.split(clean(path))
    return os.path.join(resolve(root, parent), name) if name else os.path.abspath(root)


def _copy_entry(source: str, host: str) -> None:
    """One entry as it is: a link as a link, a device or fifo as a new node (mknod(2), never
    read: a copy of /dev/zero would never end), a file with its content and metadata."""
    if os.path.lexists(host) and not (os.path.isdir(host) and not os.path.islink(host)):
        os.unlink(host)
    st = os.lstat(source)
    if stat.S_ISLNK(st.st_mode):
        os.symlink(os.readlink(source), host)
        os.utime(host, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)
    elif stat.S_ISDIR(st.st_mode):
        os.makedirs(host, exist_ok=True)
        shutil.copystat(source, host)
    elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) or stat.S_ISFIFO(st.st_mode):
        os.mknod(host, st.st_mode, st.st_rdev)
        shutil.copystat(source, host, follow_symlinks=False)
    elif stat.S_ISREG(st.st_mode):
        shutil.copy2(source, host, follow_symlinks=False)
    else:
        return  # a socket is left out: it means nothing without the process that listens on it
    try:  # owners are kept, as Docker's copies keep them (a COPY without --from then makes them root's)
        os.lchown(host, st.st_uid, st.st_gid)
    except PermissionError:
        pass  # not root (unit tests): the copy is the caller's, which is all it can be


def copy_in(root: str | os.PathLike, source: str | os.PathLike, dest: str, skip=None) -> None:
    """Copy the host file, symlink or tree `source` to `dest` inside `root`, every entry placed in
    scope: a symlink that an earlier entry (or the root) holds can redirect a write only to
    somewhere inside `root`. Symlinks are copied as links; entries whose path relative to
    `source` `skip(rel)` names are left out."""
    root, source, skip = os.path.abspath(root), os.fspath(source), skip or (lambda rel: False)
    if not os.path.isdir(source) or os.path.islink(source):
        _copy_entry(source, _place(root, dest))
        return
    top = _place(root, dest)
    os.makedirs(top, exist_ok=True)
    shutil.copystat(source, top)
    for where, dirs, files in os.walk(source):
        rel_dir = os.path.relpath(where, source)
        dirs[:] = [d for d in dirs if not skip(os.path.normpath(os.path.join(rel_dir, d)))]
        for name in sorted(dirs) + sorted(files):
            rel = os.path.normpath(os.path.join(rel_dir, name))
            if name in files and skip(rel):
                continue
            _copy_entry(os.path.join(where, name), _place(root, posixpath.join(dest, rel)))
