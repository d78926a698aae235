"""How the reference's parser joins lines, reads parser directives and JSON forms. Every expected
value was produced by Docker 20.10.24's classic builder on this machine (`DOCKER_BUILDKIT=0
docker build`, then `docker image inspect`), 2026-11-30."""

from __future__ import annotations

import pytest

from seatrial.engines.reference.buildconfig import apply, shell_argv
from seatrial.engines.reference.dockerfile import DockerfileError, logical_lines, parse


def config_of(text: str) -> dict:
    """The config the single stage of `text` ends with (config-only instructions)."""
    _, stages = parse(text)
    config: dict = {}
    for instruction in stages[0].instructions:
        env = dict(e.split("=", 1) for e in config.get("Env") or [])
        config = apply(instruction, config, env, f"Dockerfile:{instruction.line}")
    return config


@pytest.mark.parametrize(
    "text, expected",
    [
        ("FROM b\nCMD echo a \\\n    b\n", ["/bin/sh", "-c", "echo a     b"]),  # the indent is kept
        ("FROM b\nCMD echo a \\   \nb\n", ["/bin/sh", "-c", "echo a b"]),  # blanks after `\` go
        ('FROM b\nCMD\t["x"]\n', ["x"]),  # a tab separates the instruction from its arguments
        ('FROM b\nCMD ["a"] junk\n', ["a"]),  # what follows the JSON array is ignored
        ("FROM b\nCMD echo a\\\\\n", ["/bin/sh", "-c", "echo a\\\\"]),  # an escaped `\` continues nothing
        ("FROM b\nCMD echo a \\\n\n  \n    b\n", ["/bin/sh", "-c", "echo a     b"]),  # empty lines dropped
        ("FROM b\nCMD echo a \\\n  # note\n b\n", ["/bin/sh", "-c", "echo a  b"]),  # so are comments
    ],
)
def test_lines_join_as_docker_joins_them(text, expected):
    assert config_of(text)["Cmd"] == expected


def test_a_continued_word_is_one_word():
    assert config_of("FROM b\nENV A=x\\\ny\n")["Env"] == ["A=xy"]


@pytest.mark.parametrize(
    "head, value",
    [
        ("# escape=`\n", "C:\\d"),
        ("#  ESCAPE = `\n", "C:\\d"),  # the name is case-insensitive, blanks allowed
        ("\ufeff# escape=`\n", "C:\\d"),  # after a byte-order mark
        ("# syntax=foo\n# escape=`\n", "C:\\d"),  # syntax is a directive too
        ("# comment\n# escape=`\n", "C:d"),  # after a comment it is a comment
        ("\n# escape=`\n", "C:d"),  # after a blank line too
    ],
)
def test_the_escape_directive_only_at_the_top(head, value):
    assert config_of(head + "FROM b\nENV p=C:\\d\n")["Env"] == [f"p={value}"]


def test_the_backtick_escapes_and_continues():
    text = '# escape=`\nFROM b\nENV a="x`"y" b=c\\d\nCMD echo a `\n  b\n'
    config = config_of(text)
    assert config["Env"] == ['a=x"y', "b=c\\d"]
    assert config["Cmd"] == ["/bin/sh", "-c", "echo a   b"]
    assert logical_lines(text)[0] == "`"


@pytest.mark.parametrize(
    "text, message",
    [
        ("# escape=`\n# escape=`\nFROM b\n", "Dockerfile:2: only one escape parser directive can be used"),
        ("# escape=x\nFROM b\n", "Dockerfile:1: invalid escape token 'x' does not match ` or \\\\"),
        ("FROM b\nCMD [1]\n", "arrays must be comprised of strings only"),
    ],
)
def test_directives_and_arrays_docker_refuses(text, message):
    with pytest.raises(DockerfileError, match=message):
        parse(text)


def test_an_empty_json_array_is_not_the_shell_form():
    config = config_of('FROM b\nENTRYPOINT ["echo"]\nENTRYPOINT []\nCMD []\n')
    assert config["Entrypoint"] == [] and config["Cmd"] == []
    _, stages = parse("FROM b\nRUN []\n")
    assert shell_argv(stages[0].instructions[0], {}) == []


def test_maintainer_is_the_stages_author_as_written():
    assert config_of("FROM b\nMAINTAINER  me  <x@$Y>  \n")["_author"] == "me  <x@$Y>"


def test_line_numbers_are_where_an_instruction_starts():
    _, lines = logical_lines("# c\n\nFROM b\nRUN a \\\n\n b\r\nCMD x")
    assert lines == [(3, "FROM b"), (4, "RUN a  b"), (7, "CMD x")]
