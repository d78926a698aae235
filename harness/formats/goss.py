"""goss files checked inside a container of the image on every engine, without a goss binary.

As dgoss does: the image runs with its own entrypoint and command (detached), and each resource
is checked inside it. seatrial evaluates the resources itself, one scenario per resource: a small
script run by the static busybox bound into the container prints what it finds (`mode=0644`,
`uid=0`, `running=true`, ...) and the step's expectations match it, so a failure reads "expected
'(?m)^mode=0644$', got 'exists=true\\nmode=0640...'".

Supported (README: goss files): file (exists, mode, owner, group, filetype, contents), command
(exit-status, stdout, stderr, timeout), user (exists, uid, gid, home, shell, groups), group
(exists, gid), process (running), port (listening, ip), mount (exists, source, filesystem, opts),
kernel-param (value), http to the container's own loopback (status, body). Patterns are goss's
plain form: a string is found as a substring, `/re/` is a regular expression, a leading `!`
negates. Not supported: dns (a lookup would leave the host), package, service, addr, interface,
matching, gossfile, goss's gomega-style matchers and templates.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from seatrial.harness.formats.cst import TOOL_MOUNT, slug, validated
from seatrial.harness.formats.cstmodel import problem_at
from seatrial.harness.formats.goregex import python_pattern
from seatrial.harness.formats.gossprobes import PROBES, SUPPORTED, unsupported_reason
from seatrial.harness.formats.imagesource import ImageSource, build_step, image_ref
from seatrial.harness.pathexpect import TOOL
from seatrial.harness.problem import ScenarioError
from seatrial.harness.yamlsafe import YamlDocument

RESOURCE_TYPES = (
    "file",
    "command",
    "user",
    "group",
    "process",
    "port",
    "mount",
    "kernel-param",
    "dns",
    "http",
    "package",
    "service",
    "addr",
    "interface",
    "matching",
    "gossfile",
)
COMMON = ("title", "meta", "skip")


def is_goss(data) -> bool:
    """Whether parsed YAML is a goss file: a mapping whose keys are all goss resource types."""
    return isinstance(data, dict) and bool(data) and all(k in RESOURCE_TYPES for k in data)


def patterns(values, where: str) -> dict[str, list[str]]:
    """goss's plain patterns as `matches` / `not_matches` lists of Python regular expressions."""
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ValueError(f"{where}: a list of strings (goss's matchers are not supported yet)")
    out: dict[str, list[str]] = {"matches": [], "not_matches": []}
    for value in values:
        negated = value.startswith("!")
        body = value[1:] if negated else value
        # goss matches each pattern against the lines of the text: ^ and $ are line anchors.
        regex = (
            python_pattern("(?m)" + body[1:-1])
            if len(body) > 1 and body.startswith("/") and body.endswith("/")
            else re.escape(body)
        )
        out["not_matches" if negated else "matches"].append(regex)
    return {k: v for k, v in out.items() if v}


def _line(key: str, value) -> str:
    text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return f"(?m)^{re.escape(key)}={re.escape(text)}$"


def _resource_steps(kind: str, key: str, spec: dict) -> list[dict]:
    """The exec steps that check one resource in the container `svc`."""
    if kind == "command":
        expect: dict = {"exit_code": spec.get("exit-status", 0)}
        for stream in ("stdout", "stderr"):
            if stream in spec:
                expect[stream] = patterns(spec[stream], f"command.{key}.{stream}")
        return [
            {
                "exec": {
                    "container": "svc",
                    "command": [TOOL, "sh", "-c", key],
                    "timeout": spec.get("timeout", 10000) / 1000,
                },
                "expect": expect,
            }
        ]
    if kind == "http":
        url = urlsplit(key)
        if url.hostname not in ("localhost", "127.0.0.1", "::1"):
            raise ValueError(
                f"http.{key}: only the container's own loopback (localhost) is checked; "
                "seatrial sends no traffic off the host"
            )
    script, attributes = PROBES[kind]
    expect = {"exit_code": 0}
    lines = [_line(name, spec[name]) for name in attributes if name in spec and not isinstance(spec[name], list)]
    for name in attributes:
        if isinstance(spec.get(name), list) and name not in ("body", "contents"):
            lines += [_line(name.rstrip("s") if name != "opts" else "opt", item) for item in spec[name]]
    steps = []
    if lines:
        steps.append(
            {
                "exec": {"container": "svc", "command": [TOOL, "sh", "-c", script, "goss", key]},
                "expect": {**expect, "stdout": {"matches": lines}},
            }
        )
    for name in ("contents", "body"):
        if name in spec and spec[name]:
            argv = [TOOL, "cat", key] if name == "contents" else [TOOL, "wget", "-q", "-O", "-", key]
            steps.append(
                {
                    "exec": {"container": "svc", "command": argv},
                    "expect": {"stdout": patterns(spec[name], f"{kind}.{key}.{name}")},
                }
            )
    return steps


def goss_scenarios(path: Path, doc: YamlDocument, source: ImageSource) -> list:
    """One scenario per resource of the file, named `<file stem>/<type>-<resource>`."""
    if not source.is_given:
        raise ScenarioError(
            [
                problem_at(
                    doc,
                    (),
                    "no image to test: give --image TAG or --dockerfile PATH, "
                    "or a '# seatrial: dockerfile=PATH' comment line",
                )
            ]
        )
    run_image, _ = image_ref(source)
    prefix = [build_step(source)] if source.image is None else []
    service = {
        "run": {"image": run_image, "name": "svc", "detach": True, "mounts": [TOOL_MOUNT]},
        "note": "the image as it runs (its own entrypoint and command), as dgoss starts it",
    }
    ready = {"wait": {"container": "svc", "command": [TOOL, "true"], "timeout": 30}}
    problems, scenarios = [], []
    for kind, resources in doc.data.items():
        for key, spec in (resources or {}).items():
            where = (kind, key)
            spec = spec or {}
            reason = unsupported_reason(kind, spec)
            if reason:
                problems.append(problem_at(doc, where, reason))
                continue
            if spec.get("skip"):
                continue
            try:
                steps = _resource_steps(kind, str(key), spec)
            except ValueError as exc:
                problems.append(problem_at(doc, where, str(exc)))
                continue
            data = {
                "schema_version": 1,
                "summary": f"goss {kind} {key!r}" + (f": {spec['title']}" if "title" in spec else ""),
                "tags": ["goss"],
                "requires": ["exec"],
                "steps": [*prefix, service, ready, *steps],
            }
            scenarios.append(validated(data, f"{path.stem}/{kind}-{slug(str(key))}", doc, where))
    if problems:
        raise ScenarioError(problems)
    return scenarios


__all__ = ["SUPPORTED", "goss_scenarios", "is_goss", "patterns"]
