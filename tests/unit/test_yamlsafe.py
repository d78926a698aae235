"""Safe YAML reading: YAML 1.2 core-like scalars and the place of every key and value."""
from __future__ import annotations

import pytest

from seatrial.problem import ScenarioError
from seatrial.yamlsafe import MAX_BYTES, load_yaml_text


def test_only_true_and_false_are_booleans_and_sexagesimal_stays_a_string():
    doc = load_yaml_text("a: [no, yes, on, off, true, False, 1:30, 2024-01-01, 010, 0x10, 1.5, ~, '']\n")
    assert doc.data == {"a": ["no", "yes", "on", "off", True, False, "1:30", "2024-01-01", 10, 16, 1.5, None, ""]}


def test_every_value_and_key_has_its_line_and_column():
    doc = load_yaml_text("steps:\n  - run:\n      network: host\n")
    assert doc.positions[("steps", 0, "run", "network")] == (3, 16)
    assert doc.key_positions[("steps", 0, "run", "network")] == (3, 7)
    assert doc.position(("steps", 0, "run", "missing")) == (3, 7)


def test_small_aliases_are_expanded():
    doc = load_yaml_text("a: &cmd [echo, hi]\nb: *cmd\n")
    assert doc.data == {"a": ["echo", "hi"], "b": ["echo", "hi"]}


@pytest.mark.parametrize("text, expected", [
    ("a: &a [*a]\n", "t.yaml:1:4: a[0]: an alias refers to a value that contains it"),
    ("a: !!python/object:os.system x\n", "t.yaml:1:4: a: tag '!!python/object:os.system' is not allowed here"),
    ("a: !!int abc\n", "t.yaml:1:4: a: 'abc' cannot be read as !!int"),
    ("? [a]\n: b\n", "t.yaml:1:3: a key must be a plain value, not a list or mapping"),
])
def test_unsafe_or_unreadable_values_are_refused_with_their_place(text, expected):
    with pytest.raises(ScenarioError) as caught:
        load_yaml_text(text, "t.yaml")
    assert str(caught.value) == expected


def test_a_large_file_without_aliases_is_not_taken_for_an_alias_bomb():
    # 220,000 values, written out: more than MAX_NODES, none of them added by an alias.
    text = "steps:\n" + "".join(f"  - run: {{i: x{i}, c: [a]}}\n" for i in range(27_500))
    assert len(text) < MAX_BYTES
    assert len(load_yaml_text(text).data["steps"]) == 27_500
