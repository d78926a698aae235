"""The container's user as Docker 20.10 (runc) makes it, measured with `docker run -u` on this
machine: supplementary groups from the image's /etc/group, HOME from its /etc/passwd; and the
command looked up as runc looks it up (127 not found, 126 not executable)."""

from __future__ import annotations

import pytest

from seatrial.engines.reference.containerinit import CommandNotStarted, look_up
from seatrial.engines.reference.identity import Identity, resolve_user, with_home

PASSWD = """root:x:0:0:root:/root:/bin/sh
app:x:1000:1000:app:/home/app:/bin/sh
nohome:x:1001:1001::/nonexistent:/bin/sh
empty:x:1002:1002:::/bin/sh
"""
GROUP = """root:x:0:
wheel:x:10:root,app
app:x:1000:
audio:x:29:app
video:x:44:nohome,app
nohome:x:1001:
"""


@pytest.fixture
def etc(tmp_path):
    (tmp_path / "passwd").write_text(PASSWD)
    (tmp_path / "group").write_text(GROUP)
    return str(tmp_path)


@pytest.mark.parametrize(
    "user, expected",
    [
        ("", Identity(0, 0, (0, 10), "/root")),  # Groups: 0 10, HOME=/root
        ("root", Identity(0, 0, (0, 10), "/root")),
        ("app", Identity(1000, 1000, (10, 29, 44, 1000), "/home/app")),
        ("1000", Identity(1000, 1000, (10, 29, 44, 1000), "/home/app")),
        ("nohome", Identity(1001, 1001, (44, 1001), "/nonexistent")),
        ("empty", Identity(1002, 1002, (1002,), "")),  # an empty home field: HOME=
        ("4242", Identity(4242, 0, (0,), "/")),  # no entry: gid 0, HOME=/
        ("app:audio", Identity(1000, 29, (29,), "/home/app")),  # an explicit group: only that one
        ("1000:44", Identity(1000, 44, (44,), "/home/app")),
        ("app:4242", Identity(1000, 4242, (4242,), "/home/app")),
        ("root:wheel", Identity(0, 10, (10,), "/root")),
    ],
)
def test_user_groups_and_home_are_dockers(etc, user, expected):
    assert resolve_user(user, etc) == expected


def test_an_image_without_passwd_runs_root_with_home_slash(tmp_path):
    assert resolve_user("", str(tmp_path)) == Identity(0, 0, (0,), "/")
    assert resolve_user("5", str(tmp_path)) == Identity(5, 0, (0,), "/")


def test_unknown_names_are_errors_in_dockers_words(etc):
    with pytest.raises(OSError, match="unable to find user nobody: no matching entries in passwd file"):
        resolve_user("nobody", etc)
    with pytest.raises(OSError, match="unable to find group staff: no matching entries in group file"):
        resolve_user("app:staff", etc)


def test_home_is_kept_when_set_and_filled_in_when_unset_or_empty():
    assert with_home(("PATH=/bin",), "/root") == {"PATH": "/bin", "HOME": "/root"}
    assert with_home(("HOME=",), "/root") == {"HOME": "/root"}
    assert with_home(("HOME=/x",), "/root") == {"HOME": "/x"}


def test_commands_are_looked_up_as_runc_does(tmp_path):
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "tool").write_text("#!/bin/sh\n")
    (tmp_path / "bin" / "tool").chmod(0o755)
    (tmp_path / "plain").write_text("data")
    (tmp_path / "plain").chmod(0o644)
    (tmp_path / "first").mkdir()
    (tmp_path / "first" / "tool").write_text("not executable")
    path = f"{tmp_path / 'first'}:{tmp_path / 'bin'}"
    assert look_up("tool", path) == str(tmp_path / "bin" / "tool")  # a non-executable match is skipped
    cases = [
        ("nothere", 127, 'exec: "nothere": executable file not found in $PATH'),
        (
            str(tmp_path / "absent"),
            127,
            f'exec: "{tmp_path}/absent": stat {tmp_path}/absent: no such file or directory',
        ),
        (str(tmp_path / "plain"), 126, f'exec: "{tmp_path}/plain": permission denied'),
        (str(tmp_path / "bin"), 126, f'exec: "{tmp_path}/bin": permission denied'),
    ]
    for command, code, message in cases:
        with pytest.raises(CommandNotStarted) as refused:
            look_up(command, path)
        assert (refused.value.exit_code, str(refused.value)) == (code, message)
