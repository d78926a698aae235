"""YAML nodes into plain data, and the guards on the way: the core resolver, the composer on
libyaml (or PyYAML's parser, for wording), the depth and alias-expansion checks, and the walk that
builds dicts, lists and scalars while recording where each value was written.

harness/yamlsafe.py reads files and text with these; its one-pass reader uses the same scalar
rules (NodeBuilder.scalar), so both paths judge a value alike.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from seatrial.harness.problem import KeyPath, Problem, ScenarioError

MAX_DEPTH = 64
# Values that aliases add to what the text holds (each use counts again): a real scenario adds
# a few hundred, a billion-laughs document billions.
MAX_NODES = 200_000
# Every number in the format fits in 64 bits (counts, ports, uids, sizes); a longer literal is a
# mistake, and converting thousands of digits is slow (Python refuses past 4,300).
MAX_INT_DIGITS = 19

Position = tuple[int, int]

TAG = "tag:yaml.org,2002:"


class CoreResolver(yaml.resolver.BaseResolver):
    """YAML 1.2 core-like implicit types: only true/false are booleans, ints are decimal, 0o or
    0x, and everything else (yes, no, on, 1:30, 2024-01-01) stays a string."""

    yaml_implicit_resolvers: dict = {}


_RESOLVERS = {
    "bool": (r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    "int": (r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    "float": (
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+0123456789.",
    ),
    "null": (r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
}
for _name, (_regexp, _first) in _RESOLVERS.items():
    CoreResolver.add_implicit_resolver(TAG + _name, re.compile(_regexp), list(_first))


class PyCoreLoader(
    yaml.reader.Reader,
    yaml.scanner.Scanner,
    yaml.parser.Parser,
    yaml.composer.Composer,
    yaml.constructor.SafeConstructor,
    CoreResolver,
):
    """A composer of nodes with marks, on PyYAML's own parser: slow, but its syntax errors say
    what was found where (libyaml says only what it expected)."""

    def __init__(self, stream):
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        yaml.constructor.SafeConstructor.__init__(self)
        CoreResolver.__init__(self)


if yaml.__with_libyaml__:
    # yaml.cyaml.CParser is libyaml's parser, yaml._yaml.CParser (cyaml does not re-export it)
    class CoreLoader(yaml._yaml.CParser, yaml.constructor.SafeConstructor, CoreResolver):
        """The same on libyaml's parser: PyYAML's takes most of a minute on 1 MiB of YAML."""

        def __init__(self, stream):
            yaml._yaml.CParser.__init__(self, stream)
            yaml.constructor.SafeConstructor.__init__(self)
            CoreResolver.__init__(self)
else:  # pragma: no cover - PyYAML built without libyaml
    CoreLoader = PyCoreLoader  # type: ignore[misc, assignment]  # one name for either parser's loader


def compose(text: str, file: str, loader_class: type) -> tuple[yaml.Node | None, bool]:
    """The node tree of one document and whether it uses aliases, or ScenarioError for a syntax
    error or too deep nesting."""
    try:
        has_aliases = _check_depth(text, file, loader_class)  # first: the composer recurses per level
        loader = loader_class(text)
        try:
            return loader.get_single_node(), has_aliases
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        raise refusal(file, mark_position(exc.problem_mark or exc.context_mark), _syntax_message(exc)) from None
    except yaml.reader.ReaderError as exc:
        raise refusal(file, place_of(text, exc.position), f"YAML syntax error: {exc.reason}") from None


def _check_depth(text: str, file: str, loader_class: type) -> bool:
    """Refuse nesting deeper than MAX_DEPTH; say whether the text uses aliases."""
    depth, has_aliases = 0, False
    for event in yaml.parse(text, Loader=loader_class):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise refusal(file, mark_position(event.start_mark), f"nested deeper than {MAX_DEPTH} levels")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
        elif isinstance(event, yaml.AliasEvent):
            has_aliases = True
    return has_aliases


def check_expansion(root: yaml.Node, file: str) -> None:
    """Refuse a document whose aliases add more than MAX_NODES values to what is written,
    naming the smallest value whose aliases do so on its own: that is where the bomb is, not
    wherever a walk happens to cross the bound. A large file without aliases adds nothing."""
    sizes: dict[int, int] = {}  # values under a node, aliases expanded
    added: dict[int, int] = {}  # of those, how many its aliases add beyond the text
    # Per node, what each child adds as the node sees it: all of the child's values when the
    # node reaches it through an alias (it was met before), else what the child's aliases add.
    edges: dict[int, list[tuple[str | int, yaml.Node, int]]] = {}

    def size(node: yaml.Node, depth: int) -> int:
        # Too deep or recursive counts as 1 here: the walk refuses both with a better message.
        if id(node) not in sizes and depth <= MAX_DEPTH:
            sizes[id(node)] = 1
            mine, total, extra = [], 1, 0
            for part, child in _children(node):
                is_alias = id(child) in sizes
                child_size = size(child, depth + 1)
                child_extra = child_size if is_alias else added.get(id(child), 0)
                total, extra = total + child_size, extra + child_extra
                mine.append((part, child, child_extra))
            edges[id(node)] = mine
            sizes[id(node)], added[id(node)] = min(_SIZE_CAP, total), min(_SIZE_CAP, extra)
        return sizes.get(id(node), 1)

    size(root, 0)
    if added.get(id(root), 0) <= MAX_NODES:
        return
    path: KeyPath = ()
    node = root
    while big := [(part, child) for part, child, extra in edges.get(id(node), ()) if extra > MAX_NODES]:
        path, node = path + (big[0][0],), big[0][1]
    line, col = mark_position(node.start_mark)
    raise ScenarioError(
        [
            Problem(
                file,
                line,
                col,
                path,
                f"aliases expand this value to more than "
                f"{MAX_NODES} values (an alias bomb?); write the data out instead",
            )
        ]
    )


_SIZE_CAP = 10**15  # keeps the counts of a billion-laughs document small integers


def _children(node: yaml.Node) -> list[tuple[str | int, yaml.Node]]:
    if isinstance(node, yaml.MappingNode):
        return [(str(key.value), child) for key, value in node.value for child in (key, value)]
    if isinstance(node, yaml.SequenceNode):
        return list(enumerate(node.value))
    return []


class NodeBuilder:
    """Walks composed nodes into plain data; one instance per document."""

    def __init__(self, file: str):
        self.file = file
        self.positions: dict[KeyPath, Position] = {}
        self.key_positions: dict[KeyPath, Position] = {}
        self.problems: list[Problem] = []

    def build(self, node: yaml.Node, path: KeyPath, depth: int, stack: frozenset[int]) -> Any:
        if id(node) in stack:
            raise ScenarioError([self._problem(node, path, "an alias refers to a value that contains it")])
        if depth > MAX_DEPTH:  # reachable only through aliases: the text itself was checked
            raise ScenarioError(
                [self._problem(node, path, f"nested deeper than {MAX_DEPTH} levels after expanding aliases")]
            )
        self.positions[path] = mark_position(node.start_mark)
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node, path)
        inner = stack | {id(node)}
        if isinstance(node, yaml.SequenceNode) and node.tag == TAG + "seq":
            return [self.build(item, path + (i,), depth + 1, inner) for i, item in enumerate(node.value)]
        if isinstance(node, yaml.MappingNode) and node.tag == TAG + "map":
            return self._mapping(node, path, depth, inner)
        self.problems.append(self._problem(node, path, f"tag '{_short(node.tag)}' is not allowed here"))
        return None

    def _mapping(self, node: yaml.MappingNode, path: KeyPath, depth: int, stack: frozenset[int]) -> dict:
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self.problems.append(
                    self._problem(key_node, path, "a key must be a plain value, not a list or mapping")
                )
                continue
            # Every key in the scenario format is a string; keeping the text as written means
            # `1: x` and `"1": x` are the same key, which the duplicate check must see.
            key = key_node.value
            if key in out:
                first = self.key_positions[path + (key,)][0]
                self.problems.append(
                    self._problem(
                        key_node,
                        path + (key,),
                        f"duplicate key '{key}' (first at line {first}); a key may appear once in a mapping",
                    )
                )
                continue
            self.key_positions[path + (key,)] = mark_position(key_node.start_mark)
            out[key] = self.build(value_node, path + (key,), depth + 1, stack)
        return out

    def scalar(self, node: yaml.ScalarNode, path: KeyPath) -> Any:
        text, tag = node.value, node.tag.removeprefix(TAG)
        if tag not in _RESOLVERS and tag != "str":
            self.problems.append(self._problem(node, path, f"tag '{_short(node.tag)}' is not allowed here"))
            return text
        if tag == "str":
            return text
        if tag == "null" and re.match(_RESOLVERS["null"][0], text):
            return None
        if tag == "bool" and text.lower() in ("true", "false"):
            return text.lower() == "true"
        if tag == "int" and re.match(_RESOLVERS["int"][0], text):
            digits = text.lstrip("+-")
            digits = digits[2:] if digits[:2] in ("0o", "0x") else digits
            if len(digits.lstrip("0")) > MAX_INT_DIGITS:
                self.problems.append(
                    self._problem(
                        node, path, f"number with {len(digits)} digits; numbers here have at most {MAX_INT_DIGITS}"
                    )
                )
                return None
            value = int(digits, 8 if text.lstrip("+-")[:2] == "0o" else 16 if text.lstrip("+-")[:2] == "0x" else 10)
            return -value if text.startswith("-") else value
        if tag == "float" and re.match(_RESOLVERS["float"][0], text):
            special = (
                text.lower().lstrip("+").replace(".", "")
                if text.lower().lstrip("+-").startswith(".") and text.lower().lstrip("+-")[1:] in ("inf", "nan")
                else None
            )
            return float(special or text)
        self.problems.append(self._problem(node, path, f"'{text}' cannot be read as !!{tag}"))
        return text

    def _problem(self, node: yaml.Node, path: KeyPath, message: str) -> Problem:
        line, col = mark_position(node.start_mark)
        return Problem(self.file, line, col, path, message)


def _short(tag: str) -> str:
    return "!!" + tag.removeprefix(TAG) if tag.startswith(TAG) else tag


def mark_position(mark) -> Position:
    return (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)


def place_of(text: str, offset: int) -> Position:
    before = text[:offset]
    return (before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1)


def _syntax_message(exc: yaml.MarkedYAMLError) -> str:
    message = f"YAML syntax error: {exc.problem or exc.context}"
    if exc.problem and exc.context and exc.context_mark is not None:
        message += f" ({exc.context} at line {exc.context_mark.line + 1})"
    return message


def refusal(file: str, position: Position, message: str) -> ScenarioError:
    return ScenarioError([Problem(file, position[0], position[1], (), message)])
