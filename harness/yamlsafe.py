"""Safe YAML reading that remembers where every value came from.

PyYAML's `safe_load` is not safe enough for input we report on: it accepts duplicate keys (the
last one silently wins), expands alias bombs, turns `no` into False and `1:30` into 90, and
forgets line numbers. Here the text is composed into nodes with yaml.SafeLoader and a YAML 1.2
core-like resolver, then turned into plain dicts, lists and scalars by our own walk, which checks
size, depth, duplicate keys and alias expansion, and records the (line, col) of every node.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from typing import Any

import yaml

from seatrial.harness.problem import KeyPath, Problem, ScenarioError

MAX_BYTES = 1 << 20
MAX_DEPTH = 64
# Values that aliases add to what the text holds (each use counts again): a real scenario adds
# a few hundred, a billion-laughs document billions.
MAX_NODES = 200_000
# Every number in the format fits in 64 bits (counts, ports, uids, sizes); a longer literal is a
# mistake, and converting thousands of digits is slow (Python refuses past 4,300).
MAX_INT_DIGITS = 19

# Below this size a syntax error is worded by PyYAML's parser (at most about 1 s).
REWORD_BYTES = 64 << 10

Position = tuple[int, int]

_TAG = "tag:yaml.org,2002:"


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
    CoreResolver.add_implicit_resolver(_TAG + _name, re.compile(_regexp), list(_first))


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


@dataclass(frozen=True)
class YamlDocument:
    """Plain data from one YAML file, with the place of every value and every mapping key."""

    file: str
    data: Any
    positions: dict[KeyPath, Position] = field(default_factory=dict)
    key_positions: dict[KeyPath, Position] = field(default_factory=dict)

    def position(self, path: KeyPath) -> Position:
        """Where the value at `path` starts; for a path that does not exist (a missing key), the
        place of its nearest existing ancestor."""
        for end in range(len(path), -1, -1):
            if path[:end] in self.positions:
                return self.positions[path[:end]]
        return (1, 1)

    def key_position(self, path: KeyPath) -> Position:
        """Where the key of the mapping entry at `path` is written (the value's place otherwise)."""
        return self.key_positions.get(path) or self.position(path)


def load_yaml(path: str | os.PathLike) -> YamlDocument:
    """Read one YAML file safely; raise ScenarioError listing why it cannot be read.

    Only a regular file is read: a named pipe would block forever and a device never ends, so
    the file is opened without blocking and its type checked on the open descriptor (no race
    with a rename). The size is checked before any parsing; then syntax, depth, alias expansion,
    duplicate keys and the size of numbers.
    """
    file = str(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise _refuse(
                    file, (1, 1), f"not a regular file ({_file_kind(info.st_mode)}); a scenario is a YAML file"
                )
            if info.st_size > MAX_BYTES:
                raise _refuse(
                    file, (1, 1), f"file is {info.st_size} bytes; a scenario may be at most {MAX_BYTES} (1 MiB)"
                )
            raw = _read_at_most(fd, MAX_BYTES + 1)  # the file may grow after the stat
        finally:
            os.close(fd)
    except OSError as exc:
        raise ScenarioError([Problem(file, 0, 0, (), exc.strerror or str(exc))]) from None
    if len(raw) > MAX_BYTES:
        raise _refuse(file, (1, 1), f"file is over {MAX_BYTES} bytes; a scenario may be at most 1 MiB")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start].decode("utf-8", "replace")
        raise _refuse(file, _place_of(before, len(before)), "not UTF-8 text") from None
    return load_yaml_text(text, file)


def _read_at_most(fd: int, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size < limit and (chunk := os.read(fd, limit - size)):
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _file_kind(mode: int) -> str:
    kinds = (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a named pipe"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((name for test, name in kinds if test(mode)), "not a regular file")


def load_yaml_text(text: str, file: str = "<string>") -> YamlDocument:
    """Like load_yaml, for text already in memory (`file` is only used in messages)."""
    if len(text.encode("utf-8")) > MAX_BYTES:
        raise _refuse(file, (1, 1), "text is over 1 MiB; a scenario may be at most 1 MiB")
    document = _read_plain(text, file)
    if document is not None:
        return document
    try:
        node, has_aliases = _compose(text, file, CoreLoader)
    except ScenarioError:
        if len(text) > REWORD_BYTES:
            raise
        # libyaml says what it expected; PyYAML's parser also says what it found: parse again
        # only to word the error (it is slow, hence only for files of ordinary size).
        node, has_aliases = _compose(text, file, PyCoreLoader)
    if node is not None and has_aliases:  # without aliases nothing expands
        _check_expansion(node, file)
    builder = _Builder(file)
    data = builder.build(node, (), 0, frozenset()) if node is not None else None
    if builder.problems:
        raise ScenarioError(builder.problems)
    return YamlDocument(file, data, builder.positions, builder.key_positions)


class _NotPlain(Exception):
    """The text uses something the one-pass reader leaves to the node walk (an anchor or alias,
    an explicit tag, a non-scalar key, a second document) or has a syntax error."""


def _read_plain(text: str, file: str) -> YamlDocument | None:
    """The document in one pass over libyaml's events, or None when the text needs the node
    walk (see _NotPlain), which then reads it again and reports what is wrong.

    Most scenarios are plain data: no anchors, aliases or tags. For those, the events alone give
    every value and its place, so neither a node tree nor an expansion check is needed; on a
    1 MiB file that halves the time to judge it. The rules are the walk's: depth, duplicate keys
    (the second value is neither kept nor checked), the core resolver, the size of numbers.
    """
    builder, unchecked = _Builder(file), _Builder(file)
    resolver = CoreResolver()
    # (container, its path, the mapping key waiting for its value, whether it is a duplicate's value)
    stack: list[list] = []
    root: Any = None
    documents = 0
    try:
        # types-PyYAML lets parse() take PyYAML's own loader classes only
        for event in yaml.parse(text, Loader=CoreLoader):  # type: ignore[arg-type]
            if isinstance(event, (yaml.StreamStartEvent, yaml.StreamEndEvent, yaml.DocumentEndEvent)):
                continue
            if isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise _NotPlain
                continue
            if (
                isinstance(event, yaml.AliasEvent)
                or getattr(event, "anchor", None) is not None
                or getattr(event, "tag", None) not in (None, "!")
            ):
                raise _NotPlain
            if isinstance(event, yaml.CollectionEndEvent):
                container = stack.pop()[0]
                if stack:
                    _place(stack[-1], container)
                else:
                    root = container
                continue
            parent = stack[-1] if stack else None
            discard = bool(parent and (parent[3] or parent[2] is _DUPLICATE))
            if parent and isinstance(parent[0], dict) and parent[2] is None:
                if not isinstance(event, yaml.ScalarEvent):  # only a plain value may be a key here
                    raise _NotPlain
                key, key_path = event.value, parent[1] + (event.value,)
                if parent[3]:
                    parent[2] = key
                elif key in parent[0]:
                    first = builder.key_positions[key_path][0]
                    builder.problems.append(
                        Problem(
                            file,
                            *_mark(event.start_mark),
                            key_path,
                            f"duplicate key '{key}' (first at line {first}); a key may appear once in a mapping",
                        )
                    )
                    parent[2] = _DUPLICATE
                else:
                    builder.key_positions[key_path] = _mark(event.start_mark)
                    parent[2] = key
                continue
            path = (
                ()
                if parent is None
                else parent[1] + ((parent[2],) if isinstance(parent[0], dict) else (len(parent[0]),))
            )
            if not discard:
                builder.positions[path] = _mark(event.start_mark)
            if isinstance(event, yaml.CollectionStartEvent):
                if len(stack) >= MAX_DEPTH:
                    raise _refuse(file, _mark(event.start_mark), f"nested deeper than {MAX_DEPTH} levels")
                stack.append([{} if isinstance(event, yaml.MappingStartEvent) else [], path, None, discard])
                continue
            if not isinstance(event, yaml.ScalarEvent):  # none other is left; the node walk would say why
                raise _NotPlain
            tag = resolver.resolve(yaml.ScalarNode, event.value, event.implicit)
            value = (unchecked if discard else builder)._scalar(
                # libyaml's Mark (yaml._yaml) has the fields of PyYAML's, which the stubs ask for
                yaml.ScalarNode(tag, event.value, event.start_mark),  # type: ignore[arg-type]
                path,
            )
            if parent is None:
                root = value
            else:
                _place(parent, value)
    except (_NotPlain, yaml.YAMLError):
        return None
    if builder.problems:
        raise ScenarioError(builder.problems)
    return YamlDocument(file, root, builder.positions, builder.key_positions)


_DUPLICATE = object()  # the key of a mapping entry whose key came before: its value is dropped


def _place(parent: list, value: Any) -> None:
    container = parent[0]
    if isinstance(container, dict):
        if parent[2] is not _DUPLICATE and not parent[3]:
            container[parent[2]] = value
        parent[2] = None
    else:
        container.append(value)


def _compose(text: str, file: str, loader_class: type) -> tuple[yaml.Node | None, bool]:
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
        raise _refuse(file, _mark(exc.problem_mark or exc.context_mark), _syntax_message(exc)) from None
    except yaml.reader.ReaderError as exc:
        raise _refuse(file, _place_of(text, exc.position), f"YAML syntax error: {exc.reason}") from None


def _check_depth(text: str, file: str, loader_class: type) -> bool:
    """Refuse nesting deeper than MAX_DEPTH; say whether the text uses aliases."""
    depth, has_aliases = 0, False
    for event in yaml.parse(text, Loader=loader_class):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise _refuse(file, _mark(event.start_mark), f"nested deeper than {MAX_DEPTH} levels")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
        elif isinstance(event, yaml.AliasEvent):
            has_aliases = True
    return has_aliases


def _check_expansion(root: yaml.Node, file: str) -> None:
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
    node = root
    path: tuple[str | int, ...] = ()
    while big := [(part, child) for part, child, extra in edges.get(id(node), ()) if extra > MAX_NODES]:
        path, node = path + (big[0][0],), big[0][1]
    line, col = _mark(node.start_mark)
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


class _Builder:
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
        self.positions[path] = _mark(node.start_mark)
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node, path)
        inner = stack | {id(node)}
        if isinstance(node, yaml.SequenceNode) and node.tag == _TAG + "seq":
            return [self.build(item, path + (i,), depth + 1, inner) for i, item in enumerate(node.value)]
        if isinstance(node, yaml.MappingNode) and node.tag == _TAG + "map":
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
            self.key_positions[path + (key,)] = _mark(key_node.start_mark)
            out[key] = self.build(value_node, path + (key,), depth + 1, stack)
        return out

    def _scalar(self, node: yaml.ScalarNode, path: KeyPath) -> Any:
        text, tag = node.value, node.tag.removeprefix(_TAG)
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
        line, col = _mark(node.start_mark)
        return Problem(self.file, line, col, path, message)


def _short(tag: str) -> str:
    return "!!" + tag.removeprefix(_TAG) if tag.startswith(_TAG) else tag


def _mark(mark) -> Position:
    return (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)


def _place_of(text: str, offset: int) -> Position:
    before = text[:offset]
    return (before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1)


def _syntax_message(exc: yaml.MarkedYAMLError) -> str:
    message = f"YAML syntax error: {exc.problem or exc.context}"
    if exc.problem and exc.context and exc.context_mark is not None:
        message += f" ({exc.context} at line {exc.context_mark.line + 1})"
    return message


def _refuse(file: str, position: Position, message: str) -> ScenarioError:
    return ScenarioError([Problem(file, position[0], position[1], (), message)])
