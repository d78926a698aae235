"""scenarios/schema.json is current, is valid draft-07, and agrees with the loader on examples."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from seatrial.harness.schema import DRAFT_07, schema_command, schema_document, schema_text
from seatrial.harness.yamlsafe import load_yaml

ROOT = Path(__file__).resolve().parents[2]
CHECKED_IN = ROOT / "scenarios" / "schema.json"
FIXTURES = Path(__file__).parent / "fixtures" / "loader"


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(schema_document())


def test_checked_in_schema_is_current():
    assert CHECKED_IN.read_text(encoding="utf-8") == schema_text(), (
        "scenarios/schema.json is stale: regenerate it with `seatrial schema scenarios/schema.json`"
    )


def test_schema_is_valid_draft07_with_only_draft07_references():
    document = schema_document()
    assert document["$schema"] == DRAFT_07
    jsonschema.Draft7Validator.check_schema(document)
    text = json.dumps(document)
    assert "$defs" not in text
    refs = [part.split('"')[0] for part in text.split('"$ref": "')[1:]]
    assert refs and all(ref.removeprefix("#/definitions/") in document["definitions"] for ref in refs)


def test_valid_scenario_validates_against_the_schema(validator):
    validator.validate(load_yaml(FIXTURES / "valid.yaml").data)


@pytest.mark.parametrize(
    "fixture",
    ["unknown-key.yaml", "bad-enum-value.yaml", "missing-required-key.yaml", "wrong-type.yaml", "two-step-kinds.yaml"],
)
def test_invalid_scenario_does_not_validate(validator, fixture):
    assert list(validator.iter_errors(load_yaml(FIXTURES / fixture).data))


def test_schema_command_writes_the_file_or_prints_it(tmp_path, capsys):
    import io

    out = io.StringIO()
    assert schema_command(str(tmp_path / "schema.json"), out) == 0
    assert (tmp_path / "schema.json").read_text(encoding="utf-8") == schema_text()
    assert out.getvalue() == f"wrote {tmp_path / 'schema.json'}\n"
    printed = io.StringIO()
    assert schema_command(None, printed) == 0
    assert printed.getvalue() == schema_text()
