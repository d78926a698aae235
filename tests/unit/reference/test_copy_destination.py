"""Where a COPY lands and what it refuses, without root: symlinks in the image on the destination
path are followed inside the image (as Docker 20.10's classic builder writes through them,
measured 2026-11-30), and several sources need a destination ending in `/`."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from seatrial.engines.reference.buildcontext import BuildError, Source, check_destination
from seatrial.engines.reference.imagefiles import resolve
from seatrial.engines.reference.scope import ScopeError


def layers(tmp_path: Path) -> list[Path]:
    """Two layers: the lower has /real, /target and links to them; the upper links across."""
    lower, upper = tmp_path / "lower", tmp_path / "upper"
    (lower / "real").mkdir(parents=True)
    (lower / "target").write_text("old\n")
    os.symlink("/real", lower / "alias")
    os.symlink("../real", lower / "rel")
    os.symlink("/target", lower / "flink")
    os.symlink("/nowhere/sub", lower / "dangling")
    upper.mkdir()
    os.symlink("alias/deeper", upper / "cross")  # a link in one layer through a link in another
    os.symlink("/../../etc", upper / "escape")
    os.symlink("loop", upper / "loop")
    return [lower, upper]


@pytest.mark.parametrize(
    "path, expected",
    [
        ("/alias/", "/real"),
        ("/alias/a.txt", "/real/a.txt"),
        ("/rel/sub", "/real/sub"),
        ("/flink", "/target"),  # the last component is followed too
        ("/dangling", "/nowhere/sub"),  # even when it leads nowhere yet
        ("/cross/x", "/real/deeper/x"),
        ("/escape/passwd", "/etc/passwd"),  # `..` stops at the image's root, never the host's
        ("/new/dir", "/new/dir"),
    ],
)
def test_destination_follows_the_images_symlinks_in_scope(tmp_path, path, expected):
    assert resolve(layers(tmp_path), path) == expected


def test_a_symlink_loop_is_an_error_not_a_hang(tmp_path):
    with pytest.raises(ScopeError, match="too many symlinks"):
        resolve(layers(tmp_path), "/loop/x")


def test_a_whited_out_link_is_not_followed(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("a whiteout (a 0/0 character device) needs root to make")
    lower, upper = layers(tmp_path)
    os.mknod(upper / "alias", 0o600 | stat.S_IFCHR, 0)
    assert resolve([lower, upper], "/alias/x") == "/alias/x"


@pytest.mark.parametrize(
    "count, dest, refused",
    [(2, "/dest", True), (2, ".", True), (2, "/dest/", False), (1, "/dest", False)],
)
def test_several_sources_need_a_destination_ending_in_a_slash(count, dest, refused):
    matches = [Source(Path(f"/ctx/{i}"), str(i)) for i in range(count)]
    if refused:
        with pytest.raises(BuildError, match="Dockerfile:2: When using COPY with more than one source file"):
            check_destination(matches, dest, "COPY", "Dockerfile:2")
    else:
        check_destination(matches, dest, "COPY", "Dockerfile:2")
