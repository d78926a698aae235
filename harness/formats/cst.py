"""A container-structure-test config as seatrial scenarios: one scenario per CST test, so that
each test has its own row per engine in the matrix and the reports.

Each test becomes plain scenario data (the same dicts a YAML scenario holds) that goes through
the scenario model's validation, so a CST test runs exactly as the seatrial scenario that
`seatrial import cst FILE` writes. CST's semantics, as its docker driver has them:

- command tests run `command` + `args` in a new container with the image's entrypoint cleared
  and `envVars` set; `setup` commands run first, each in its own container whose result is
  committed as the image the next one starts from: here a build of `FROM <image>` with the
  variables as ENV and one exec-form RUN per setup command (a RUN is a run and a commit).
  Teardown commands are not run: CST's docker driver skips them (each test has a fresh image).
- expected/excluded output and error are Go regular expressions searched in stdout/stderr
  (goregex.py keeps Go's anchors); the exit code must equal `exitCode` (default 0).
- file tests read the image's files inside a container through a static busybox bound in
  (pathexpect.py); metadata compares the image config (confighas.py for CST's "includes").
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from seatrial.harness.formats.cstmodel import CommandTest, CstConfig, MetadataTest, problem_at
from seatrial.harness.formats.goexpand import capture_name, expand
from seatrial.harness.formats.goregex import python_pattern
from seatrial.harness.formats.imagesource import ImageSource, build_step, image_ref
from seatrial.harness.pathexpect import HOST_TOOL, TOOL
from seatrial.harness.problem import ScenarioError
from seatrial.harness.yamlsafe import YamlDocument

TOOL_MOUNT = {"bind": HOST_TOOL, "target": TOOL, "read_only": True}


def cst_tests(
    config: CstConfig, doc: YamlDocument, source: ImageSource
) -> list[tuple[str, tuple[str | int, ...], dict]]:
    """(test name, key path of the test in the file, scenario data) for each test, in file order."""
    unsupported = [
        (
            "licenseTests",
            "licenseTests are not run yet: CST's license check reads Debian "
            "copyright files against its own list of banned licenses",
        ),
        (
            "containerRunOptions",
            "containerRunOptions are not supported yet; write a seatrial "
            "scenario (seatrial import cst) for runs with options",
        ),
    ]
    problems = [problem_at(doc, (key,), message) for key, message in unsupported if getattr(config, key)]
    if not source.is_given:
        problems.append(
            problem_at(
                doc,
                (),
                "no image to test: give --image TAG or --dockerfile PATH, or a "
                "'# seatrial: dockerfile=PATH' comment line in the file",
            )
        )
    if problems:
        raise ScenarioError(problems)
    run_image, from_image = image_ref(source)
    prefix = [build_step(source)] if source.image is None else []
    tests: list[tuple[str, tuple[str | int, ...], dict]] = []
    for i, test in enumerate(config.commandTests):
        tests.append(
            (
                test.name,
                ("commandTests", i),
                _scenario("command", test.name, prefix + _command_steps(test, config, run_image, from_image)),
            )
        )
    for i, existence in enumerate(config.fileExistenceTests):
        (path,), names = _expanded([existence.path])
        want = {
            "path": path,
            "exists": existence.shouldExist,
            "mode": existence.permissions,
            "uid": existence.uid,
            "gid": existence.gid,
            "executable_by": existence.isExecutableBy,
        }
        tests.append(
            (
                existence.name,
                ("fileExistenceTests", i),
                _scenario(
                    "file existence",
                    existence.name,
                    prefix
                    + _env_captures(names, run_image)
                    + [_inspector(run_image, {"paths": [{k: v for k, v in want.items() if v is not None}]})],
                ),
            )
        )
    for i, content in enumerate(config.fileContentTests):
        want = {
            "path": content.path,
            "exists": True,
            "matches": [python_pattern(p) for p in content.expectedContents],
            "not_matches": [python_pattern(p) for p in content.excludedContents],
        }
        tests.append(
            (
                content.name,
                ("fileContentTests", i),
                _scenario("file content", content.name, prefix + [_inspector(run_image, {"paths": [want]})]),
            )
        )
    if config.metadataTest is not None:
        tests.append(
            (
                "metadata",
                ("metadataTest",),
                _scenario(
                    "metadata",
                    "metadata",
                    prefix
                    + [
                        _inspector(run_image, {"exit_code": 0, "inspect": _metadata(config.metadataTest)}, detach=False)
                    ],
                ),
            )
        )
    return tests


def _scenario(kind: str, name: str, steps: list[dict]) -> dict:
    return {
        "schema_version": 1,
        "summary": f"container-structure-test {kind} test {name!r}",
        "tags": ["cst"],
        "requires": ["exec"] if any("paths" in (s.get("expect") or {}) for s in steps) else [],
        "steps": steps,
    }


def _command_steps(test: CommandTest, config: CstConfig, run_image: str, from_image: str) -> list[dict]:
    env = {v.key: v.value for v in (*config.globalEnvVars, *test.envVars)}
    steps = []
    if test.setup:
        lines = [
            f"FROM {from_image}",
            *(f"ENV {k}={json.dumps(v)}" for k, v in env.items()),
            *(f"RUN {json.dumps(command)}" for command in test.setup),
        ]
        steps.append(
            {
                "build": {"tag": "setup", "dockerfile": "\n".join(lines) + "\n"},
                "note": "CST's setup commands, each run and committed in turn",
            }
        )
        run_image = "setup"
    argv, names = _expanded([test.command, *test.args])
    steps += _env_captures(names, run_image)
    expect: dict = {"exit_code": test.exitCode}
    for stream, wanted, excluded in (
        ("stdout", test.expectedOutput, test.excludedOutput),
        ("stderr", test.expectedError, test.excludedError),
    ):
        text = {k: [python_pattern(p) for p in v] for k, v in (("matches", wanted), ("not_matches", excluded)) if v}
        if text:
            expect[stream] = text
    run: dict[str, Any] = {"image": run_image, "entrypoint": [], "command": argv}
    if env:
        run["env"] = env
    return [*steps, {"run": run, "expect": expect}]


def _expanded(texts: list[str]) -> tuple[list[str], list[str]]:
    """`texts` with the image's variables as placeholders (goexpand.py), and their names."""
    names: list[str] = []
    out = []
    for text in texts:
        done, found = expand(text, lambda name: "{{ %s }}" % capture_name(name))
        out.append(done)
        names += found
    return out, list(dict.fromkeys(names))


