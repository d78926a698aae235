"""Finding engine adapters: entry points of group `seatrial.engines.v1`, built-in ones included.

An adapter that fails to import is reported as a warning saying how to fix it, never a crash:
one broken plugin must not stop a run on the other engines.
"""

from __future__ import annotations

import difflib
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points

from seatrial.engines.base import Engine, protocol_gaps
from seatrial.engines.remote import RemoteSpecError, from_environment, parse_target, split_spec

GROUP = "seatrial.engines.v1"
# Runtime floors (engines/bundle.py): engine-like, for benchmarks only; named with --engine, or
# taken in by `with_floors` (benchmark runs, clean), never part of a default scenario run.
FLOOR_GROUP = "seatrial.floors.v1"


class EngineLoadWarning(UserWarning):
    """An engine adapter is registered but cannot be loaded."""


class UnknownEngine(ValueError):
    """A name that no registered adapter has; the message suggests the closest ones."""


@dataclass(frozen=True)
class Registered:
    """One registered adapter: its name, where it points, and why it cannot load (if it cannot)."""

    name: str
    target: str
    load_error: str = ""


def registered() -> dict[str, EntryPoint]:
    """Every adapter entry point, by engine name."""
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def floors() -> dict[str, EntryPoint]:
    """Every runtime floor's entry point, by name."""
    return {ep.name: ep for ep in entry_points(group=FLOOR_GROUP)}


def load_engines(
    names: list[str] | None = None, environ: Mapping[str, str] = os.environ, *, with_floors: bool = False
) -> list[Engine]:
    """Instances of the named adapters (all registered ones when `names` is None, and then the
    runtime floors too when `with_floors`); a floor's name may be among `names`.

    A name may be a spec `ADAPTER@TARGET` for an engine on another machine (engines/remote.py);
    so is a Docker or Podman whose DOCKER_HOST or CONTAINER_HOST names a remote URL. Unknown
    names and targets seatrial cannot drive raise UnknownEngine with what to write; adapters
    that fail to import or to construct are left out with an EngineLoadWarning. Availability is
    not checked here: ask each engine's info().
    """
    engine_points, floor_points = registered(), floors()
    points = {**floor_points, **engine_points}
    if names is None:
        wanted = list(engine_points) + (list(floor_points) if with_floors else [])
    else:
        wanted = list(dict.fromkeys(names))
    message = unknown_engines_message(wanted, points)
    if message:
        raise UnknownEngine(message)
    engines: dict[str, Engine] = {}
    for spec in wanted:
        name, target = split_spec(spec)
        try:
            engine = points[name].load()()
        except Exception as exc:  # a plugin can fail in any way; report it, keep the others
            warnings.warn(_load_message(name, points[name], exc), EngineLoadWarning, stacklevel=2)
            continue
        gaps = protocol_gaps(engine)
        if gaps:
            warnings.warn(_incomplete_message(name, points[name], gaps), EngineLoadWarning, stacklevel=2)
            continue
        try:
            engine = _placed(engine, target, environ)
        except RemoteSpecError as exc:
            raise UnknownEngine(f"engine {spec!r}: {exc}") from None
        if engine.name in engines:
            raise UnknownEngine(
                f"engine {spec!r}: {engine.name!r} is named twice; give each machine a Docker context or a "
                "Podman connection of its own (docker@NAME, podman@NAME)"
            )
        engines[engine.name] = engine
    return list(engines.values())


def _placed(engine: Engine, target: str, environ: Mapping[str, str]) -> Engine:
    """`engine` on the machine `target` names, or where its client's environment points it."""
    remote = parse_target(target) if target else from_environment(engine.name, environ)
    if remote is None:
        return engine
    on_host = getattr(engine, "on_host", None)
    if on_host is None:
        raise RemoteSpecError(f"engine {engine.name!r} runs only on this machine; leave out @{remote.target}")
    return on_host(remote)


def unknown_engines_message(names: list[str], known=None) -> str:
    """What is wrong with `names` ("" when every one is registered, as an engine or a runtime
    floor): each unknown name with a did-you-mean and the list of registered engines (and, when
    `known` is not given, of the runtime floors)."""
    extra = sorted(floors()) if known is None else []
    known = sorted(registered() if known is None else known)
    adapters = dict.fromkeys(split_spec(n)[0] for n in names)
    problems = [_unknown_message(n, known, extra) for n in adapters if n not in known + extra]
    for name, target in map(split_spec, dict.fromkeys(names)):
        try:
            parse_target(target) if target else None
        except RemoteSpecError as exc:
            problems.append(f"engine '{name}@{target}': {exc}")
    return "; ".join(problems)


def describe() -> list[Registered]:
    """Every registered adapter and, for those that cannot load, why (for `seatrial engines`)."""
    result = []
    for name, point in sorted(registered().items()):
        try:
            point.load()
            result.append(Registered(name, point.value))
        except Exception as exc:
            result.append(Registered(name, point.value, _load_message(name, point, exc)))
    return result


def _unknown_message(name: str, known: list[str], floor_names: list[str]) -> str:
    close = difflib.get_close_matches(name, known + floor_names, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    also = f"; runtime floors: {', '.join(floor_names)}" if floor_names else ""
    return f"engine {name!r} is not registered{hint}; registered: {', '.join(known) or 'none'}{also}"


def _incomplete_message(name: str, point: EntryPoint, gaps: list[str]) -> str:
    return (
        f"engine {name!r}: {point.value} lacks {', '.join(gaps)} of the engine interface; "
        f"subclass seatrial.engines.base.Engine (it gives the optional members their defaults) "
        f"and implement the rest, or leave it out with --engine"
    )


def _load_message(name: str, point: EntryPoint, exc: Exception) -> str:
    return (
        f"engine {name!r}: cannot load {point.value} ({type(exc).__name__}: {exc}); "
        f"reinstall the package that provides it (pip install -e . in the seatrial checkout), "
        f"or leave it out with --engine"
    )
