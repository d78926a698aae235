"""container-structure-test's config format, schemaVersion 2.0.0, as pydantic models.

The keys and defaults are CST's own (pkg/types/v2 in GoogleContainerTools/container-structure-test):
`shouldExist` defaults to true, `uid`/`gid` to "not checked", `exitCode` to 0. Unknown keys are
refused, like every seatrial file, so a misspelt `expectedOuput` is an error and not a test that
checks nothing. `read_cst` reports every problem at once with its line, as the scenario loader does.
"""

from __future__ import annotations

import os
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from seatrial.harness.problem import Problem, ScenarioError
from seatrial.harness.validation import problems_from_validation
from seatrial.harness.yamlsafe import YamlDocument, load_yaml


class _Cst(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EnvVar(_Cst):
    key: str = Field(min_length=1)
    value: str = ""
    isRegex: bool = False


class CommandTest(_Cst):
    name: str = Field(min_length=1)
    command: str = Field(min_length=1)
    args: list[str] = Field(default_factory=list)
    setup: list[list[str]] = Field(default_factory=list)
    teardown: list[list[str]] = Field(default_factory=list)
    envVars: list[EnvVar] = Field(default_factory=list)
    exitCode: int = 0
    expectedOutput: list[str] = Field(default_factory=list)
    excludedOutput: list[str] = Field(default_factory=list)
    expectedError: list[str] = Field(default_factory=list)
    excludedError: list[str] = Field(default_factory=list)

    @field_validator("setup", "teardown")
    @classmethod
    def _no_empty_command(cls, commands: list[list[str]]) -> list[list[str]]:
        if any(not command for command in commands):
            raise ValueError("remove the empty command (CST refuses it too)")
        return commands


class FileExistenceTest(_Cst):
    name: str = Field(min_length=1)
    path: str = Field(min_length=1)
    shouldExist: bool = True
    permissions: str | None = None
    uid: int | None = None
    gid: int | None = None
    isExecutableBy: Literal["any", "owner", "group", "other"] | None = None


class FileContentTest(_Cst):
    name: str = Field(min_length=1)
    path: str = Field(min_length=1)
    expectedContents: list[str] = Field(default_factory=list)
    excludedContents: list[str] = Field(default_factory=list)


class MetadataTest(_Cst):
    envVars: list[EnvVar] = Field(default_factory=list)  # `env` in old docs; CST 1.19 refuses it
    labels: list[EnvVar] = Field(default_factory=list)
    exposedPorts: list[str] = Field(default_factory=list)
    unexposedPorts: list[str] = Field(default_factory=list)
    unboundEnvVars: list[EnvVar] = Field(default_factory=list)
    volumes: list[str] = Field(default_factory=list)
    unmountedVolumes: list[str] = Field(default_factory=list)
    entrypoint: list[str] | None = None
    cmd: list[str] | None = None
    workdir: str = ""
    user: str = ""


class CstConfig(_Cst):
    """A whole config file. licenseTests and containerRunOptions are read and refused by the
    translation with a reason (README: CST files), not silently dropped."""

    schemaVersion: Literal["2.0.0"]
    globalEnvVars: list[EnvVar] = Field(default_factory=list)
    commandTests: list[CommandTest] = Field(default_factory=list)
    fileExistenceTests: list[FileExistenceTest] = Field(default_factory=list)
    fileContentTests: list[FileContentTest] = Field(default_factory=list)
    metadataTest: MetadataTest | None = None
    licenseTests: list[dict] = Field(default_factory=list)
    containerRunOptions: dict | None = None


def is_cst(data) -> bool:
    """Whether parsed YAML is a CST config rather than a seatrial scenario: CST files say
    `schemaVersion`, scenarios `schema_version`."""
    return isinstance(data, dict) and "schemaVersion" in data


def read_cst(path: str | os.PathLike, doc: YamlDocument | None = None) -> tuple[CstConfig, YamlDocument]:
    """The config in `path` and its document (for the place of each test); raise ScenarioError
    with every problem in the file."""
    doc = doc or load_yaml(path)
    try:
        # lax: YAML 1.1 files written for CST quote versions; "2.0.0" must stay a string either way.
        return CstConfig.model_validate(doc.data), doc
    except ValidationError as exc:
        problems, _ = problems_from_validation(exc, doc, CstConfig)
        raise ScenarioError(problems) from None


def problem_at(doc: YamlDocument, key_path: tuple, message: str) -> Problem:
    """A problem placed at a key of the CST file."""
    return Problem(doc.file, *doc.position(key_path), key_path, message)