def _env_captures(names: list[str], image: str) -> list[dict]:
    """A step per variable that reads its value in the image (without the test's envVars)."""
    return [
        {
            "run": {
                "image": image,
                "entrypoint": [TOOL],
                "command": ["sh", "-c", f'printf %s "${{{name}}}"'],
                "network": "none",
                "mounts": [TOOL_MOUNT],
            },
            "capture": {capture_name(name): "stdout"},
            "note": f"the image's ${name}, which CST substitutes before running",
        }
        for name in names
    ]


def _inspector(image: str, expect: dict, *, detach: bool = True) -> dict:
    """A container of the image with busybox bound in: kept running for file checks (exec),
    or run to its end for the image's config."""
    command = ["sleep", "3600"] if detach else ["true"]
    return {
        "run": {
            "image": image,
            "entrypoint": [TOOL],
            "command": command,
            "user": "0",
            "network": "none",
            "mounts": [TOOL_MOUNT],
            "detach": detach,
        },
        "expect": expect,
    }


def _exact(value: str) -> str:
    return "\\A" + re.escape(value) + "\\Z"


def _metadata(meta: MetadataTest) -> dict:
    whole = {
        "Entrypoint": meta.entrypoint,
        "Cmd": meta.cmd,
        "WorkingDir": meta.workdir or None,
        "User": meta.user or None,
    }
    has = {
        "Env": {v.key: python_pattern(v.value) if v.isRegex else _exact(v.value) for v in meta.envVars},
        "Labels": {v.key: python_pattern(v.value) if v.isRegex else _exact(v.value) for v in meta.labels},
        "ExposedPorts": meta.exposedPorts,
        "Volumes": meta.volumes,
    }
    lacks = {
        "Env": [v.key for v in meta.unboundEnvVars],
        "ExposedPorts": meta.unexposedPorts,
        "Volumes": meta.unmountedVolumes,
    }
    inspect = {
        "config": {k: v for k, v in whole.items() if v is not None},
        "config_has": {k: v for k, v in has.items() if v},
        "config_lacks": {k: v for k, v in lacks.items() if v},
    }
    return {k: v for k, v in inspect.items() if v} or {"config_lacks": {}}


def slug(name: str) -> str:
    """A test name as part of a scenario name: lowercase words joined by '-'."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "test"


def validated(data: dict, name: str, doc: YamlDocument, key_path: tuple):
    """Scenario data through the scenario model; a problem is placed at the CST test it came from."""
    from seatrial.harness.model import Scenario

    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        raise ScenarioError(
            [
                problem_at(
                    doc,
                    key_path,
                    f"cannot be run as a seatrial scenario: {'.'.join(map(str, first['loc']))}: {first['msg']}",
                )
            ]
        ) from None
    scenario = scenario.model_copy(update={"name": name})
    scenario._file = doc.file
    scenario._step_lines = tuple(doc.position(key_path)[0] for _ in scenario.steps)
    return scenario


def cst_scenarios(path: Path, config: CstConfig, doc: YamlDocument, source: ImageSource) -> list:
    """Every test of the config as a validated Scenario named `<file stem>/<test slug>`."""
    scenarios, seen = [], set()
    for test_name, key_path, data in cst_tests(config, doc, source):
        name = f"{path.stem}/{slug(test_name)}"
        while name in seen:
            name += "-again"
        seen.add(name)
        scenarios.append(validated(data, name, doc, key_path))
    return scenarios
