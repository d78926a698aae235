"""Checks across steps: every name a step uses was made by an earlier step.

The schema checks each step alone; these checks follow the steps in order, as the runner will,
so that a misspelt container, tag, network, volume or capture is found when the file is
validated, not halfway through a run on three engines. They read the raw YAML data defensively,
so they still run (and report) when the schema found problems elsewhere in the file.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from seatrial.harness.hostfacts import HOST_FACTS
from seatrial.harness.problem import KeyPath
from seatrial.harness.templating import placeholders
from seatrial.harness.validation import did_you_mean

BUILTIN_NETWORKS = ("bridge", "host", "none")
# Placeholders that every item has (see ItemContext.lookup); the others name what steps make.
FIXED_PLACEHOLDERS = ("base", "scratch", "empty_dir", "session", "engine", "engine_default_caps", *HOST_FACTS)
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

    def use(self, name: Any, path: KeyPath, out: list[Finding], hint: str = "") -> None:
        if not isinstance(name, str) or name in self.live:
            return
        if name in self.removed:
            out.append((path, f"{self.noun} '{name}' was removed by steps[{self.removed[name]}]"))
            return
        if self.is_uncertain:
            return
        close = did_you_mean(name, self.live)
        suggestion = f" (did you mean '{close}'?)" if close else ""
        out.append((path, f"{self.noun} '{name}' is not made by an earlier {self.maker}{suggestion}{hint}"))

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
    ports: set[str] = set()   # "CONTAINER.PORT" published so far, as {{ port.CONTAINER.PORT }} names them
    for i, step in enumerate(steps):
        if not isinstance(step, dict):
            continue
        at: KeyPath = ("steps", i)
        is_uncertain = any(b < i for b in broken_steps)
        for kind in made.values():
            kind.is_uncertain = is_uncertain
        # Placeholders first: they name what earlier steps made, not what this one makes.
        _check_placeholders(step, i, at, made, ports, captured_at, out, is_uncertain)
        _check_step(step, i, at, made, out)
        ports.update(_published(step))
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
    image = run.get("image")
    if isinstance(image, str) and not placeholders(image) and not any(c in image for c in "/:@"):
        # A bare name is a tag built in this scenario; anything else would be pulled from a registry.
        made["image"].use(image, at + ("run", "image"), out, hint="; an image the engine already has "
                          "is named in full (registry/name:tag) and run with `pull: missing` or never")
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


def _check_placeholders(step: dict, i: int, at: KeyPath, made: dict[str, _Made], ports: set[str],
                        captured_at: dict[str, int], out: list[Finding], is_uncertain: bool) -> None:
    """Every `{{ name }}` in the step names something the item will have when the step runs."""
    for path, text in _strings(step, at):
        for name in dict.fromkeys(placeholders(text)):
            message = _placeholder_problem(name, i, made, ports, captured_at, is_uncertain)
            if message:
                out.append((path, message))


def _placeholder_problem(name: str, i: int, made: dict[str, _Made], ports: set[str],
                         captured_at: dict[str, int], is_uncertain: bool) -> str | None:
    shown = f"'{{{{ {name} }}}}'"
    if name in FIXED_PLACEHOLDERS or name.startswith("free_port."):
        return None
    kind, _, rest = name.partition(".")
    if kind in ("image", "container") and rest:
        if rest in made[kind].live or is_uncertain:
            return None
        maker = "build step" if kind == "image" else "run step with a name (or stack)"
        close = did_you_mean(rest, made[kind].live)
        return f"{shown}: no earlier {maker} makes {kind} '{rest}'" + (f" (did you mean '{close}'?)" if close else "")
    if kind == "port" and rest:
        if rest in ports or is_uncertain:
            return None
        container, _, port = rest.rpartition(".")
        close = did_you_mean(rest, ports)
        return (f"{shown}: no earlier run step publishes port {port or '?'} of container '{container or rest}'"
                + (f" (did you mean 'port.{close}'?)" if close else ""))
    if name in captured_at:
        if captured_at[name] < i:
            return None
        if captured_at[name] == i:
            return f"{shown}: capture '{name}' is defined by this same step; only an earlier step's capture can be used"
        return f"{shown}: capture '{name}' is used before steps[{captured_at[name]}] defines it"
    if is_uncertain:
        return None
    known = [*FIXED_PLACEHOLDERS, *(f"image.{t}" for t in made["image"].live),
             *(f"container.{c}" for c in made["container"].live), *(f"port.{p}" for p in ports),
             *(c for c, at_step in captured_at.items() if at_step < i)]
    close = did_you_mean(name, known)
    return (f"unknown placeholder {shown}" + (f" (did you mean '{close}'?)" if close else "")
            + "; placeholders name the base image, scratch folders, host facts, what earlier steps made "
              "(image.TAG, container.NAME, port.NAME.PORT), free_port.KEY and earlier captures")


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


def _published(step: dict) -> set[str]:
    """The `CONTAINER.PORT` names a step publishes (a run step's ports, a stack's services)."""
    found: set[str] = set()
    run = step.get("run") if isinstance(step.get("run"), dict) else {}
    for port in run.get("ports") if isinstance(run.get("ports"), list) else []:
        if isinstance(port, dict) and isinstance(port.get("container"), int):
            found.add(f"{run.get('name') or '?'}.{port['container']}")
    stack = step.get("stack") if isinstance(step.get("stack"), dict) else {}
    compose = stack.get("compose") if isinstance(stack.get("compose"), dict) else {}
    services = compose.get("services") if isinstance(compose.get("services"), dict) else {}
    for service, spec in services.items():
        for port in (spec.get("ports") if isinstance(spec, dict) and isinstance(spec.get("ports"), list) else []):
            found.add(f"{stack.get('name')}.{service}.{str(port).split(':')[-1].split('/')[0]}")
    return found


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
    inspect = expect.get("inspect") if isinstance(expect.get("inspect"), dict) else {}
    made["container"].use(inspect.get("container"), at + ("inspect", "container"), out)
    made["image"].use(inspect.get("image"), at + ("inspect", "image"), out)
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
