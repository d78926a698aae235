"""CST and goss files read as seatrial scenarios, without engines: the translation keeps CST's and
goss's semantics (Go regex anchors, $VAR expansion, setup as committed RUNs, Go's mode strings),
every problem is placed in the file, and the new expectations fail when they should."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest
import yaml

from seatrial.harness.confighas import ConfigHas, ConfigLacks, has_checks
from seatrial.harness.formats.foreign import load_scenarios
from seatrial.harness.formats.goexpand import expand
from seatrial.harness.formats.goregex import python_pattern
from seatrial.harness.formats.goss import patterns
from seatrial.harness.formats.imagesource import ImageSource
from seatrial.harness.formats.importer import imported
from seatrial.harness.loader import load_scenario
from seatrial.harness.pathexpect import go_mode_string
from seatrial.harness.problem import ScenarioError

FIXTURES = Path(__file__).parents[1] / "fixtures"
IMAGE = ImageSource(image="example/app:1")


def write(tmp_path: Path, text: str, name: str = "tests.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "go, text, found",
    [
        ("^hello$", "hello\n", False),  # Go's $ is the end of the text, not before its last newline
        ("^hello\n$", "hello\n", True),
        ("^b", "a\nb", False),  # Go's ^ is the start of the text
        ("(?m)^b$", "a\nb\nc", True),  # with m, both are line anchors in both languages
        ("[$^]x", "$x", True),  # inside a class they are characters
        ("a\\z", "a", True),
    ],
)
def test_go_regex_keeps_go_anchors_under_multiline_search(go, text, found):
    assert (re.search(python_pattern(go), text, re.MULTILINE) is not None) is found


def test_go_expand_follows_os_expand():
    name = lambda n: f"<{n}>"  # noqa: E731
    assert expand("echo $A ${B}c", name) == ("echo <A> <B>c", ["A", "B"])
    assert expand("x$ y", name) == ("x$ y", [])  # $ before a non-name stays
    assert expand("${}z $1x $$5 ${A", name) == ("z x 5 A", [])  # bad syntax eaten, specials empty


@pytest.mark.parametrize(
    "mode, shown",
    [
        (stat.S_IFREG | 0o644, "-rw-r--r--"),
        (stat.S_IFDIR | 0o755, "drwxr-xr-x"),
        (stat.S_IFREG | stat.S_ISUID | 0o755, "urwxr-xr-x"),
        (stat.S_IFDIR | stat.S_ISVTX | 0o777, "dtrwxrwxrwx"),
        (stat.S_IFLNK | 0o777, "Lrwxrwxrwx"),
        (stat.S_IFCHR | 0o666, "Dcrw-rw-rw-"),
    ],
)
def test_mode_string_is_gos_file_mode_string(mode, shown):
    assert go_mode_string(mode) == shown


def test_cst_fixture_becomes_one_scenario_per_test_placed_at_the_test():
    scenarios = load_scenarios(FIXTURES / "cst" / "image-tests.yaml")
    names = [s.name for s in scenarios]
    assert len(names) == 11 and names[0] == "image-tests/app-greets" and names[-1] == "image-tests/metadata"
    assert scenarios[0].step_place(1).endswith("image-tests.yaml:8")
    assert all(s.steps[0].kind == "build" for s in scenarios)  # the header's Dockerfile


def test_cst_setup_is_a_build_of_exec_form_runs_and_env_is_expanded_from_the_image(tmp_path):
    path = write(
        tmp_path,
        'schemaVersion: "2.0.0"\ncommandTests:\n  - name: t\n    command: sh\n'
        '    args: ["-c", "echo $HOME"]\n    envVars: [{key: A, value: "x y"}]\n'
        '    setup: [["touch", "/f"]]\n    expectedOutput: ["^x$"]\n',
    )
    [scenario] = load_scenarios(path, IMAGE)
    kinds = [s.kind for s in scenario.steps]
    assert kinds == ["build", "run", "run"]
    assert scenario.steps[0].build.dockerfile == 'FROM example/app:1\nENV A="x y"\nRUN ["touch", "/f"]\n'
    assert scenario.steps[1].capture == {"image_env_HOME": "stdout"}
    run = scenario.steps[2]
    assert run.run.image == "setup" and run.run.entrypoint == [] and run.run.env == {"A": "x y"}
    assert run.run.command == ["sh", "-c", "echo {{ image_env_HOME }}"]
    assert run.expect.stdout.matches == ["\\Ax\\Z"]


def test_cst_problems_are_placed_and_all_reported(tmp_path):
    path = write(
        tmp_path,
        'schemaVersion: "2.0.0"\ncommandTests:\n  - name: t\n    command: x\n'
        '    expectedOuput: ["a"]\nmetadataTest:\n  env: []\n',
    )
    with pytest.raises(ScenarioError) as exc:
        load_scenarios(path, IMAGE)
    text = str(exc.value)
    assert f"{path}:5:5: commandTests[0]: unknown key 'expectedOuput'" in text
    assert "(did you mean 'envVars'?)" in text  # metadataTest.env: CST 1.19 says envVars


def test_cst_without_image_and_license_tests_are_refused_with_reasons(tmp_path):
    path = write(tmp_path, 'schemaVersion: "2.0.0"\nlicenseTests: [{debian: true}]\n')
    with pytest.raises(ScenarioError) as exc:
        load_scenarios(path)
    assert "no image to test: give --image TAG" in str(exc.value)
    assert "licenseTests are not run yet" in str(exc.value)


def test_goss_fixture_one_scenario_per_resource_and_unsupported_types_refused(tmp_path):
    scenarios = load_scenarios(FIXTURES / "goss" / "goss.yaml")
    assert len(scenarios) == 11 and scenarios[0].name == "goss/file-etc-app-app-conf"
    path = write(tmp_path, "dns:\n  example.com:\n    resolvable: true\nfile:\n  /x:\n    sha256: abc\n")
    with pytest.raises(ScenarioError) as exc:
        load_scenarios(path, IMAGE)
    assert f"{path}:3:5: dns[\"example.com\"]: goss resource type 'dns' is not supported" in str(exc.value)
    assert "file: attribute sha256 not supported; supported: exists, mode" in str(exc.value)


def test_goss_patterns_are_substrings_regexes_per_line_or_negated():
    found = patterns(["a.b", "/^mode=p/", "!debug"], "x")
    assert found == {"matches": [re.escape("a.b"), "(?m)^mode=p"], "not_matches": ["debug"]}
    assert re.search(found["matches"][1], "listen=1\nmode=prod\n", re.MULTILINE)


def test_config_has_and_lacks_fail_on_what_breaks_them():
    config = {"Env": ["A=1"], "Labels": {"l": "v2"}, "ExposedPorts": {"80/tcp": {}}, "Volumes": {"/d": {}}}
    has = ConfigHas(Env={"A": "^1$", "B": "x"}, Labels={"l": "^v1$"}, ExposedPorts=["80", "81"], Volumes=["/d"])
    lacks = ConfigLacks(Env=["A"], ExposedPorts=["80/tcp"], Volumes=["/e"])
    checks = has_checks(0, "img", has, lacks, config)
    assert [(c.what.removeprefix("img config "), c.ok) for c in checks] == [
        ("Env A", True),
        ("Env B", False),
        ("Labels l", False),
        ("exposes 80", True),
        ("exposes 81", False),
        ("volume /d", True),
        ("Env A", False),
        ("exposes 80/tcp", False),
        ("volume /e", True),
    ]


def test_imported_scenario_is_a_valid_seatrial_scenario(tmp_path):
    for kind, file in (("cst", FIXTURES / "cst" / "image-tests.yaml"), ("goss", FIXTURES / "goss" / "goss.yaml")):
        data = imported(kind, file, ImageSource())
        out = tmp_path / f"{kind}-imported.yaml"
        out.write_text(yaml.safe_dump(data, sort_keys=False))
        scenario = load_scenario(out)
        assert sum(1 for s in scenario.steps if s.build) == 1 + (kind == "cst")  # the image once; one setup build
        assert any("image-tests.yaml:8" in (s.note or "") for s in scenario.steps) or kind == "goss"


def test_validate_checks_cst_files_as_cst_with_places(tmp_path):
    import io

    from seatrial.harness.loader import validate_command

    path = write(tmp_path, 'schemaVersion: "2.0.0"\ncommandTests:\n  - name: x\n    comand: y\n')
    out = io.StringIO()
    assert validate_command([str(path)], out) == 2
    assert f"{path}:4:5: commandTests[0]: unknown key 'comand'" in out.getvalue()
    assert "(did you mean 'command'?)" in out.getvalue()
    assert validate_command([str(FIXTURES / "goss" / "goss.yaml")], io.StringIO()) == 0
