"""Checks across steps: every name a step uses was made by an earlier step.

The schema checks each step alone; these checks follow the steps in order, as the runner will,
so that a misspelt container, tag, network, volume or capture is found when the file is
validated, not halfway through a run on three engines. They read the raw YAML data defensively,
so they still run (and report) when the schema found problems elsewhere in the file. What each
step kind makes, uses and publishes is the kind's own (`StepKind.check_names`, harness/steps/);
here are the placeholders, expectations, captures and divergences that every step shares.
"""

from __future__ import annotations

from typing import Any

from seatrial.harness.hostfacts import HOST_FACTS
from seatrial.harness.problem import KeyPath
from seatrial.harness.steps import STEP_KINDS
from seatrial.harness.steps.namebook import Finding, Made, NameBook
from seatrial.harness.steps.runoptions import ANY_PORT
from seatrial.harness.steps.stepkind import check_step_names
from seatrial.harness.templating import placeholders
from seatrial.harness.words import did_you_mean

# Placeholders that every item has (see ItemContext.lookup); the others name what steps make.
FIXED_PLACEHOLDERS = ("base", "scratch", "empty_dir", "session", "engine", "engine_default_caps", *HOST_FACTS)
_TEXT_EXPECTS = ("stdout", "stderr", "output")
_CAPTURE_USES = ("equals_capture", "differs_from")


def check_references(data: Any, broken_steps: frozenset[int] = frozenset()) -> list[Finding]:
    """(key path, message) for every reference to something no earlier step made.

    `broken_steps` are the steps the schema refused: what they make is not known for sure, so an
    unknown name after one of them is not reported (it is most likely a consequence).
    """
    if not isinstance(data, dict) or not isinstance(data.get("steps"), list):
        return []
    out = walk_steps(data["steps"], broken_steps).out
    _check_divergences(data.get("divergences"), len(data["steps"]), out)
    return out


def walk_steps(steps: list, broken_steps: frozenset[int] = frozenset()) -> NameBook:
    """Follow the raw steps in order as the runner will: the book holds the findings and, per
    step, the names it made and used (`NameBook.links`)."""
    book = NameBook()
    captured_at = _captures(steps)
    for i, step in enumerate(steps):
        if not isinstance(step, dict):
            continue
        at: KeyPath = ("steps", i)
        book.step = i
        is_uncertain = book.is_uncertain = any(b < i for b in broken_steps)
        # Placeholders first: they name what earlier steps made, not what this one makes.
        _check_placeholders(step, i, at, book, captured_at, is_uncertain)
        check_step_names(step, at, book)
        for kind, runner in _kinds_of(step):
            for port in runner.published_ports(step[kind]):
                book.ports.add(port)
                book.note_make("port", port)
        _check_expect(step.get("expect"), i, at + ("expect",), book, captured_at, bool(broken_steps))
        capture = step.get("capture")
        for name in capture if isinstance(capture, dict) else ():
            book.note_make("capture", name)
        for kind, runner in _kinds_of(step):
            for inner_at, inner_step in runner.inner_steps(step[kind]):
                check_step_names(inner_step, at + (kind, *inner_at), book)
    return book


def _kinds_of(step: dict):
    """The registered kinds whose key the raw step holds with a mapping."""
    return [(kind, runner) for kind, runner in STEP_KINDS.items() if isinstance(step.get(kind), dict)]


def _check_placeholders(
    step: dict, i: int, at: KeyPath, book: NameBook, captured_at: dict[str, int], is_uncertain: bool
) -> None:
    """Every `{{ name }}` in the step names something the item will have when the step runs."""
    for path, text in _strings(step, at):
        for name in dict.fromkeys(placeholders(text)):
            _note_placeholder(book, name, captured_at)
            message = _placeholder_problem(name, i, book.made, book.ports, captured_at, is_uncertain)
            if message:
                book.out.append((path, message))


def _note_placeholder(book: NameBook, name: str, captured_at: dict[str, int]) -> None:
    """What a placeholder makes the step depend on: an image, a container (and its port), a capture."""
    kind, _, rest = name.partition(".")
    if kind in ("image", "container") and rest:
        book.note_use(kind, rest)
    elif kind == "port" and rest:
        book.note_use("port", rest)
        book.note_use("container", rest.rpartition(".")[0])
    elif name in captured_at:
        book.note_use("capture", name)


