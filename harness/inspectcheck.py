"""`expect: {inspect: ...}`: a container's health and user, an image's config, as the engine's
inspect shows them (normalized in engines/inspection.py and engines/reference/inspection.py).

Health is `starting` for a while after a container starts (until the first check ran, or
through its start period), and changes only when the next check has run: `wait` keeps
inspecting until health is the one expected, within its bound, like the `wait` step polls a
command; the checks are then about the last inspect, and say so when time ran out.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from seatrial.engines.base import EngineError, ResourceRef
from seatrial.harness.check import Check
from seatrial.harness.confighas import has_checks
from seatrial.harness.differential.observation import normal_config
from seatrial.harness.expectmodel import HealthcheckExpect, ImageConfigExpect, InspectExpect, nanoseconds
from seatrial.harness.itemcontext import ItemContext

POLL_INTERVAL = 0.2
# Keys compared key by key: the engine and the harness add labels (and variables) of their own.
MAPPING_KEYS = ("Labels",)
# Lists whose order means nothing in Docker's document (they are mappings there: {"80/tcp": {}}).
SET_KEYS = ("ExposedPorts", "Volumes")


def inspect_checks(
    ctx: ItemContext,
    step: int,
    want: InspectExpect,
    outcome,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> list:
    """All checks of one `expect.inspect`; an inspect the engine refuses is one failed check."""

    checks: list[Check] = []
    doc: Mapping[str, Any] | None = None
    if want.image is None and (want.container or want.health or want.user or not outcome.build):
        name = ctx.containers.get(want.container, want.container) if want.container else outcome.container
        local = want.container or next((k for k, v in ctx.containers.items() if v == name), name)
        label = f"inspect container '{local}'"  # as the scenario names it
        try:
            doc, tries, waited = _container(ctx, name, want, sleep, clock)
        except EngineError as exc:
            return [Check(step, label, "a container to inspect", f"error: {exc}", False)]
        if want.health is not None:
            health = doc["health"]
            status = health["status"] if health else "none"
            actual = status + _last_result(health)
            if want.wait and status != want.health:
                actual += f" (after {tries} inspects in {waited:.1f} s of its {want.wait:g} s wait)"
            checks.append(Check(step, f"{label} health", want.health, actual, status == want.health))
        if want.user is not None:
            checks.append(Check(step, f"{label} user", repr(want.user), repr(doc["user"]), doc["user"] == want.user))
    if want.config is not None or want.config_has is not None or want.config_lacks is not None:
        if want.image is not None:
            ref, label = (
                ResourceRef("image", "", ctx.images.get(want.image, want.image)),
                f"inspect image '{want.image}'",
            )
        elif doc is not None:
            ref, label = ResourceRef("image", doc["image_id"], ""), f"inspect image of container '{doc['name']}'"
        else:
            ref, label = ResourceRef("image", outcome.image_id, ""), "inspect image built"
        try:
            config = ctx.engine.inspect(ref)["config"]
        except EngineError as exc:
            return [*checks, Check(step, label, "an image to inspect", f"error: {exc}", False)]
        if want.config is not None:
            checks.extend(config_checks(step, label, want.config, config))
        checks.extend(has_checks(step, label, want.config_has, want.config_lacks, config))
    return checks


def _container(
    ctx: ItemContext, name: str, want: InspectExpect, sleep: Callable[[float], None], clock: Callable[[], float]
) -> tuple[Mapping[str, Any], int, float]:
    """The container's document, inspected again while its health is not the one expected and
    it runs, until `want.wait` seconds have passed: (document, inspects, seconds waited)."""
    started = clock()
    tries = 0
    while True:
        tries += 1
        doc = ctx.engine.inspect(ResourceRef("container", "", name))
        status = doc["health"]["status"] if doc["health"] else "none"
        waited = clock() - started
        if status == want.health or doc["state"] != "running" or waited + POLL_INTERVAL > want.wait:
            return doc, tries, waited
        sleep(POLL_INTERVAL)


def _last_result(health: dict | None) -> str:
    if not health or not health["log"]:
        return ""
    last = health["log"][-1]
    output = str(last["output"] or "").strip()
    return f"; failing streak {health['failing_streak']}, last check exit code {last['exit_code']}" + (
        f", output {output[:200]!r}" if output else ""
    )


def config_checks(step: int, label: str, want: ImageConfigExpect, config: dict[str, Any]) -> list:
    """One check per key given, in the order the model declares them."""

    checks = []
    for key in [k for k in type(want).model_fields if k in want.model_fields_set]:
        expected, actual = getattr(want, key), config.get(key)
        ok, shown = _compare(key, expected, actual)
        checks.append(Check(step, f"{label} config {key}", shown, repr(actual), ok))
    return checks


def _compare(key: str, expected: Any, actual: Any) -> tuple[bool, str]:
    """(whether it holds, the expectation in words)."""
    if expected is None:
        return not actual, "none"
    if isinstance(expected, HealthcheckExpect):
        return _healthcheck(expected, actual)
    if key == "Env" and isinstance(expected, dict):
        env = dict(item.split("=", 1) for item in actual or () if "=" in item)
        return all(env.get(k) == v for k, v in expected.items()), f"variables {expected!r} among others"
    if key in MAPPING_KEYS:
        have = actual or {}
        return all(have.get(k) == v for k, v in expected.items()), f"{expected!r} among others"
    if key in SET_KEYS:
        return sorted(actual or ()) == sorted(expected), f"{sorted(expected)!r} (any order)"
    if isinstance(expected, list):
        return list(actual or ()) == expected, repr(expected)
    return (actual or "") == expected, repr(expected)


def _healthcheck(expected: HealthcheckExpect, actual: Any) -> tuple[bool, str]:
    given = {k: getattr(expected, k) for k in type(expected).model_fields if k in expected.model_fields_set}
    if not isinstance(actual, dict):
        return False, f"a Healthcheck with {given!r}"
    ok = True
    for key, value in given.items():
        if key == "Test":
            ok &= list(actual.get("Test") or ()) == value
        elif key == "Retries":
            ok &= int(actual.get("Retries") or 0) == value
        else:
            ok &= int(actual.get(key) or 0) == nanoseconds(value)
    return ok, f"a Healthcheck with {given!r}"


def image_config_checks(ctx: ItemContext, step: int, want: Mapping[str, Any], image_id: str) -> list[Check]:
    """`expect.image_config`: each key given equals the built image's config as `seatrial diff`
    normalises it (so a scenario and a corpus case agree on what "the same config" means)."""
    label = "image config"
    try:
        config = normal_config(ctx.engine.inspect(ResourceRef("image", image_id, ""))["config"] or {})
    except EngineError as exc:
        return [Check(step, label, "an image to inspect", f"error: {exc}", False)]
    checks = []
    for key, expected in want.items():
        expected = _as_docker_shows(key, expected)
        actual = config.get(key)
        shown = "none" if expected is None else repr(expected)
        checks.append(
            Check(step, f"{label} {key}", shown, "none" if actual is None else repr(actual), actual == expected)
        )
    return checks


def _as_docker_shows(key: str, value: Any) -> Any:
    """ExposedPorts and Volumes are mappings to {} in Docker's document; a list names the keys.
    An empty value is no value, as normal_config has it."""
    if key in SET_KEYS and isinstance(value, list):
        value = {item: {} for item in value}
    return None if value in ("", [], {}) else value
