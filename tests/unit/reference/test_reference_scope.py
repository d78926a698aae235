"""scope.py resolves paths inside a root as the kernel's openat2(RESOLVE_IN_ROOT) does, and its
copy never writes outside the root (no root, no engine: symlinks in a temporary folder)."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from seatrial.engines.reference import scope
from seatrial.engines.reference.kernel import Kernel


@pytest.fixture
def tree(tmp_path) -> tuple[Path, Path]:
    """A root full of hostile links, and a folder beside it standing for the host."""
    root, host = tmp_path / "root", tmp_path / "host"
    (root / "etc").mkdir(parents=True)
    (root / "usr" / "lib").mkdir(parents=True)
    (root / "usr" / "lib" / "f").write_text("in root")
    host.mkdir()
    (host / "f").write_text("host")
    for inside in (Path(str(root) + str(host)), root / "host"):  # where the links land in scope
        inside.mkdir(parents=True)
        (inside / "f").write_text("in root")
    os.symlink(str(host), root / "abs_to_host")  # absolute: the root's own /tmp/.../host
    os.symlink("../../../../../../host", root / "climb")  # relative, climbing past the root
    os.symlink("/usr/lib", root / "abs_inside")
    os.symlink("usr/../../..", root / "dotdot_link")
    os.symlink("chain2", root / "chain1")
    os.symlink("/abs_inside/f", root / "chain2")
    os.symlink("loop_b", root / "loop_a")
    os.symlink("loop_a", root / "loop_b")
    os.symlink("usr/lib/f", root / "file_link")
    return root, host


CASES = [
    "/",
    "etc",
    "/etc/../..",
    "../../..",
    "/abs_to_host",
    "/abs_to_host/f",
    "/climb",
    "climb/f",
    "/abs_inside/f",
    "dotdot_link",
    "dotdot_link/etc",
    "chain1",
    "/usr/lib/../../etc/./",
    "/missing/x",
    "abs_inside/../lib",
    "file_link",
]


def kernel_resolution(root: Path, path: str) -> str:
    """Where openat2(RESOLVE_IN_ROOT) lands, as a host path."""
    root_fd = os.open(root, os.O_PATH | os.O_DIRECTORY)
    try:
        fd = Kernel().open_in_root(root_fd, path)
    finally:
        os.close(root_fd)
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    finally:
        os.close(fd)


@pytest.mark.parametrize("path", CASES)
def test_resolve_agrees_with_openat2_resolve_in_root(tree, path):
    root, _ = tree
    ours = scope.resolve(root, path)
    try:
        assert ours == kernel_resolution(root, path)
    except FileNotFoundError:  # the kernel needs every component; we keep missing ones
        assert not os.path.exists(ours) and ours.startswith(str(root) + "/")


@pytest.mark.parametrize("path", ["/abs_to_host/f", "climb/f", "/../../../host/f", "dotdot_link/host/f"])
def test_paths_aimed_at_the_host_stay_inside_the_root(tree, path):
    root, host = tree
    resolved = scope.resolve(root, path)
    assert resolved.startswith(str(root) + "/"), resolved
    assert Path(resolved).read_text() == "in root"  # the host's file never shows through


def test_a_symlink_loop_is_eloop_like_the_kernel(tree):
    root, _ = tree
    with pytest.raises(OSError) as ours:
        scope.resolve(root, "loop_a/x")
    with pytest.raises(OSError) as kernels:
        kernel_resolution(root, "loop_a/x")
    assert ours.value.errno == kernels.value.errno == errno.ELOOP


def test_missing_components_are_kept_for_creation(tree):
    root, _ = tree
    made = scope.makedirs(root, "/abs_to_host/new/dir")
    assert made == str(root) + str(tree[1]) + "/new/dir"  # the link's target, taken inside the root
    assert os.path.isdir(made)
    assert not (tree[1] / "new").exists()


def test_clean_clamps_dotdot_at_the_root():
    assert scope.clean("/../../../../tmp/PWNED") == "/tmp/PWNED"
    assert scope.clean("a/../../b/./c/") == "/b/c"
    assert scope.clean("") == "/"


def test_copy_in_follows_links_of_earlier_entries_only_inside_the_root(tmp_path):
    """A tree whose first entry is `sub -> <host>` and whose second is a folder `sub` with a file:
    a plain recursive copy merging into the link would write the file on the host. As Docker's
    layer extraction does, the folder replaces the link."""
    root, host, first, second = (tmp_path / n for n in ("root", "host", "first", "second"))
    for folder in (root, host, first, second / "sub"):
        folder.mkdir(parents=True)
    os.symlink(str(host), first / "sub")
    (second / "sub" / "f").write_text("payload")
    scope.copy_in(root, first, "/dest")
    scope.copy_in(root, second, "/dest")
    assert list(host.iterdir()) == []
    assert (root / "dest" / "sub" / "f").read_text() == "payload"
    assert not (root / "dest" / "sub").is_symlink()


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod(2) of a device node needs CAP_MKNOD")
def test_copy_in_makes_device_and_fifo_nodes_instead_of_reading_them(tmp_path):
    """Seeding a volume from an image that holds a device node must not read the device (a
    copy of a /dev/zero node would never end) or block on a fifo."""
    source, root = tmp_path / "image", tmp_path / "volume"
    source.mkdir(), root.mkdir()
    os.mknod(source / "zero", 0o020666, os.makedev(1, 5))
    os.mkfifo(source / "pipe")
    scope.copy_in(root, source, "/")
    zero, pipe = os.lstat(root / "zero"), os.lstat(root / "pipe")
    assert stat.S_ISCHR(zero.st_mode) and zero.st_rdev == os.makedev(1, 5)
    assert stat.S_ISFIFO(pipe.st_mode)
