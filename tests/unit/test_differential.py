"""Differential testing without engines: file trees from docker-archives, the comparison and its
verdicts, the corpus format and its recordings."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from seatrial.harness.differential import recordings
from seatrial.harness.differential.corpuscase import Case, load_cases
from seatrial.harness.differential.divergence import agreement_table, differences, judge, table_markdown
from seatrial.harness.differential.imagetree import delta, read_archive
from seatrial.harness.differential.observation import normal_config
from seatrial.harness.problem import ScenarioError

CORPUS = Path(__file__).resolve().parents[1] / "corpus"


def _layer(members: list[tuple[str, str, bytes | str]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, kind, data in members:
            info = tarfile.TarInfo(name)
            if kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            elif kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, data
                tar.addfile(info)
            elif kind == "hardlink":
                info.type, info.linkname = tarfile.LNKTYPE, data
                tar.addfile(info)
            else:
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _archive(tmp_path: Path, layers: list[bytes]) -> Path:
    path = tmp_path / "image.tar"
    names = [f"{i}/layer.tar" for i in range(len(layers))]
    with tarfile.open(path, "w") as tar:
        for name, data in [*zip(names, layers), ("manifest.json", json.dumps([{"Layers": names}]).encode())]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_image_tree_applies_whiteouts_and_opaque_folders(tmp_path):
    lower = _layer(
        [
            ("etc", "dir", b""),
            ("etc/group", "file", b"g\n"),
            ("d", "dir", b""),
            ("d/old", "file", b"old"),
            ("d/sub", "dir", b""),
            ("d/sub/x", "file", b"x"),
        ]
    )
    upper = _layer([("etc/.wh.group", "file", b""), ("d/.wh..wh..opq", "file", b""), ("d/new", "file", b"new")])
    tree = read_archive(_archive(tmp_path, [lower, upper]))
    assert "etc/group" not in tree and "etc" in tree
    assert sorted(p for p in tree if p.startswith("d/")) == ["d/new"]
    assert tree["d/new"]["sha256"] and tree["d/new"]["size"] == 3 and tree["d/new"]["mode"] == "0644"


def test_image_tree_reads_a_hard_link_as_its_file_and_keeps_symlink_targets(tmp_path):
    layer = _layer([("orig", "file", b"data"), ("hard", "hardlink", "orig"), ("link", "symlink", "orig")])
    tree = read_archive(_archive(tmp_path, [layer]))
    assert tree["hard"]["sha256"] == tree["orig"]["sha256"] and tree["hard"]["type"] == "file"
    assert tree["link"] == {"type": "symlink", "mode": "0644", "uid": 0, "gid": 0, "target": "orig"}


def test_delta_lists_added_changed_and_removed_paths():
    base = {"a": {"type": "file", "sha256": "1"}, "b": {"type": "file", "sha256": "2"}}
    image = {"a": {"type": "file", "sha256": "1"}, "b": {"type": "file", "sha256": "3"}, "c": {"type": "dir"}}
    assert delta(base, image) == {"b": {"type": "file", "sha256": "3"}, "c": {"type": "dir"}}
    assert delta(base, {}) == {"a": None, "b": None}


def test_normal_config_drops_harness_labels_and_empty_values():
    config = {
        "Cmd": ["sh"],
        "Volumes": None,
        "Entrypoint": [],
        "Labels": {"seatrial.session": "x", "a": "1"},
        "Hostname": "ignored",
    }
    assert normal_config(config) == {"Cmd": ["sh"], "Labels": {"a": "1"}}


OK = {
    "build": "ok",
    "config": {"Cmd": ["sh"]},
    "tree": {"a": {"type": "file"}},
    "probe": {"exit_code": 0, "stdout": "hi\n", "stderr": ""},
}


def test_differences_name_each_aspect_side_by_side():
    other = {
        **OK,
        "config": {"Cmd": ["sh"], "User": "nobody"},
        "tree": {},
        "probe": {"exit_code": 1, "stdout": "hi\n", "stderr": "e"},
    }
    found = {d.aspect: (d.left, d.right) for d in differences(OK, other)}
    assert found == {
        "config.User": (None, "nobody"),
        "tree:/a": ({"type": "file"}, "unchanged"),
        "probe.exit_code": (0, 1),
        "probe.stderr": ("", "e"),
    }
    assert [d.aspect for d in differences(OK, {"build": "failed"})] == ["build"]
    assert [d.aspect for d in differences(OK, {**OK, "probe": {"refused": True, "error": "x"}})] == ["probe.refused"]
    assert differences(OK, dict(OK)) == []


def test_verdicts_agree_documented_diverged_and_stale():
    plain = Case("c", "s", "FROM x\n")
    marked = Case("c", "s", "FROM x\n", diverges={"reference": "why"})
    same, other = {"docker@recorded": OK, "reference": OK}, {"docker@recorded": OK, "reference": {"build": "failed"}}
    assert judge(plain, "docker@recorded", "reference", same).verdict == "agree"
    assert judge(plain, "docker@recorded", "reference", other).verdict == "diverged"
    assert judge(marked, "docker@recorded", "reference", other).verdict == "documented"
    assert judge(marked, "docker@recorded", "reference", same).verdict == "stale"
    table = agreement_table(
        [judge(plain, "docker@recorded", "reference", other), judge(marked, "docker@recorded", "reference", same)]
    )
    assert table == [
        {
            "left": "docker@recorded",
            "right": "reference",
            "cases": 2,
            "agree": 1,
            "documented": 0,
            "diverged": 1,
            "stale": 1,
        }
    ]
    assert "| docker@recorded vs reference | 2 | 1 | 0 | 1 |" in table_markdown(table)


def test_corpus_errors_name_file_line_and_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "cases:\n  - name: a\n    dockerfile: FROM x\n    probe: {comand: [ls]}\n"
        "  - name: a\n    dockerfile: FROM x\n  - name: b\n    dockerflie: FROM x\n"
    )
    with pytest.raises(ScenarioError) as caught:
        load_cases([bad])
    text = str(caught.value)
    assert f"{bad}:4:13: cases[0].probe.comand: unknown key 'comand'" in text
    assert "cases[1].name: case 'a' is also at" in text
    assert "cases[2]: missing key 'dockerfile'" in text and "cases[2].dockerflie: unknown key" in text


def test_case_context_has_modes_symlinks_and_the_base_filled_in(tmp_path):
    case = Case(
        "c",
        "s",
        "FROM {{ base }}\n",
        files={"run.sh": {"content": "x", "mode": "0750"}, "link": {"symlink": "run.sh"}, "d": {"dir": True}},
    )
    case.write_context(tmp_path, "seatrial/base:abc")
    assert (tmp_path / "Dockerfile").read_text() == "FROM seatrial/base:abc\n"
    assert (tmp_path / "run.sh").stat().st_mode & 0o7777 == 0o750
    assert (tmp_path / "link").readlink() == Path("run.sh") and (tmp_path / "d").is_dir()


def test_the_corpus_loads_and_every_case_is_recorded_from_docker():
    cases = load_cases([CORPUS])
    assert len(cases) >= 150
    recorded = recordings.read_recorded(cases)
    missing = [
        c.name for c in cases if set(recorded.get(c.name, {})) != {"docker@recorded", "docker-buildkit@recorded"}
    ]
    assert not missing, f"cases without recordings (run the recording command in tests/corpus/README.md): {missing}"
    for case in cases:  # every divergence says why
        assert all(reason.strip() for reason in case.diverges.values()), case.where


def test_recorded_divergences_between_classic_and_buildkit_are_documented():
    cases = load_cases([CORPUS])
    recorded = recordings.read_recorded(cases)
    found = [judge(c, "docker@recorded", "docker-buildkit@recorded", recorded.get(c.name, {})) for c in cases]
    assert not [(r.case, [d.aspect for d in r.differences]) for r in found if r.verdict == "diverged"]


def test_a_fuzz_finding_is_written_as_a_corpus_case_that_loads(tmp_path):
    from seatrial.harness.differential.fuzz import write_case

    case = Case(
        "fuzz",
        "fuzz",
        "FROM {{ base }}\nWORKDIR ../up\n",
        files={"a": {"symlink": "b"}, "b": {"symlink": "b"}, ".dockerignore": "*.log\n"},
    )
    out = tmp_path / "found.yaml"
    write_case(case, ["tree:/up"], 7, out)
    write_case(case, ["tree:/up"], 7, out)
    loaded = load_cases([out])
    assert [c.name for c in loaded] == ["fuzz-7-1", "fuzz-7-2"]
    assert loaded[0].dockerfile == case.dockerfile and loaded[0].files == case.files
    assert "&id" not in out.read_text()  # no YAML anchors: the safe loader would refuse aliases


def test_generated_cases_are_valid_and_the_same_seed_draws_the_same(tmp_path):
    from hypothesis import given, seed, settings

    from seatrial.harness.differential.fuzz import cases

    def draw(n: int) -> list[str]:
        drawn: list[str] = []

        @seed(n)
        @settings(max_examples=15, database=None, deadline=None)
        @given(cases())
        def collect(case):
            drawn.append(case.dockerfile)
            assert case.dockerfile.startswith("FROM {{ base }}\n") and case.name == "fuzz"

        collect()
        return drawn

    assert draw(3) == draw(3)
    assert draw(3) != draw(4)


def test_the_html_report_shows_a_diff_run_side_by_side_and_nothing_without_one(tmp_path):
    from seatrial.reports.html import render_html
    from seatrial.reports.results import load_results

    result = judge(
        Case("c", "s", "FROM x\n"),
        "docker",
        "reference",
        {"docker": OK, "reference": {**OK, "config": {"Cmd": ["sh"], "User": "nobody"}}},
    )
    run = tmp_path / "20261130-000000-diff"
    run.mkdir()
    (run / "diff.json").write_text(
        json.dumps(
            {
                "columns": ["docker", "reference"],
                "table": agreement_table([result]),
                "cases": {"c": {"where": "tests/corpus/s.yaml:3", "summary": "a case"}},
                "results": [result.to_json()],
            }
        )
    )
    page = render_html(load_results([tmp_path]))
    section = page[page.index('id="differential"') :]
    assert "c: UNEXPLAINED divergence" in section and "<code>config.User</code>" in section
    assert "<code>null</code></td><td><code>nobody</code>" in section and "tests/corpus/s.yaml:3" in section
    empty = load_results([tmp_path])
    empty.diffs.clear()
    assert 'id="differential"' not in render_html(empty)


def test_an_engine_rule_documents_what_an_engine_does_on_every_case_and_nothing_more():
    rules = {"podman": [{"aspects": ["tree:/etc/host*"], "reason": "Buildah leaves mount points"}]}
    case = Case("c", "s", "FROM x\n")
    mounts = {**OK, "tree": {**OK["tree"], "etc/hosts": {"type": "file"}}}
    result = judge(case, "docker@recorded", "podman", {"docker@recorded": OK, "podman": mounts}, rules)
    assert (result.verdict, result.reason) == ("documented", "Buildah leaves mount points")
    more = {**mounts, "config": {"Cmd": ["sh"], "Shell": ["/bin/ash", "-c"]}}
    assert (
        judge(case, "docker@recorded", "podman", {"docker@recorded": OK, "podman": more}, rules).verdict == "diverged"
    )
    assert (
        judge(case, "docker@recorded", "reference", {"docker@recorded": OK, "reference": mounts}, rules).verdict
        == "diverged"
    )


def test_engine_stamp_labels_are_not_compared():
    assert normal_config({"Labels": {"io.buildah.version": "1.28.2"}}) == {}
