"""Checks across steps: every name a step uses was made by an earlier step.

The schema checks each step alone; these checks follow the steps in order, as the runner will,
so that a misspelt container, tag, network, volume or capture is found when the file is
validated, not halfway through a run on three engines. They read the raw YAML data defensively,
so they still run (and report) when the schema found problems elsewhere in the file.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from seatrial.problem import KeyPath
from seatrial.validation import did_you_mean

BUILTIN_NETWORKS = ("bridge", "host", "none")
_TEXT_EXPECTS = ("stdout", "stderr", "output")
_CAPTURE_USES = ("equals_capture", "differs_from")

Finding = tuple[KeyPath, str]


@dataclass
class _Made:
    """Names made so far, each with the step that made it; removed ones remember who removed them."""

    noun: str
    maker: str
    live: dict[str, int] = field(default_factory=dict)
    removed: dict[str, int] = field(default_factory=dict)
    # After a step the schema refused, a name it made may be missing here: "not made" would be noise.
    is_uncertain: bool = False

    def make(self, name: Any, step: int, path: KeyPath, out: list[Finding]) -> None:
        if not isinstance(name, str):
            return
        if name in self.live and self.noun != "image":  # building a tag again is a rebuild
            out.append((path, f"{self.noun} name '{name}' is already used by steps[{self.live[name]}]"))
        self.live[name] = step
        self.removed.pop(name, None)

    def use(self, name: Any, path: KeyPath, out: list[Finding]) -> None:
        if not isinstance(name, str) or name in self.live:
            return
        if name in self.removed:
            out.append((path, f"{self.noun} '{name}' was removed by steps[{self.removed[name]}]"))
            return
        if self.is_uncertain:
            return
        close = did_you_mean(name, self.live)
        hint = f" (did you mean '{close}'?)" if close else ""
        out.append((path, f"{self.noun} '{name}' is not made by an earlier {self.maker}{hint}"))

    def remove(self, name: Any, step: int, path: KeyPath, out: list[Finding]) -> None:
        self.use(name, path, out)
        if isinstance(name, str) and name in self.live:
            del self.live[name]
            self.removed[name] = step


def check_references(data: Any, broken_steps: frozenset[int] = frozenset()) -> list[Finding]:
    """(key path, message) for every reference to something no earlier step made.

    `broken_steps` are the steps the schema refused: what they make is not known for sure, so an
    unknown name after one of them is not reported (it is most likely a consequence).
    """
    if not isinstance(data, dict) or not isinstance(data.get("steps"), list):
        return []
    steps = data["steps"]
    out: list[Finding] = []
    made = {"container": _Made("container", "run step with a name"),
            "image": _Made("image", "build step"),
            "network": _Made("network", "network step"),
            "volume": _Made("volume", "volume step")}
    captured_at = _captures(steps)
    for i, step in enumerate(steps):
        if not isinstance(step, dict):
            continue
        at: KeyPath = ("steps", i)
        for kind in made.values():
            kind.is_uncertain = any(b < i for b in broken_steps)
        _check_step(step, i, at, made, out)
        _check_expect(step.get("expect"), i, at + ("expect",), made, captured_at, out, bool(broken_steps))
        measure = step.get("measure") if isinstance(step.get("measure"), dict) else {}
        inner = measure.get("steps") if isinstance(measure.get("steps"), list) else []
        for j, inner_step in enumerate(inner):
            # Inner steps repeat each round; what they use must exist, checked like any step.
            if isinstance(inner_step, dict):
                _check_step(inner_step, i, at + ("measure", "steps", j), made, out)
    _check_divergences(data.get("divergences"), len(steps), out)
    return out


def _check_step(step: dict, i: int, at: KeyPath, made: dict[str, _Made], out: list[Finding]) -> None:
    body = lambda kind: step.get(kind) if isinstance(step.get(kind), dict) else {}  # noqa: E731
    made["image"].make(body("build").get("tag"), i, at + ("build", "tag"), out)
    made["image"].use(body("edit").get("tag"), at + ("edit", "tag"), out)
    made["network"].make(body("network").get("name"), i, at + ("network", "name"), out)
    made["volume"].make(body("volume").get("name"), i, at + ("volume", "name"), out)
    run = body("run")
    network = run.get("network")
    if isinstance(network, str) and network not in BUILTIN_NETWORKS and network not in made["network"].live:
        close = did_you_mean(network, [*BUILTIN_NETWORKS, *made["network"].live])
        out.append((at + ("run", "network"),
                    f"'{network}' is not one of 'bridge', 'host', 'none' or a network made by an earlier "
                    f"network step" + (f" (did you mean '{close}'?)" if close else "")))
    for j, mount in enumerate(run.get("mounts") if isinstance(run.get("mounts"), list) else []):
        if isinstance(mount, dict) and "volume" in mount:
            made["volume"].use(mount["volume"], at + ("run", "mounts", j, "volume"), out)
    made["container"].make(run.get("name"), i, at + ("run", "name"), out)
    made["image"].use(body("tag").get("image"), at + ("tag", "image"), out)
    _check_stack(body("stack"), i, at + ("stack",), made, out)
    for kind in ("exec", "stop", "wait"):
        made["container"].use(body(kind).get("container"), at + (kind, "container"), out)
    for kind, name in body("remove").items():
        if kind in made:
            made[kind].remove(name, i, at + ("remove", kind), out)


def _check_stack(stack: dict, i: int, at: KeyPath, made: dict[str, _Made], out: list[Finding]) -> None:
    """A stack's services are containers named STACK.SERVICE, its volumes STACK.VOLUME; `down`
    removes the containers (and the volumes with remove_volumes)."""
    name = stack.get("name")
    if not isinstance(name, str):
        return
    compose = stack.get("compose")
    services = compose.get("services") if isinstance(compose, dict) else None
    if isinstance(services, dict):
        for service in services:
            made["container"].make(f"{name}.{service}", i, at + ("compose", "services", service), out)
        volumes = compose.get("volumes")
        for volume in volumes if isinstance(volumes, dict) else ():
            if f"{name}.{volume}" not in made["volume"].live:  # a second `up` reuses a kept volume
                made["volume"].make(f"{name}.{volume}", i, at + ("compose", "volumes", volume), out)
    elif stack.get("down") is True:
        prefix = f"{name}."
        live = [c for c in made["container"].live if c.startswith(prefix)]
        if not live and not made["container"].is_uncertain:
            out.append((at + ("name",), f"stack '{name}' is not brought up by an earlier stack step"))
        for container in live:
            made["container"].remove(container, i, at + ("name",), out)
        if stack.get("remove_volumes") is True:
            for volume in [v for v in made["volume"].live if v.startswith(prefix)]:
                made["volume"].remove(volume, i, at + ("remove_volumes",), out)


def _check_expect(expect: Any, i: int, at: KeyPath, made: dict[str, _Made],
                  captured_at: dict[str, int], out: list[Finding], is_uncertain: bool) -> None:
    if not isinstance(expect, dict):
        return
    files = expect.get("files") if isinstance(expect.get("files"), list) else []
    for j, check in enumerate(files):
        if isinstance(check, dict):
            made["container"].use(check.get("container"), at + ("files", j, "container"), out)
    uses: list[tuple[KeyPath, Any]] = []
    for stream in _TEXT_EXPECTS:
        text = expect.get(stream) if isinstance(expect.get(stream), dict) else {}
        uses += [(at + (stream, use), text.get(use)) for use in _CAPTURE_USES]
    size = expect.get("image_size") if isinstance(expect.get("image_size"), dict) else {}
    uses.append((at + ("image_size", "relative_to"), size.get("relative_to")))
    for path, name in uses:
        if not isinstance(name, str) or captured_at.get(name, i) < i:
            continue
        if captured_at.get(name) == i:
            message = (f"capture '{name}' is defined by this same step; an expectation can use "
                       "only what an earlier step captured")
        elif name in captured_at:
            message = f"capture '{name}' is used before steps[{captured_at[name]}] defines it"
        elif is_uncertain:  # a step the schema refused may be the one that captures it
            continue
        else:
            close = did_you_mean(name, captured_at)
            message = f"capture '{name}' is not defined by any step" + (
                f" (did you mean '{close}'?)" if close else "")
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
                out.append((("divergences", j, "steps", k),
                            f"step {index} does not exist; the scenario has {count} steps (0..{count - 1})"))
