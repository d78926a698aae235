"""What a user can stand on in a clone: the claims document inside the project and in agreement
with the titles the reports show, a licence, and README lists that say what the code does."""

from __future__ import annotations

import re
from pathlib import Path

from seatrial.engines.reference.dockerfile import KEYWORDS
from seatrial.harness.claimcatalog import CLAIMS

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_claims_document_lists_the_same_ids_with_the_same_titles_as_the_code():
    text = (ROOT / "docs" / "claims.md").read_text(encoding="utf-8")
    entries = dict(re.findall(r"^- \*\*(C\d\d)\*\* (.+?)\.?$", text, flags=re.MULTILINE))
    assert list(entries) == list(CLAIMS)
    for claim, title in CLAIMS.items():
        assert entries[claim] == title, claim


def test_readme_links_only_inside_the_repository():
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README)
    local = [link for link in links if not re.match(r"[a-z]+:", link)]
    assert "docs/claims.md" in local
    for link in local:
        assert (ROOT / link).resolve().is_relative_to(ROOT), link
        assert (ROOT / link).exists(), link


def test_the_project_has_a_licence_the_readme_names():
    assert "Apache License" in (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert 'license = "Apache-2.0"' in (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert "Apache-2.0" in README


def test_readme_lists_every_instruction_the_reference_builder_accepts():
    listed = README[README.index("builds a Dockerfile subset") :][:300]
    for keyword in KEYWORDS:
        assert keyword in listed, keyword


def test_readme_names_every_expectation_and_every_key_of_a_run_step():
    from seatrial.harness.expectmodel import Expect
    from seatrial.harness.steps.containersteps import RunStepBody
    from seatrial.harness.steps.runoptions import MountSpec

    written = README[README.index("## Writing a scenario") : README.index("## CST and goss files")]
    for model in (Expect, RunStepBody, MountSpec):
        missing = [key for key in model.model_fields if f"`{key}`" not in written and f"`{key}:" not in written]
        assert missing == [], f"{model.__name__}: {missing}"