def _placeholder_problem(
    name: str, i: int, made: dict[str, Made], ports: set[str], captured_at: dict[str, int], is_uncertain: bool
) -> str | None:
    shown = f"'{{{{ {name} }}}}'"
    if name in FIXED_PLACEHOLDERS or name.startswith(("free_port.", "host_env.")):
        return None
    kind, _, rest = name.partition(".")
    if kind in ("image", "container") and rest:
        if rest in made[kind].live or is_uncertain:
            return None
        maker = "build step" if kind == "image" else "run step with a name (or stack)"
        close = did_you_mean(rest, made[kind].live)
        return f"{shown}: no earlier {maker} makes {kind} '{rest}'" + (f" (did you mean '{close}'?)" if close else "")
    if kind == "port" and rest:
        container, _, port = rest.rpartition(".")
        if rest in ports or f"{container}.{ANY_PORT}" in ports or is_uncertain:  # ANY_PORT: publish_all
            return None
        close = did_you_mean(rest, ports)
        return f"{shown}: no earlier run step publishes port {port or '?'} of container '{container or rest}'" + (
            f" (did you mean 'port.{close}'?)" if close else ""
        )
    if name in captured_at:
        if captured_at[name] < i:
            return None
        if captured_at[name] == i:
            return f"{shown}: capture '{name}' is defined by this same step; only an earlier step's capture can be used"
        return f"{shown}: capture '{name}' is used before steps[{captured_at[name]}] defines it"
    if is_uncertain:
        return None
    known = [
        *FIXED_PLACEHOLDERS,
        *(f"image.{t}" for t in made["image"].live),
        *(f"container.{c}" for c in made["container"].live),
        *(f"port.{p}" for p in ports),
        *(c for c, at_step in captured_at.items() if at_step < i),
    ]
    close = did_you_mean(name, known)
    return (
        f"unknown placeholder {shown}"
        + (f" (did you mean '{close}'?)" if close else "")
        + "; placeholders name the base image, scratch folders, host facts, what earlier steps made "
        "(image.TAG, container.NAME, port.NAME.PORT), free_port.KEY, host_env.NAME and earlier captures"
    )


def _strings(value: Any, path: KeyPath):
    """Every string inside `value` (mapping keys included), with the key path of the value."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and placeholders(key):
                yield path + (key,), key
            yield from _strings(item, path + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, path + (index,))


def _check_expect(
    expect: Any, i: int, at: KeyPath, book: NameBook, captured_at: dict[str, int], is_uncertain: bool
) -> None:
    if not isinstance(expect, dict):
        return
    out = book.out
    files = found if isinstance(found := expect.get("files"), list) else []
    for j, check in enumerate(files):
        if isinstance(check, dict):
            book.use("container", check.get("container"), at + ("files", j, "container"))
    inspect = found if isinstance(found := expect.get("inspect"), dict) else {}
    book.use("container", inspect.get("container"), at + ("inspect", "container"))
    book.use("image", inspect.get("image"), at + ("inspect", "image"))
    uses: list[tuple[KeyPath, Any]] = []
    for stream in _TEXT_EXPECTS:
        text = found if isinstance(found := expect.get(stream), dict) else {}
        uses += [(at + (stream, use), text.get(use)) for use in _CAPTURE_USES]
    size = found if isinstance(found := expect.get("image_size"), dict) else {}
    uses.append((at + ("image_size", "relative_to"), size.get("relative_to")))
    for path, name in uses:
        book.note_use("capture", name)
        if not isinstance(name, str) or captured_at.get(name, i) < i:
            continue
        if captured_at.get(name) == i:
            message = (
                f"capture '{name}' is defined by this same step; an expectation can use "
                "only what an earlier step captured"
            )
        elif name in captured_at:
            message = f"capture '{name}' is used before steps[{captured_at[name]}] defines it"
        elif is_uncertain:  # a step the schema refused may be the one that captures it
            continue
        else:
            close = did_you_mean(name, captured_at)
            message = f"capture '{name}' is not defined by any step" + (f" (did you mean '{close}'?)" if close else "")
        out.append((path, message))


def _captures(steps: list) -> dict[str, int]:
    """Each capture name and the first step that defines it."""
    found: dict[str, int] = {}
    for i, step in enumerate(steps):
        capture = step.get("capture") if isinstance(step, dict) else None
        for name in capture if isinstance(capture, dict) else ():
            found.setdefault(name, i)
    return found


def _check_divergences(divergences: Any, count: int, out: list[Finding]) -> None:
    for j, divergence in enumerate(divergences if isinstance(divergences, list) else []):
        indexes = divergence.get("steps") if isinstance(divergence, dict) else None
        for k, index in enumerate(indexes if isinstance(indexes, list) else []):
            if isinstance(index, int) and not isinstance(index, bool) and not 0 <= index < count:
                out.append(
                    (
                        ("divergences", j, "steps", k),
                        f"step {index} does not exist; the scenario has {count} steps (0..{count - 1})",
                    )
                )
