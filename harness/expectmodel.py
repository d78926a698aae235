"""What a step expects: the `expect` key of a step, as pydantic models (part of the scenario format).

harness/expectations.py turns them into checks; harness/inspectcheck.py checks `inspect`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, model_validator

from seatrial.engines.durations import parse_duration
from seatrial.harness.confighas import ConfigHas, ConfigLacks
from seatrial.harness.differential.observation import CONFIG_KEYS
from seatrial.harness.modeltypes import Name, Strict
from seatrial.harness.pathexpect import PathExpect

UID_MAX = 2**32 - 2  # (uid_t)-1 is "no uid"
SIZE_MAX = 2**63 - 1


class TextExpect(Strict):
    """What a stream of text (stdout, stderr) must hold. Several keys: all must hold."""

    equals: str | None = None
    contains: str | None = None
    not_contains: str | None = None
    matches: str | list[str] | None = Field(
        None, description="A Python regular expression searched in the text; a list: each of them"
    )
    not_matches: str | list[str] | None = Field(
        None, description="No match of this regular expression (or of any in the list) in the text"
    )
    equals_capture: str | None = Field(None, description="Equal to a value captured earlier")
    differs_from: str | None = Field(None, description="Different from a value captured earlier")

    @model_validator(mode="after")
    def _one_at_least(self):
        if all(v is None for v in self.model_dump().values()):
            raise ValueError(
                "give at least one of equals, contains, not_contains, matches, not_matches, "
                "equals_capture, differs_from"
            )
        for key in ("matches", "not_matches"):
            for pattern in patterns(getattr(self, key)):
                try:
                    re.compile(pattern)
                except re.error as exc:
                    raise ValueError(f"{key}: {pattern!r} is not a valid regular expression: {exc}") from None
        return self


def patterns(value: str | list[str] | None) -> list[str]:
    """`matches` and `not_matches` as a list: one pattern or several."""
    return [] if value is None else [value] if isinstance(value, str) else list(value)


class CacheExpect(Strict):
    """Which build instructions reused a cached layer, by 0-based instruction index
    (FROM is index 0 of its stage) or by instruction prefix such as 'RUN make'."""

    hit: list[int | str] = Field(default_factory=list)
    miss: list[int | str] = Field(default_factory=list)
    all_hit: bool | None = Field(None, description="Every instruction after FROM was (or was not) a hit")


class FileExpect(Strict):
    """A file inside a running container, checked through a pytest-testinfra host."""

    container: Name
    path: str
    exists: bool | None = None
    content: str | None = None
    contains: str | None = None


class HostFileExpect(Strict):
    """A file on the host, inside the item's scratch directory (`{{ scratch }}`)."""

    path: str
    exists: bool | None = None
    content: str | None = None
    owner_uid: int | None = Field(None, ge=0, le=UID_MAX, description="The numeric owner of the file on the host")
    owner_uid_not: int | None = Field(
        None, ge=0, le=UID_MAX, description="The owner is not this uid (e.g. 0: not root)"
    )


class ImageSizeExpect(Strict):
    """Bounds on the size of the image a build step made, in bytes as the engine reports it;
    `max_ratio` compares with an image size captured earlier (`capture: {fat: image_size}`)."""

    min_bytes: int | None = Field(None, ge=0, le=SIZE_MAX)
    max_bytes: int | None = Field(None, ge=0, le=SIZE_MAX)
    relative_to: str | None = Field(None, description="A capture of an earlier build's image_size")
    max_ratio: float | None = Field(None, gt=0, le=1e6, description="At most this fraction of `relative_to`")

    @model_validator(mode="after")
    def _coherent(self):
        if (self.relative_to is None) != (self.max_ratio is None):
            raise ValueError("give relative_to and max_ratio together")
        if all(v is None for v in (self.min_bytes, self.max_bytes, self.max_ratio)):
            raise ValueError("give at least one of min_bytes, max_bytes, max_ratio")
        return self


