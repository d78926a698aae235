"""Turning a step's `expect` into checks: each one says what was expected and what was seen.

A check is data (Check), so the runner, the events log and the reports all show the same
"expected X, got Y" without re-deriving it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from seatrial.engines.base import BuildResult, EngineError, InstructionCache
from seatrial.harness.check import Check, excerpt
from seatrial.harness.expectmodel import (
    CacheExpect,
    Expect,
    FileExpect,
    HostFileExpect,
    ImageSizeExpect,
    TextExpect,
    patterns,
)
from seatrial.harness.itemcontext import ItemContext
from seatrial.harness.pathexpect import path_checks

if TYPE_CHECKING:  # the step kinds use these checks: a runtime import would be a cycle
    from seatrial.harness.steps.stepkind import StepOutcome


def evaluate(
    ctx: ItemContext, step: int, expect: Expect | None, outcome: StepOutcome, *, implicit_success: bool
) -> list[Check]:
    """All checks of one step. With no `expect`, a command step must exit 0 and no step may be
    refused by the engine: a step that silently failed must never look like a pass."""
    checks: list[Check] = []
    add = lambda what, expected, actual, ok: checks.append(Check(step, what, expected, actual, ok))  # noqa: E731
    expects_refusal = bool(expect and expect.fails)
    either = expect.refused_or_exit_code if expect is not None else None
    if either is not None:
        seen = f"refused: {outcome.refused}" if outcome.refused else f"exit code {outcome.exit_code}"
        add(
            "engine refuses or exit code",
            f"refused, or exit code {either}",
            seen,
            bool(outcome.refused) or outcome.exit_code == either,
        )
    elif expect is not None and expect.fails is not None:
        add(
            "engine refuses",
            "refused" if expect.fails else "accepted",
            f"refused: {outcome.refused}" if outcome.refused else "accepted",
            (outcome.refused is not None) == expect.fails,
        )
    elif outcome.refused is not None:
        add("engine accepts the step", "accepted", f"refused: {outcome.refused}", False)
    if expect is None:
        if implicit_success and outcome.refused is None:
            add("exit code", "0", f"{outcome.exit_code}; stderr: {excerpt(outcome.stderr)}", outcome.exit_code == 0)
        return checks
    if expect.exit_code is not None:
        add(
            "exit code",
            str(expect.exit_code),
            f"{outcome.exit_code}; stderr: {excerpt(outcome.stderr)}",
            outcome.exit_code == expect.exit_code,
        )
    if expect.exit_code_not is not None:
        add(
            "exit code differs",
            f"not {expect.exit_code_not}",
            str(outcome.exit_code),
            outcome.exit_code is not None and outcome.exit_code != expect.exit_code_not,
        )
    for stream, text_expect in (("stdout", expect.stdout), ("stderr", expect.stderr), ("output", expect.output)):
        if text_expect is not None:
            text = {"stdout": outcome.stdout, "stderr": outcome.stderr, "output": outcome.stdout + outcome.stderr}[
                stream
            ]
            checks.extend(_text_checks(ctx, step, stream, text_expect, text))
    if expect.cache is not None and not expects_refusal:
        checks.extend(_cache_checks(step, expect.cache, outcome))
    for file_expect in expect.files:
        checks.extend(_file_checks(ctx, step, file_expect))
    for path_expect in expect.paths:
        checks.extend(path_checks(ctx, step, path_expect, outcome))
    for host_expect in expect.host_files:
        checks.extend(_host_file_checks(ctx, step, host_expect))
    if expect.image_size is not None and not expects_refusal:
        checks.extend(_image_size_checks(ctx, step, expect.image_size, outcome))
    if expect.inspect is not None and not expects_refusal:
        from seatrial.harness.inspectcheck import inspect_checks  # it builds Checks: imported late

        checks.extend(inspect_checks(ctx, step, expect.inspect, outcome))
    if expect.image_config is not None and not expects_refusal and outcome.refused is None:
        from seatrial.harness.inspectcheck import image_config_checks

        checks.extend(image_config_checks(ctx, step, expect.image_config, outcome.image_id))
    return checks


def _image_size_checks(ctx: ItemContext, step: int, want: ImageSizeExpect, outcome: StepOutcome) -> list[Check]:
    if outcome.build is None:
        return [Check(step, "image size", "a build result", "no build happened", False)]
    size = outcome.build.size
    checks = []
    if want.min_bytes is not None:
        checks.append(Check(step, "image size", f">= {want.min_bytes} bytes", f"{size} bytes", size >= want.min_bytes))
    if want.max_bytes is not None:
        checks.append(Check(step, "image size", f"<= {want.max_bytes} bytes", f"{size} bytes", size <= want.max_bytes))
    if want.max_ratio is not None:
        captured = ctx.captures.get(want.relative_to or "")
        try:
            reference = int(captured or "")
        except ValueError:
            return [
                *checks,
                Check(
                    step, f"image size relative to '{want.relative_to}'", "a captured image_size", repr(captured), False
                ),
            ]
        limit = reference * want.max_ratio
        checks.append(
            Check(
                step,
                f"image size relative to '{want.relative_to}' ({reference} bytes)",
                f"<= {want.max_ratio:g} x = {limit:.0f} bytes",
                f"{size} bytes ({size / reference:.3f} x)" if reference else f"{size} bytes",
                size <= limit,
            )
        )
    return checks


def _text_checks(ctx: ItemContext, step: int, stream: str, want: TextExpect, text: str) -> list[Check]:
    checks = []

    def add(what, expected, ok):
        checks.append(Check(step, f"{stream} {what}", expected, excerpt(text), ok))

    if want.equals is not None:
        expected = ctx.render(want.equals)
        add("equals", excerpt(expected), text == expected)
    if want.contains is not None:
        expected = ctx.render(want.contains)
        add("contains", excerpt(expected), expected in text)
    if want.not_contains is not None:
        expected = ctx.render(want.not_contains)
        add("does not contain", excerpt(expected), expected not in text)
    for raw in patterns(want.matches):
        pattern = ctx.render(raw)
        add("matches", repr(pattern), re.search(pattern, text, re.MULTILINE) is not None)
    for raw in patterns(want.not_matches):
        pattern = ctx.render(raw)
        add("does not match", repr(pattern), re.search(pattern, text, re.MULTILINE) is None)
    if want.equals_capture is not None:
        captured = ctx.captures.get(want.equals_capture)
        add(f"equals captured '{want.equals_capture}'", excerpt(str(captured)), text.strip() == captured)
    if want.differs_from is not None:
        captured = ctx.captures.get(want.differs_from)
        add(
            f"differs from captured '{want.differs_from}'",
            f"not {excerpt(str(captured))}",
            captured is not None and text.strip() != captured,
        )
    return checks


def _find_instruction(build: BuildResult, key: int | str) -> InstructionCache | None:
    for instr in build.instructions:
        if (isinstance(key, int) and instr.index == key) or (
            isinstance(key, str) and " ".join(instr.instruction.split()).startswith(" ".join(key.split()))
        ):
            return instr
    return None


def _cache_checks(step: int, want: CacheExpect, outcome: StepOutcome) -> list[Check]:
    if outcome.build is None:
        return [Check(step, "cache report", "a build result", "no build happened", False)]
    checks = []
    for expected_hit, keys in ((True, want.hit), (False, want.miss)):
        word = "hit" if expected_hit else "miss"
        for key in keys:
            instr = _find_instruction(outcome.build, key)
            if instr is None:
                listing = "; ".join(f"[{i.index}] {i.instruction}" for i in outcome.build.instructions)
                checks.append(
                    Check(step, f"cache {word} {key!r}", "such an instruction", f"none among: {listing}", False)
                )
                continue
            actual = {True: "hit", False: "miss", None: "not reported"}[instr.is_cache_hit]
            checks.append(
                Check(
                    step,
                    f"cache {word} [{instr.index}] {instr.instruction}",
                    word,
                    actual,
                    instr.is_cache_hit is expected_hit,
                )
            )
    if want.all_hit is not None:
        reported = [i for i in outcome.build.instructions if i.is_cache_hit is not None]
        hits = [i for i in reported if i.is_cache_hit]
        ok = bool(reported) and (len(hits) == len(reported) if want.all_hit else not hits)
        checks.append(
            Check(
                step,
                "every instruction " + ("hit" if want.all_hit else "missed"),
                "all",
                f"{len(hits)} of {len(reported)} hit",
                ok,
            )
        )
    return checks


def _file_checks(ctx: ItemContext, step: int, want: FileExpect) -> list[Check]:
    name = ctx.containers.get(want.container, want.container)
    path = ctx.render(want.path)
    label = f"file {path} in '{want.container}'"
    try:
        host = ctx.engine.testinfra_host(name)
        file = host.file(path)
        exists = file.exists
        content = file.content_string if exists and (want.content is not None or want.contains is not None) else None
    except (EngineError, RuntimeError, AssertionError) as exc:
        return [Check(step, label, "a readable container", f"error: {exc}", False)]
    checks = []
    if want.exists is not None:
        checks.append(Check(step, f"{label} exists", str(want.exists), str(exists), exists == want.exists))
    if want.content is not None:
        expected = ctx.render(want.content)
        checks.append(Check(step, f"{label} content", excerpt(expected), excerpt(str(content)), content == expected))
    if want.contains is not None:
        expected = ctx.render(want.contains)
        checks.append(
            Check(
                step,
                f"{label} contains",
                excerpt(expected),
                excerpt(str(content)),
                content is not None and expected in content,
            )
        )
    return checks


def _host_file_checks(ctx: ItemContext, step: int, want: HostFileExpect) -> list[Check]:
    path = ctx.inside_scratch(ctx.render(want.path))
    checks = []
    if want.exists is not None:
        checks.append(
            Check(step, f"host file {path} exists", str(want.exists), str(path.exists()), path.exists() == want.exists)
        )
    if want.content is not None:
        actual = path.read_text() if path.is_file() else None
        expected = ctx.render(want.content)
        checks.append(
            Check(step, f"host file {path} content", excerpt(expected), excerpt(str(actual)), actual == expected)
        )
    if want.owner_uid is not None or want.owner_uid_not is not None:
        owner = path.lstat().st_uid if path.exists() else None
        if want.owner_uid is not None:
            checks.append(
                Check(step, f"host file {path} owner uid", str(want.owner_uid), str(owner), owner == want.owner_uid)
            )
        if want.owner_uid_not is not None:
            checks.append(
                Check(
                    step,
                    f"host file {path} owner uid",
                    f"not {want.owner_uid_not}",
                    str(owner),
                    owner is not None and owner != want.owner_uid_not,
                )
            )
    return checks


def apply_captures(ctx: ItemContext, captures: Mapping[str, str], outcome: StepOutcome) -> None:
    """Save values for later steps; text is stripped so a trailing newline never decides."""
    for name, source in captures.items():
        value = {
            "stdout": outcome.stdout,
            "stderr": outcome.stderr,
            "exit_code": str(outcome.exit_code),
            "image_id": outcome.image_id,
            "image_size": str(outcome.build.size) if outcome.build else "",
        }[source]
        ctx.captures[name] = value.strip()
