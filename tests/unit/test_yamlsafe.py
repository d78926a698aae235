"""Safe YAML reading: YAML 1.2 core-like scalars and the place of every key and value."""

from __future__ import annotations

import pytest

from seatrial.harness.problem import ScenarioError
from seatrial.harness.yamlsafe import MAX_BYTES, load_yaml_text


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


@pytest.mark.parametrize(
    "text, expected",
    [
        ("a: &a [*a]\n", "t.yaml:1:4: a[0]: an alias refers to a value that contains it"),
        ("a: !!python/object:os.system x\n", "t.yaml:1:4: a: tag '!!python/object:os.system' is not allowed here"),
        ("a: !!int abc\n", "t.yaml:1:4: a: 'abc' cannot be read as !!int"),
        ("? [a]\n: b\n", "t.yaml:1:3: a key must be a plain value, not a list or mapping"),
    ],
)
def test_unsafe_or_unreadable_values_are_refused_with_their_place(text, expected):
    with pytest.raises(ScenarioError) as caught:
        load_yaml_text(text, "t.yaml")
    assert str(caught.value) == expected


def test_a_large_file_without_aliases_is_not_taken_for_an_alias_bomb():
    # 220,000 values, written out: more than MAX_NODES, none of them added by an alias.
    text = "steps:\n" + "".join(f"  - run: {{i: x{i}, c: [a]}}\n" for i in range(27_500))
    assert len(text) < MAX_BYTES
    assert len(load_yaml_text(text).data["steps"]) == 27_500


def _walked(text: str):
    """The node walk's reading (the path for anchors, aliases and tags), for comparison."""
    from seatrial.harness import yamlnodes

    node, _ = yamlnodes.compose(text, "f", yamlnodes.CoreLoader)
    builder = yamlnodes.NodeBuilder("f")
    data = builder.build(node, (), 0, frozenset()) if node is not None else None
    return data, builder.positions, builder.key_positions, [p.format() for p in builder.problems]


def _one_pass(text: str):
    from seatrial.harness import yamlsafe

    try:
        doc = yamlsafe._read_plain(text, "f")
    except ScenarioError as exc:
        return "problems", [p.format() for p in exc.problems]
    if doc is None:
        return None  # declined: an anchor, alias or tag, left to the node walk
    return doc.data, doc.positions, doc.key_positions, []


PLAIN_CASES = [
    "a: 1\nb: [x, {c: no, d: 0x1f}]\n",
    "a: 1\na: {deep: [1, 2]}\nb: 2\n",  # a duplicate key and its dropped value
    "- 1\n- - 2\n  - {k: v, k2: ~}\n- ''\n",
    "s: \"quoted: 1\"\nt: 'x'\nf: 1.5e3\ni: -7\nbig: " + "9" * 30 + "\n",
    "",
    "just a string\n",
]
ROOT_DIR = __import__("pathlib").Path(__file__).resolve().parents[2]


LIBRARY = {p.stem: p.read_text() for p in sorted((ROOT_DIR / "scenarios").rglob("*.yaml"))}


@pytest.mark.parametrize("text", PLAIN_CASES + list(LIBRARY.values()), ids=lambda t: t[:20])
def test_the_one_pass_reading_equals_the_node_walk_on_plain_yaml(text):
    walked = _walked(text)
    one_pass = _one_pass(text)
    if one_pass is None:
        assert text not in PLAIN_CASES and any(mark in text for mark in ("&", "*", "!"))
        return
    if walked[3]:
        assert one_pass == ("problems", walked[3])
    else:
        assert one_pass == walked