def nanoseconds(value: int | str) -> int:
    """A Duration in nanoseconds: an integer as it is, `1m30s` as Go's time.ParseDuration reads it."""
    if isinstance(value, int):
        return value
    try:
        return parse_duration(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a duration; write nanoseconds or e.g. 30s, 1m30s, 500ms") from None


def _duration(value: int | str) -> int | str:
    nanoseconds(value)
    return value


Duration = Annotated[
    Annotated[int, Field(ge=0)] | str,
    AfterValidator(_duration),
    Field(description=("Nanoseconds, as `docker inspect` shows them, or a duration such as 30s, 1m30s, 500ms")),
]


class HealthcheckExpect(Strict):
    """The image's Healthcheck as `docker inspect` shows it; each key given must be equal, a
    duration left out by the engine counts as 0 (Docker omits zero ones)."""

    Test: list[str] | None = Field(
        None, description='e.g. ["CMD", "wget", "-q", "localhost"], ["CMD-SHELL", "..."], ["NONE"]'
    )
    Interval: Duration | None = None
    Timeout: Duration | None = None
    StartPeriod: Duration | None = None
    Retries: int | None = Field(None, ge=0, le=2**31 - 1)

    @model_validator(mode="after")
    def _one_at_least(self):
        if not self.model_fields_set:
            raise ValueError("give at least one of Test, Interval, Timeout, StartPeriod, Retries")
        return self


class ImageConfigExpect(Strict):
    """Keys of the image's config (`docker image inspect` .Config), Docker's names. A key set to
    null means the image has none (absent, null or empty). Labels and an Env given as a mapping
    are checked key by key (the engine and the harness add labels of their own); every other
    key must be equal."""

    Env: list[str] | dict[str, str] | None = Field(
        None, description="A list: all of Env, in order; a mapping: these variables have these values"
    )
    Cmd: list[str] | None = None
    Entrypoint: list[str] | None = None
    WorkingDir: str | None = None
    User: str | None = None
    ExposedPorts: list[str] | None = Field(None, description='e.g. ["80/tcp"], in any order')
    Labels: dict[str, str] | None = None
    Healthcheck: HealthcheckExpect | None = None
    Volumes: list[str] | None = None
    StopSignal: str | None = None
    Shell: list[str] | None = None
    OnBuild: list[str] | None = None

    @model_validator(mode="after")
    def _one_at_least(self):
        if not self.model_fields_set:
            raise ValueError("give at least one config key, e.g. WorkingDir, Env, Healthcheck")
        return self


HealthState = Literal["starting", "healthy", "unhealthy", "none"]
ConfigKey = Literal[CONFIG_KEYS]  # type: ignore[valid-type]  # the keys `seatrial diff` compares


class InspectExpect(Strict):
    """What the engine's inspect shows: a container's health and user, an image's config.

    The container is the step's own (run, exec, wait, stop) unless `container` names another;
    `config` is the config of the image a build step made, of `image`, or of the container's image."""

    container: Name | None = Field(None, description="A container run earlier; default: the step's own")
    image: Name | None = Field(None, description="An image built earlier, for `config`")
    health: HealthState | None = Field(
        None,
        description=(
            "The container's health status, as `docker inspect` .State.Health.Status shows it; none: "
            "no health check at all (no HEALTHCHECK in the image, or HEALTHCHECK NONE)"
        ),
    )
    wait: float = Field(
        0,
        ge=0,
        le=600,
        description=(
            "Seconds to keep inspecting (every 0.2 s) until health is the one expected: it is `starting` "
            "until the first check has run and changes only when the next one has; 0: inspect once"
        ),
    )
    user: str | None = Field(None, description="The user the container runs as (run's user, else the image's USER)")
    config: ImageConfigExpect | None = None
    config_has: ConfigHas | None = Field(
        None,
        description="Variables and labels (values as regular expressions), "
        "ports and volumes the image's config includes",
    )
    config_lacks: ConfigLacks | None = Field(None, description="Ports and volumes the image's config does not have")

    @model_validator(mode="after")
    def _coherent(self):
        if (
            self.health is None
            and self.user is None
            and self.config is None
            and self.config_has is None
            and self.config_lacks is None
        ):
            raise ValueError("give at least one of health, user, config, config_has, config_lacks")
        if self.image is not None and (self.health is not None or self.user is not None or self.container):
            raise ValueError(
                "image: an image has config only; health and user are a container's "
                "(give container, or leave image out)"
            )
        if self.wait and self.health is None:
            raise ValueError("wait: waits until health is the one expected; give health")
        return self


class Expect(Strict):
    exit_code: int | None = Field(None, ge=0, le=255, description="0-255, as engines report it")
    exit_code_not: int | None = Field(None, ge=0, le=255, description="The exit code differs from this one")
    stdout: TextExpect | None = None
    stderr: TextExpect | None = None
    output: TextExpect | None = Field(None, description="stdout and stderr together")
    cache: CacheExpect | None = None
    files: list[FileExpect] = Field(default_factory=list)
    paths: list[PathExpect] = Field(
        default_factory=list,
        description=(
            "Paths in the step's container read with a static busybox the run step binds in (any image, "
            "distroless too): existence, mode, owner, content"
        ),
    )
    host_files: list[HostFileExpect] = Field(default_factory=list)
    image_size: ImageSizeExpect | None = None
    fails: bool | None = Field(
        None,
        description="The engine refuses the operation itself (e.g. a network create), as opposed to a non-zero exit",
    )
    inspect: InspectExpect | None = Field(
        None, description="What the engine's inspect shows: health, user, image config"
    )
    image_config: dict[ConfigKey, Any] | None = Field(
        None,
        description=(
            "Keys of the config of the image a build step made, each equal to what `docker image inspect` "
            "shows after the normalisation `seatrial diff` uses (the harness's labels left out, an empty "
            'value the same as none): e.g. Cmd: [sh, -c, "echo hi"], ExposedPorts: {80/tcp: {}} (a list of '
            "ports or volume paths is read as that mapping), Healthcheck: {Test: [...], Interval: 30000000000}; "
            "null: the image has none"
        ),
    )
    refused_or_exit_code: int | None = Field(
        None,
        ge=0,
        le=255,
        description=(
            "Either the engine refuses the step, or its command exits with this code: for a case that "
            "engines answer both ways (e.g. a command that cannot start: Docker refuses the run with "
            "126 or 127, another engine may start it and exit with that code)"
        ),
    )

    @model_validator(mode="after")
    def _one_verdict_on_refusal(self):
        if self.refused_or_exit_code is not None:
            clash = [k for k in ("fails", "exit_code") if getattr(self, k) is not None]
            if clash:
                raise ValueError(
                    f"refused_or_exit_code already says what a refusal and the exit code must be; "
                    f"leave out {' and '.join(clash)}"
                )
        return self
