""".dockerignore rules, each case's expected result recorded from Docker 20.10's classic builder
on this machine (`COPY . /ctx` of the tree below, then `find /ctx`): what it left out."""

from __future__ import annotations

import pytest

from seatrial.engines.reference.dockerignore import Ignore, IgnoreError, read_patterns

FILES = [
    "a.txt",
    "B.txt",
    "b.md",
    "dir/x.txt",
    "dir/sub/y.txt",
    "dir/sub/z.md",
    "other/dir/x.txt",
    "a+b",
    "aab",
    "[x]",
    "x",
    "keep/me",
    "keep/notme",
    "deep/a/b/c.log",
    "deep/c.log",
    "sp ace",
    "xy",
    "Dockerfile",
    ".dockerignore",
]
FOLDERS = sorted({"/".join(f.split("/")[:i]) for f in FILES for i in range(1, f.count("/") + 1)})

DOCKER_LEFT_OUT = [
    ("*.txt", ["B.txt", "a.txt"]),
    ("**/*.txt", ["B.txt", "a.txt", "dir/sub/y.txt", "dir/x.txt", "other/dir/x.txt"]),
    ("/dir\n!dir/sub/y.txt", ["dir/sub/z.md", "dir/x.txt"]),
    ("./dir/sub", ["dir/sub", "dir/sub/y.txt", "dir/sub/z.md"]),
    ("dir\n!dir/sub\ndir/sub/z.md", ["dir/sub/z.md", "dir/x.txt"]),
    (
        "*\n!keep",
        [
            ".dockerignore",
            "B.txt",
            "Dockerfile",
            "[x]",
            "a+b",
            "a.txt",
            "aab",
            "b.md",
            "deep",
            "deep/a",
            "deep/a/b",
            "deep/a/b/c.log",
            "deep/c.log",
            "dir",
            "dir/sub",
            "dir/sub/y.txt",
            "dir/sub/z.md",
            "dir/x.txt",
            "other",
            "other/dir",
            "other/dir/x.txt",
            "sp ace",
            "x",
            "xy",
        ],
    ),
    ("b.*", ["b.md"]),  # case matters (the Docker SDK's matcher folds it)
    ("a+b", ["aab"]),  # Docker 20.10 passes `+` into its regular expression
    ("[!a]*", ["a+b", "a.txt", "aab"]),  # ... and `[!a]` means "! or a", not "not a"
    ("deep/**/*.log", ["deep/a/b/c.log", "deep/c.log"]),
    ("dir/*/y.txt", ["dir/sub/y.txt"]),
    ("  dir/sub/  ", ["dir/sub", "dir/sub/y.txt", "dir/sub/z.md"]),
    ("# comment\n#dir\nkeep\n!keep/me", ["keep/notme"]),
    ("!keep/me\nkeep", ["keep", "keep/me", "keep/notme"]),  # the last match wins
    ("Dockerfile\n.dockerignore", [".dockerignore", "Dockerfile"]),
    ("dir/sub/../x.txt", ["dir/x.txt"]),
    ("x?", ["xy"]),
    ("\\[x\\]", ["[x]"]),
    ("[x]", ["x"]),
    ("deep/**", ["deep/a", "deep/a/b", "deep/a/b/c.log", "deep/c.log"]),
    ("**/dir", ["dir", "dir/sub", "dir/sub/y.txt", "dir/sub/z.md", "dir/x.txt", "other/dir", "other/dir/x.txt"]),
]


def left_out(ignore: Ignore) -> list[str]:
    """What the build cannot see: excluded files, and folders that are excluded or that are
    matched and keep nothing (an exception keeps a matched folder only as a parent)."""
    kept = [f for f in FILES if not ignore.excludes(f)]
    out = [f for f in FILES if f not in kept]
    for folder in FOLDERS:
        has_kept = any(k.startswith(folder + "/") for k in kept)
        if ignore.excludes(folder, True) or (ignore.matches(folder) and not has_kept):
            out.append(folder)
    return sorted(out)


@pytest.mark.parametrize("text, expected", DOCKER_LEFT_OUT, ids=[t for t, _ in DOCKER_LEFT_OUT])
def test_dockerignore_leaves_out_what_docker_leaves_out(text, expected):
    assert left_out(Ignore(read_patterns(text))) == expected


def test_patterns_are_cleaned_as_docker_reads_them():
    assert read_patterns("\ufeff/a/\n  ./b/../c  \n#x\n #y\n!/d\n\n//e") == ["a", "c", "#y", "!d", "e"]


@pytest.mark.parametrize("text", ["!", "a[b"])
def test_patterns_docker_refuses_are_errors(text):
    with pytest.raises(IgnoreError):
        Ignore(read_patterns(text))


def test_no_patterns_exclude_nothing():
    assert not Ignore([]) and left_out(Ignore([])) == []
