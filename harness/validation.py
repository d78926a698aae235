"""Pydantic validation errors, turned into one clear Problem each, at the place in the file.

Pydantic reports where in the data an error is (`loc`), in its own words, with noise for users
of a YAML file: union members tried one by one, Python reprs, links. Here each error is mapped back
to the YAML node it is about, worded as "what; expected; did you mean", and the union noise is
folded into one message per place.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from seatrial.harness.model import ClaimId, Name, Step
from seatrial.harness.problem import KeyPath, Problem
from seatrial.harness.steps import STEP_KINDS
from seatrial.harness.words import did_you_mean
from seatrial.harness.yamlsafe import YamlDocument

# What each type error expected, in YAML words.
_EXPECTED = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "none_required": "nothing",
}

# YAML 1.1 read these as booleans; here they are strings, and a boolean field says how to write it.
_YAML11_BOOLS = {"yes", "no", "on", "off", "y", "n"}


def problems_from_validation(
    error: ValidationError, doc: YamlDocument, root: type[BaseModel], limit: int | None = None
) -> tuple[list[Problem], int]:
    """One Problem per place that pydantic found wrong, worded for the YAML file's author; with
    `limit`, only for the first `limit` places in the file. Returns them and how many places
    were left unworded (wording costs a did-you-mean each: thousands take seconds)."""
    by_path: dict[KeyPath, list[ErrorDetails]] = {}
    for err in error.errors(include_url=False):
        path = _data_path(err["loc"], doc.data)
        by_path.setdefault(path, []).append(err)
    places = list(by_path.items())
    omitted = 0
    if limit is not None and len(places) > limit:
        places = sorted(places, key=lambda place: doc.key_position(place[0]))
        omitted, places = len(places) - limit, places[:limit]
    problems: list[Problem] = []
    for path, errors in places:
        type_errors = [e for e in errors if e["type"] in _EXPECTED]
        if len(type_errors) > 1:  # a union: each member complained; say what would have done
            expected = _join_or(dict.fromkeys(_EXPECTED[e["type"]] for e in type_errors))
            problems.append(_at(doc, path, f"expected {expected}, got {_describe(type_errors[0]['input'])}"))
            errors = [e for e in errors if e not in type_errors]
        for err in errors:
            problems.append(_explain(err, path, doc, root))
    return list(dict.fromkeys(problems)), omitted


def _explain(err: ErrorDetails, path: KeyPath, doc: YamlDocument, root: type[BaseModel]) -> Problem:
    kind, value = err["type"], err.get("input")
    if kind == "extra_forbidden":
        return _unknown_key(path, doc, root)
    if kind == "missing":
        return _at(doc, path, f"missing required key '{err['loc'][-1]}'")
    if kind in _EXPECTED:
        return _at(doc, path, f"expected {_EXPECTED[kind]}, got {_describe(value)}{_hint(kind, value)}")
    if kind == "literal_error":
        # A mapping's key (image_config's) has no annotation at its path: pydantic lists the choices.
        listed = tuple(re.findall(r"'([^']*)'", str((err.get("ctx") or {}).get("expected", ""))))
        return _at(doc, path, _not_one_of(value, literal_choices(annotation_at(root, path)) or listed))
    if kind == "string_pattern_mismatch":
        return _at(doc, path, _pattern_message(value, err["ctx"]["pattern"]))
    if kind == "value_error":
        return _model_rule(str(err["ctx"]["error"]), path, doc, root)
    if kind in ("too_short", "too_long"):
        bound, limit = (
            ("at least", err["ctx"]["min_length"]) if kind == "too_short" else ("at most", err["ctx"]["max_length"])
        )
        items = "item" if limit == 1 else "items"
        return _at(doc, path, f"must have {bound} {limit} {items}, got {err['ctx']['actual_length']}")
    message = err["msg"].replace("Input should be", "must be")
    return _at(doc, path, f"{message}, got {_describe(value)}")


def _unknown_key(path: KeyPath, doc: YamlDocument, root: type[BaseModel]) -> Problem:
    parent, key = path[:-1], str(path[-1])
    model = model_at(root, parent)
    allowed = sorted(model.model_fields) if model else []
    line, col = doc.key_position(path)
    parent_data = _value_at(doc.data, parent)
    if model is Step and not any(k in parent_data for k in STEP_KINDS):
        message = f"unknown step kind '{key}'; a step is one of {', '.join(STEP_KINDS)}{_did_you_mean(key, STEP_KINDS)}"
    else:
        message = f"unknown key '{key}'; allowed: {', '.join(allowed)}{_did_you_mean(key, allowed)}"
    return Problem(doc.file, line, col, parent, message)


def _model_rule(message: str, path: KeyPath, doc: YamlDocument, root: type[BaseModel]) -> Problem:
    """A model validator's message; when it names a field first ("matches: ..."), point there."""
    data = _value_at(doc.data, path)
    if model_at(root, path) is Step and isinstance(data, dict):
        empty = [k for k in STEP_KINDS if k in data and data[k] is None]
        if empty and len([k for k in STEP_KINDS if k in data]) == 1:
            line, col = doc.key_position(path + (empty[0],))
            return Problem(
                doc.file,
                line,
                col,
                path + (empty[0],),
                f"step kind '{empty[0]}' needs a mapping of its keys, got nothing",
            )
    field = re.match(r"^(\w+): (.*)$", message)
    if field and isinstance(data, dict) and field.group(1) in data:
        return _at(doc, path + (field.group(1),), field.group(2))
    return _at(doc, path, message)


