"""Dockerfile parsing and the inputs of build cache keys, without root."""

from __future__ import annotations

import os

import pytest

from seatrial.engines.reference.buildcontext import content_digest as _content_digest
from seatrial.engines.reference.buildcontext import is_ignored as _is_ignored
from seatrial.engines.reference.builder import _sha
from seatrial.engines.reference.dockerfile import DockerfileError, parse
from seatrial.engines.reference.dockerignore import Ignore


def test_stages_instructions_and_continuations():
    args, stages = parse(
        "ARG V=1\n# comment\nFROM base:${V} AS build\nRUN a \\\n    && b\n\n"
        'FROM scratch\nCOPY --from=build /out /out\nCMD ["/out"]\n'
    )
    assert [a.args for a in args] == ["V=1"]
    assert [(s.name, s.base, s.line) for s in stages] == [("build", "base:${V}", 3), (None, "scratch", 7)]
    run = stages[0].instructions[0]
    # a continuation line is appended as it is, its indent kept (Docker 20.10: `CMD echo a \` +
    # `    b` gives Cmd ["/bin/sh", "-c", "echo a     b"])
    assert (run.keyword, run.args, run.line) == ("RUN", "a     && b", 4)
    copy = stages[1].instructions[0]
    assert copy.flag("from") == "build" and copy.text == "COPY --from=build /out /out"
    assert stages[1].instructions[1].exec_form() == ["/out"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("FROM a\nRUNN x\n", "Dockerfile:2: unknown instruction 'RUNN'"),
        ("RUN x\n", "Dockerfile:1: RUN before the first FROM"),
        ("FROM a\nCOPY onlyone\n", "Dockerfile:2: COPY needs a source and a destination"),
        ("FROM a b c d\n", "Dockerfile:1: FROM takes"),
        ("# nothing\n", "no FROM instruction"),
        ("FROM a\nWORKDIR\n", "Dockerfile:2: WORKDIR requires at least one argument"),
    ],
)
def test_bad_dockerfiles_are_reported_with_their_line(text, message):
    with pytest.raises(DockerfileError, match=message):
        parse(text)


def test_copy_inputs_follow_content_and_mode_not_mtime(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "f").write_text("1")
    before = _content_digest(tmp_path / "src", tmp_path, Ignore([]))
    os.utime(tmp_path / "src" / "f", (1, 1))
    assert _content_digest(tmp_path / "src", tmp_path, Ignore([])) == before
    (tmp_path / "src" / "f").write_text("2")
    assert _content_digest(tmp_path / "src", tmp_path, Ignore([])) != before


def test_dockerignored_files_do_not_change_the_inputs(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "f").write_text("1")
    ignore = Ignore(["src/*.log"])
    before = _content_digest(tmp_path / "src", tmp_path, ignore)
    (tmp_path / "src" / "x.log").write_text("noise")
    assert _content_digest(tmp_path / "src", tmp_path, ignore) == before
    (tmp_path / "src" / "x.txt").write_text("signal")
    assert _content_digest(tmp_path / "src", tmp_path, ignore) != before
    assert _is_ignored(tmp_path / "node_modules/a/b", tmp_path, Ignore(["node_modules"]))


def test_cache_key_depends_on_parent_instruction_and_inputs():
    key = _sha("parent", "RUN make", "")
    assert key == _sha("parent", "RUN make", "")
    assert (
        len({key, _sha("other", "RUN make", ""), _sha("parent", "RUN make2", ""), _sha("parent", "RUN make", "args")})
        == 4
    )
