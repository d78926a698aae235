"""Safe YAML reading that remembers where every value came from.

PyYAML's `safe_load` is not safe enough for input we report on: it accepts duplicate keys (the
last one silently wins), expands alias bombs, turns `no` into False and `1:30` into 90, and
forgets line numbers. Here the text is composed into nodes with yaml.SafeLoader and a YAML 1.2
core-like resolver, then turned into plain dicts, lists and scalars by our own walk, which checks
size, depth, duplicate keys and alias expansion, and records the (line, col) of every node. This
module reads files and text (and plain documents in one pass over libyaml's events); the nodes,
their guards and the walk are in harness/yamlnodes.py.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from typing import Any

import yaml

from seatrial.harness.problem import KeyPath, Problem, ScenarioError
from seatrial.harness.yamlnodes import (
    MAX_DEPTH,
    CoreLoader,
    CoreResolver,
    NodeBuilder,
    Position,
    PyCoreLoader,
    check_expansion,
    compose,
    mark_position,
    place_of,
    refusal,
)

MAX_BYTES = 1 << 20
# Below this size a syntax error is worded by PyYAML's parser (at most about 1 s).
REWORD_BYTES = 64 << 10


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
                raise refusal(
                    file, (1, 1), f"not a regular file ({_file_kind(info.st_mode)}); a scenario is a YAML file"
                )
            if info.st_size > MAX_BYTES:
                raise refusal(
                    file, (1, 1), f"file is {info.st_size} bytes; a scenario may be at most {MAX_BYTES} (1 MiB)"
                )
            raw = _read_at_most(fd, MAX_BYTES + 1)  # the file may grow after the stat
        finally:
            os.close(fd)
    except OSError as exc:
        raise ScenarioError([Problem(file, 0, 0, (), exc.strerror or str(exc))]) from None
    if len(raw) > MAX_BYTES:
        raise refusal(file, (1, 1), f"file is over {MAX_BYTES} bytes; a scenario may be at most 1 MiB")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start].decode("utf-8", "replace")
        raise refusal(file, place_of(before, len(before)), "not UTF-8 text") from None
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
        raise refusal(file, (1, 1), "text is over 1 MiB; a scenario may be at most 1 MiB")
    document = _read_plain(text, file)
    if document is not None:
        return document
    try:
        node, has_aliases = compose(text, file, CoreLoader)
    except ScenarioError:
        if len(text) > REWORD_BYTES:
            raise
        # libyaml says what it expected; PyYAML's parser also says what it found: parse again
        # only to word the error (it is slow, hence only for files of ordinary size).
        node, has_aliases = compose(text, file, PyCoreLoader)
    if node is not None and has_aliases:  # without aliases nothing expands
        check_expansion(node, file)
    builder = NodeBuilder(file)
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
    builder, unchecked = NodeBuilder(file), NodeBuilder(file)
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
                            *mark_position(event.start_mark),
                            key_path,
                            f"duplicate key '{key}' (first at line {first}); a key may appear once in a mapping",
                        )
                    )
                    parent[2] = _DUPLICATE
                else:
                    builder.key_positions[key_path] = mark_position(event.start_mark)
                    parent[2] = key
                continue
            path = (
                ()
                if parent is None
                else parent[1] + ((parent[2],) if isinstance(parent[0], dict) else (len(parent[0]),))
            )
            if not discard:
                builder.positions[path] = mark_position(event.start_mark)
            if isinstance(event, yaml.CollectionStartEvent):
                if len(stack) >= MAX_DEPTH:
                    raise refusal(file, mark_position(event.start_mark), f"nested deeper than {MAX_DEPTH} levels")
                stack.append([{} if isinstance(event, yaml.MappingStartEvent) else [], path, None, discard])
                continue
            if not isinstance(event, yaml.ScalarEvent):  # none other is left; the node walk would say why
                raise _NotPlain
            tag = resolver.resolve(yaml.ScalarNode, event.value, event.implicit)
            value = (unchecked if discard else builder).scalar(
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
