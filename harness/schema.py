"""The scenario format as JSON Schema draft-07, for editors (`scenarios/schema.json`).

Pydantic emits JSON Schema 2020-12 (`$defs`); yaml-language-server, the engine of the VS Code
YAML extension, validates against draft-07 only. So definitions move to `definitions`, `$ref`s
follow them, and a `$ref` with siblings (ignored beside `$ref` in draft-07) is wrapped in `allOf`.
"""

from __future__ import annotations

import json
import os
from typing import Any, TextIO

from seatrial.harness.model import Scenario
from seatrial.harness.steps import STEP_KINDS

DRAFT_07 = "http://json-schema.org/draft-07/schema#"
DEFAULT_PATH = "scenarios/schema.json"


def schema_document() -> dict:
    """The JSON Schema (draft-07) of a scenario file, generated from the pydantic models."""
    generated = _draft07(Scenario.model_json_schema())
    definitions = generated.pop("definitions", {})
    if "Step" in definitions:
        # The model checks "exactly one kind" in a validator, which pydantic cannot export.
        definitions["Step"]["oneOf"] = [{"required": [kind]} for kind in STEP_KINDS]
    return {"$schema": DRAFT_07, **generated, "definitions": definitions}


def schema_text() -> str:
    """The schema as it is written to disk: stable key order, two-space indent, final newline."""
    return json.dumps(schema_document(), indent=2, ensure_ascii=False) + "\n"


def write_schema(path: str | os.PathLike) -> None:
    """Write the schema to `path`, atomically: an editor never reads half a file."""
    temporary = f"{path}.tmp"
    with open(temporary, "w", encoding="utf-8") as stream:
        stream.write(schema_text())
    os.replace(temporary, path)


def schema_command(out_path: str | None, out: TextIO) -> int:
    """`seatrial schema`: write the schema to `out_path`, or print it to `out` when None; 0."""
    if out_path is None:
        out.write(schema_text())
        return 0
    write_schema(out_path)
    print(f"wrote {out_path}", file=out)
    return 0


def _draft07(node: Any) -> Any:
    if isinstance(node, list):
        return [_draft07(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {("definitions" if key == "$defs" else key): _draft07(value) for key, value in node.items()}
    ref = out.get("$ref")
    if isinstance(ref, str):
        out["$ref"] = ref.replace("#/$defs/", "#/definitions/")
        if len(out) > 1:
            out = {"allOf": [{"$ref": out.pop("$ref")}], **out}
    return out