def _not_one_of(value: Any, choices: tuple) -> str:
    if len(choices) == 1:
        return f"must be {_show(choices[0])}, got {_describe(value)}"
    listed = ", ".join(_show(c) for c in choices)
    if not isinstance(value, str):
        return f"expected one of {listed}, got {_describe(value)}"
    return f"{_show(value)} is not one of {listed}{_did_you_mean(value, [str(c) for c in choices])}"


def _pattern_message(value: Any, pattern: str) -> str:
    if pattern == _pattern_of(ClaimId):
        return f"{_show(value)} is not a claim id like C07"
    if pattern == _pattern_of(Name):
        return (
            f"{_show(value)} is not a valid name: lowercase letters, digits, '_', '.', '-', "
            "starting with a letter or digit, at most 63 characters"
        )
    return f"{_show(value)} does not match the pattern {pattern}"


def _pattern_of(annotated: Any) -> str | None:
    for meta in typing.get_args(annotated)[1:]:
        for inner in getattr(meta, "metadata", []):
            if getattr(inner, "pattern", None):
                return inner.pattern
    return None


def _hint(kind: str, value: Any) -> str:
    if kind == "bool_type" and isinstance(value, str) and value.lower() in _YAML11_BOOLS:
        meant = "true" if value.lower() in ("yes", "on", "y") else "false"
        return f" (only true and false are booleans here; write {meant})"
    if kind in ("int_type", "float_type") and isinstance(value, str) and re.match(r"^\d+(:\d+)+$", value):
        return " (sexagesimal numbers are not read here; write the number)"
    return ""


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = did_you_mean(word, choices)
    return f" (did you mean '{close}'?)" if close else ""


# --- walking the data and the models along a path ----------------------------------------------


def _data_path(loc: tuple, data: Any) -> KeyPath:
    """The part of pydantic's loc that indexes the data. The rest is either a union member's tag
    ('int', 'str', a model name) or a key that is missing: neither is a place in the file."""
    path: list[str | int] = []
    for part in loc:
        if (
            isinstance(data, dict)
            and isinstance(part, str)
            and part in data
            or isinstance(data, list)
            and isinstance(part, int)
            and 0 <= part < len(data)
        ):
            data = data[part]
        else:
            continue
        path.append(part)
    return tuple(path)


def _value_at(data: Any, path: KeyPath) -> Any:
    for part in path:
        data = data[part]
    return data


def annotation_at(root: Any, path: KeyPath) -> Any:
    """The type annotation that the value at `path` is validated against, or None."""
    annotation = root
    for part in path:
        annotation = _step_into(annotation, part)
        if annotation is None:
            return None
    return annotation


def model_at(root: Any, path: KeyPath) -> type[BaseModel] | None:
    """The pydantic model that validates the mapping at `path`, or None."""
    return next((m for m in _members(annotation_at(root, path)) if _is_model(m)), None)


def literal_choices(annotation: Any) -> tuple:
    """The allowed values of a Literal annotation (through Optional and Annotated)."""
    return tuple(v for m in _members(annotation) if typing.get_origin(m) is typing.Literal for v in typing.get_args(m))


def _step_into(annotation: Any, part: str | int) -> Any:
    for member in _members(annotation):
        origin = typing.get_origin(member)
        if _is_model(member) and isinstance(part, str) and part in member.model_fields:
            return member.model_fields[part].annotation
        if origin is list and isinstance(part, int):
            return typing.get_args(member)[0]
        if origin is dict and isinstance(part, str):
            return typing.get_args(member)[1]
    return None


def _members(annotation: Any) -> list:
    if annotation is None:
        return []
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _members(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [m for arg in typing.get_args(annotation) for m in _members(arg)]
    return [annotation]


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


# --- words ----------------------------------------------------------------------------------


def _at(doc: YamlDocument, path: KeyPath, message: str) -> Problem:
    line, col = doc.position(path)
    return Problem(doc.file, line, col, path, message)


def _show(value: Any) -> str:
    return f"'{value}'" if isinstance(value, str) else _describe(value)


def _describe(value: Any) -> str:
    """A value as the YAML author wrote it, not as Python prints it."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return f"'{value}'" if len(value) <= 40 else f"'{value[:37]}...'"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _join_or(words: Iterable[str]) -> str:
    words = list(words)
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]
