"""Dockerfile words, variables and config instructions; every expected value below was
produced by Docker 20.10's classic builder on this machine (`docker image inspect`)."""

from __future__ import annotations

import pytest

from seatrial.engines.reference.buildconfig import DEFAULT_PATH, apply, with_default_path
from seatrial.engines.reference.dockerfile import DockerfileError, Instruction, parse_instruction
from seatrial.engines.reference.shellwords import ExpansionError, expand, expand_words, name_values, parse_words

VARIABLES = {"A": "x", "X": "hi", "E": ""}


@pytest.mark.parametrize(
    "word, expected",
    [
        ("a\\bc", "abc"),  # an escape outside quotes keeps the next character
        ('"q\\"r\\$A\\n"', 'q"r$A\\n'),  # in double quotes only \" \$ \\ are escapes
        ("'$A\\'", "$A\\"),  # single quotes keep everything
        ("$1", ""),
        ("${A}_$A.x", "x_x.x"),
        ("$", "$"),
        ('"a  b"', "a  b"),
        ("a\\ b", "a b"),
        ("${X:+a$X-b}", "ahi-b"),  # variables inside the word are expanded
        ("${NOPE:-w${X}w}", "whiw"),
        ("${E:-d}", "d"),  # `:` treats empty as unset
        ("${E:+p}", ""),
    ],
)
def test_words_expand_as_docker_expands_them(word, expected):
    assert expand(word, VARIABLES) == expected


@pytest.mark.parametrize(
    "word, message",
    [
        ("${Y-w}", "missing ':' in substitution"),
        ("${Y:?w}", "Y: w"),
        ("${E:?}", "E: is not allowed to be empty"),
        ("${}", "bad substitution"),
        ("'open", "single-quote"),
    ],
)
def test_words_docker_refuses_are_errors(word, message):
    with pytest.raises(ExpansionError, match=message):
        expand(word, VARIABLES)


def test_parsing_keeps_quotes_for_expansion_and_legacy_values_whole():
    assert parse_words("A=\"x y\" B=a\\ b C='q z'") == ['A="x y"', "B=a\\ b", "C='q z'"]
    assert name_values('A  some  "value" $HOME', "ENV") == [("A", 'some  "value" $HOME')]
    with pytest.raises(ValueError, match="can't find = in 'b'"):
        name_values("a=1 b", "ENV")


def config_after(lines: list[str], config: dict | None = None, variables: dict | None = None) -> dict:
    config = config or {}
    for number, line in enumerate(lines, start=1):
        env = dict(e.split("=", 1) for e in config.get("Env") or [])
        config = apply(parse_instruction(line, number), config, {**(variables or {}), **env}, f"Dockerfile:{number}")
    return config


def test_one_env_instruction_sees_the_old_values_of_what_it_sets():
    config = config_after(["ENV A=1", "ENV A=2 B=$A C=${A:-z}"])
    assert config["Env"] == ["A=2", "B=1", "C=1"]


def test_label_expose_user_expand_with_build_args():
    config = config_after(
        ['LABEL "k$P"="v ${U}" x=${G:-none}', "EXPOSE $P ${P}/udp 9000-9001", "USER ${U}:${G:-nogroup}"],
        variables={"P": "8080", "U": "nobody"},
    )
    assert config["Labels"] == {"k8080": "v nobody", "x": "none"}
    assert config["ExposedPorts"] == {"8080/tcp": {}, "8080/udp": {}, "9000/tcp": {}, "9001/tcp": {}}
    assert config["User"] == "nobody:nogroup"


def test_workdir_absolute_is_kept_as_written_and_relative_is_joined_and_cleaned():
    assert config_after(["WORKDIR /a/../b/./c/"])["WorkingDir"] == "/a/../b/./c/"
    assert config_after(["WORKDIR /a/../b/./c/", "WORKDIR d"])["WorkingDir"] == "/b/c/d"


def test_shell_volume_stopsignal_onbuild_set_their_keys():
    config = config_after(
        [
            'SHELL ["/bin/sh", "-xc"]',
            "CMD echo x",
            "ENTRYPOINT echo y",
            "HEALTHCHECK CMD echo z",
            'VOLUME ["/a", "/b"]',
            "VOLUME /c $V",
            "STOPSIGNAL $S",
            "ONBUILD  ENV X=$Y",
            'ONBUILD RUN  ["echo", "a"]',
        ],
        variables={"V": "/v", "S": "SIGUSR1"},
    )
    assert config["Shell"] == ["/bin/sh", "-xc"]
    assert (config["Cmd"], config["Entrypoint"]) == (["/bin/sh", "-xc", "echo x"], ["/bin/sh", "-xc", "echo y"])
    assert config["Healthcheck"] == {"Test": ["CMD-SHELL", "echo z"]}  # SHELL does not apply here
    assert config["Volumes"] == {"/a": {}, "/b": {}, "/c": {}, "/v": {}}
    assert config["StopSignal"] == "SIGUSR1"
    assert config["OnBuild"] == ["ENV X=$Y", 'RUN  ["echo", "a"]']  # kept as written


@pytest.mark.parametrize(
    "word, expected",
    [
        ("$UNSET", []),  # EXPOSE $UNSET exposes nothing
        ("$P", ["80", "443"]),  # what a variable gives is split into words
        ("${P}/udp", ["80", "443/udp"]),  # text after it joins the last word only
        ('"$P"', ["80 443"]),  # quoted: one word
        ('""', []),
        ("a\\ b$P", ["a b80", "443"]),  # an escaped blank never splits
    ],
)
def test_expose_words_split_as_docker_splits_them(word, expected):
    assert expand_words(word, {"P": "80 443"}) == expected


def test_expose_takes_every_port_a_variable_gives_and_none_from_an_unset_one():
    ports = config_after(["EXPOSE $P ${P}/udp $UNSET"], variables={"P": "80 443"})["ExposedPorts"]
    assert ports == {"80/tcp": {}, "443/tcp": {}, "443/udp": {}}  # `${P}/udp`: 80 (tcp) and 443/udp


@pytest.mark.parametrize(
    "line, message",
    [
        ("WORKDIR $UNSET", "WORKDIR \\$UNSET: the path is empty after substitution"),
        ("STOPSIGNAL SIGNOPE", "Invalid signal: SIGNOPE"),
        ("SHELL /bin/sh -c", "SHELL requires the arguments to be in JSON form"),
        ("ENV X=${Y-w}", "Dockerfile:1: failed to process '\\$\\{Y-w\\}': missing ':' in substitution"),
    ],
)
def test_config_instructions_docker_refuses(line, message):
    with pytest.raises(DockerfileError, match=message):
        config_after([line])


def test_the_default_path_is_written_into_the_image_config_when_the_base_has_none():
    assert with_default_path({})["Env"] == [f"PATH={DEFAULT_PATH}"]
    assert with_default_path({"Env": ["PATH=/x", "A=1"]})["Env"] == ["PATH=/x", "A=1"]


def test_instruction_text_keeps_its_flags():
    assert parse_instruction("COPY --chown=1:2 a /b", 3) == Instruction("COPY", "a /b", 3, (("chown", "1:2"),))
