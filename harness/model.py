"""Scenario format v1: the pydantic models that YAML scenarios are validated against.

The models are the single source of truth: `seatrial schema` exports them as JSON Schema
(draft-07) into scenarios/schema.json for editors, and the loader validates with them.
Every model forbids unknown keys so that a misspelt key is an error, never silently ignored.
"""
from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from seatrial.engines.base import CAPABILITIES
from seatrial.engines.durations import parse_duration
from seatrial.harness.confighas import ConfigHas, ConfigLacks
from seatrial.harness.pathexpect import PathExpect
from seatrial.harness.stackmodel import StackStepBody, mount_target_problem

UID_MAX = 2**32 - 2  # (uid_t)-1 is "no uid"
SIZE_MAX = 2**63 - 1
Tag = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,62}$",
                           description="A label for -m selection: lowercase letters, digits, '_', '-'")]
ClaimId = Annotated[str, Field(pattern=r"^C[0-9]{2}$", description="A claim id from docs/claims.md, e.g. C07")]
Name = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,62}$",
                            description="A scenario-local name; the harness makes it unique per session")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- expectations -----------------------------------------------------------------------------

class TextExpect(Strict):
    """What a stream of text (stdout, stderr) must hold. Several keys: all must hold."""

    equals: str | None = None
    contains: str | None = None
    not_contains: str | None = None
    matches: str | list[str] | None = Field(None, description="A Python regular expression searched in the "
                                                              "text; a list: each of them")
    not_matches: str | list[str] | None = Field(None, description="No match of this regular expression (or "
                                                                  "of any in the list) in the text")
    equals_capture: str | None = Field(None, description="Equal to a value captured earlier")
    differs_from: str | None = Field(None, description="Different from a value captured earlier")

    @model_validator(mode="after")
    def _one_at_least(self):
        if all(v is None for v in self.model_dump().values()):
            raise ValueError("give at least one of equals, contains, not_contains, matches, not_matches, "
                             "equals_capture, differs_from")
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
    owner_uid_not: int | None = Field(None, ge=0, le=UID_MAX, description="The owner is not this uid (e.g. 0: not root)")


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


Duration = Annotated[Annotated[int, Field(ge=0)] | str, AfterValidator(_duration), Field(description=(
    "Nanoseconds, as `docker inspect` shows them, or a duration such as 30s, 1m30s, 500ms"))]


class HealthcheckExpect(Strict):
    """The image's Healthcheck as `docker inspect` shows it; each key given must be equal, a
    duration left out by the engine counts as 0 (Docker omits zero ones)."""

    Test: list[str] | None = Field(None, description='e.g. ["CMD", "wget", "-q", "localhost"], ["CMD-SHELL", "..."], ["NONE"]')
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

    Env: list[str] | dict[str, str] | None = Field(None, description="A list: all of Env, in order; "
                                                   "a mapping: these variables have these values")
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


HEALTH_STATES = ("starting", "healthy", "unhealthy", "none")


class InspectExpect(Strict):
    """What the engine's inspect shows: a container's health and user, an image's config.

    The container is the step's own (run, exec, wait, stop) unless `container` names another;
    `config` is the config of the image a build step made, of `image`, or of the container's image."""

    container: Name | None = Field(None, description="A container run earlier; default: the step's own")
    image: Name | None = Field(None, description="An image built earlier, for `config`")
    health: Literal[HEALTH_STATES] | None = Field(None, description=(
        "The container's health status, as `docker inspect` .State.Health.Status shows it; none: "
        "no health check at all (no HEALTHCHECK in the image, or HEALTHCHECK NONE)"))
    wait: float = Field(0, ge=0, le=600, description=(
        "Seconds to keep inspecting (every 0.2 s) until health is the one expected: it is `starting` "
        "until the first check has run and changes only when the next one has; 0: inspect once"))
    user: str | None = Field(None, description="The user the container runs as (run's user, else the image's USER)")
    config: ImageConfigExpect | None = None
    config_has: ConfigHas | None = Field(None, description="Variables and labels (values as regular expressions), "
                                                           "ports and volumes the image's config includes")
    config_lacks: ConfigLacks | None = Field(None, description="Ports and volumes the image's config does not have")

    @model_validator(mode="after")
    def _coherent(self):
        if self.health is None and self.user is None and self.config is None and self.config_has is None \
                and self.config_lacks is None:
            raise ValueError("give at least one of health, user, config, config_has, config_lacks")
        if self.image is not None and (self.health is not None or self.user is not None or self.container):
            raise ValueError("image: an image has config only; health and user are a container's "
                             "(give container, or leave image out)")
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
    paths: list[PathExpect] = Field(default_factory=list, description=(
        "Paths in the step's container read with a static busybox the run step binds in (any image, "
        "distroless too): existence, mode, owner, content"))
    host_files: list[HostFileExpect] = Field(default_factory=list)
    image_size: ImageSizeExpect | None = None
    fails: bool | None = Field(None, description="The engine refuses the operation itself "
                                                 "(e.g. a network create), as opposed to a non-zero exit")
    inspect: InspectExpect | None = Field(None, description="What the engine's inspect shows: health, user, image config")


# --- step bodies ------------------------------------------------------------------------------

class BuildStep(Strict):
    """Build an image from an inline Dockerfile and inline context files.

    Building a tag again without `dockerfile` rebuilds the same context (with its edits)."""

    tag: Name
    dockerfile: str | None = None
    files: dict[str, str] = Field(default_factory=dict, description="Context files: path -> content")
    build_args: dict[str, str] = Field(default_factory=dict)
    target: str | None = None
    no_cache: bool = False


class EditStep(Strict):
    """Change a context file of an earlier build (the next build of that tag sees it)."""

    tag: Name
    file: str
    content: str | None = None
    append: str | None = None
    delete: bool = False

    @model_validator(mode="after")
    def _one_change(self):
        given = [k for k in ("content", "append") if getattr(self, k) is not None] + (["delete"] if self.delete else [])
        if len(given) != 1:
            raise ValueError("give exactly one of content, append, delete")
        return self


class PortSpec(Strict):
    container: int = Field(ge=1, le=65535)
    host: int = Field(0, ge=0, le=65535, description="0: a free port chosen by the harness")
    protocol: Literal["tcp", "udp"] = "tcp"


class MountSpec(Strict):
    """Exactly one of volume (a named volume of this scenario) or bind (a host path)."""

    target: str
    volume: Name | None = None
    bind: str | None = None
    read_only: bool = False

    @model_validator(mode="after")
    def _one_source(self):
        if (self.volume is None) == (self.bind is None):
            raise ValueError("give exactly one of volume, bind")
        problem = mount_target_problem(self.target)
        if problem:
            raise ValueError(f"target: {problem}")
        return self


class RunStepBody(Strict):
    image: str
    name: Name | None = None
    command: list[str] | None = None
    entrypoint: list[str] | None = None
    env: dict[str, str] = Field(default_factory=dict)
    network: str = Field("bridge", description="bridge, host, none, or a network made by a network step")
    ports: list[PortSpec] = Field(default_factory=list)
    mounts: list[MountSpec] = Field(default_factory=list)
    hostname: str | None = None
    workdir: str | None = None
    user: str | None = None
    dns: list[str] | None = Field(None, description="Name servers for the container (e.g. 127.0.0.1 so "
                                                    "that failing lookups never leave the host)")
    privileged: bool = False
    cap_add: list[Annotated[str, Field(pattern=r"^[A-Z_]+$")]] = Field(
        default_factory=list, description="Capabilities added to the default set, e.g. SYS_ADMIN")
    seccomp: Literal["default", "unconfined"] = "default"
    unmask_paths: bool = Field(False, description="Lift the engine's masked and read-only /proc paths")
    no_new_privileges: bool = False
    pull: Literal["missing", "never"] = Field(
        "never", description="never (the default): fail rather than pull an image that is not present, so "
                             "a misspelt image never sends traffic to a registry; missing: let the engine pull")
    detach: bool = False
    remove: bool = Field(False, description="Remove the container when it exits (run --rm)")
    timeout: float = Field(120.0, gt=0, le=3600)


class ExecStepBody(Strict):
    container: Name
    command: list[str]
    timeout: float = Field(60.0, gt=0, le=3600)


class StopStepBody(Strict):
    container: Name
    timeout: float = Field(10.0, ge=0, le=600)


class RemoveStepBody(Strict):
    """Remove a container, image, network or volume made earlier in the scenario."""

    container: Name | None = None
    image: Name | None = None
    network: Name | None = None
    volume: Name | None = None

    @model_validator(mode="after")
    def _one_kind(self):
        given = [k for k, v in self.model_dump().items() if v is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of container, image, network, volume")
        return self


class NetworkStepBody(Strict):
    name: Name
    internal: bool = False


class VolumeStepBody(Strict):
    name: Name


class HostWriteStepBody(Strict):
    """Write a file on the host, inside the item's scratch directory (`{{ scratch }}`), e.g. into
    a folder that a container bind-mounts; or make a Unix socket there, for a positive control
    that must find one without relying on what the host happens to have."""

    path: str
    content: str | None = Field(None, description="The file's text (a file needs it; a socket has none)")
    kind: Literal["file", "socket"] = Field("file", description="file (default) or socket: a bound Unix "
                                                                 "socket, as an engine or daemon leaves one")
    mode: str | None = Field(None, pattern=r"^0?[0-7]{3}$", description="Octal permissions, e.g. '0600'")

    @model_validator(mode="after")
    def _content_matches_kind(self):
        if self.kind == "file" and self.content is None:
            raise ValueError("content: a file needs content (use kind: socket for a socket)")
        if self.kind == "socket" and self.content is not None:
            raise ValueError("content: a socket has no content")
        return self


class TagStepBody(Strict):
    """Give an image built earlier another reference, e.g. `docker.io/library/{{ image.app }}:1`."""

    image: Name
    ref: str


class ProbeStepBody(Strict):
    """Connect from the host to a TCP port on loopback or a container's private address; stdout
    is the first bytes of an HTTP response when `http_path` is given, exit code 0 when the
    connection was made and 1 when it was refused or timed out."""

    address: str = "127.0.0.1"
    port: int | str = Field(description="A number or a placeholder such as '{{ port.web.80 }}'")
    http_path: str | None = None
    timeout: float = Field(3.0, gt=0, le=60)


class WaitStepBody(Strict):
    """Poll a command in a container until it exits 0 (or `expect` holds), within a bound."""

    container: Name
    command: list[str]
    timeout: float = Field(30.0, gt=0, le=600)
    interval: float = Field(0.2, gt=0, le=10)


class MeasureStepBody(Strict):
    """Repeat inner steps for a benchmark: `warmup` rounds are run and discarded, then `rounds`
    samples of `metric` are recorded raw (event `sample`). Containers a round starts are removed
    after it (untimed), so every round starts alike; images stay, so a rebuild can hit the cache.

    Samples never decide pass/fail: statistics are computed when reporting. Under
    `seatrial run --bench` the rounds of all engines are interleaved (A B C A B C ...)."""

    metric: Name = Field(description="What is measured, e.g. start-to-exit; unique in the scenario")
    rounds: int = Field(10, ge=1, le=10000, description="Recorded rounds")
    warmup: int = Field(2, ge=0, le=1000, description="Rounds run first and marked warm-up (not in statistics)")
    value: Literal["duration", "first_output", "image_size"] = Field(
        "duration", description="duration: wall-clock seconds of the timed inner steps; first_output: "
                                "seconds from the start of the round to the wall-clock time that the "
                                "container prints first (busybox `adjtimex` output or a number); "
                                "image_size: bytes of the image the last build made")
    copies: int = Field(1, ge=1, le=1000, description="Inner steps run this many times per round "
                                                      "(density: N containers up at once)")
    memory: bool = Field(False, description="Also record `<metric>.memory`: host memory taken per copy "
                                            "while all copies are up (MemAvailable before and after)")
    untimed: list[int] = Field(default_factory=list, description="0-based inner steps that prepare a round "
                                                                 "(e.g. an edit before a rebuild) and are not timed")
    steps: list["Step"] = Field(min_length=1, description="The operation measured; any step kind but measure")

    @model_validator(mode="after")
    def _inner(self):
        if any(s.measure is not None for s in self.steps):
            raise ValueError("a measure step cannot contain another measure step")
        bad = [i for i in self.untimed if not 0 <= i < len(self.steps)]
        if bad:
            raise ValueError(f"untimed: {bad} are not indexes of inner steps (0..{len(self.steps) - 1})")
        if len(self.untimed) >= len(self.steps) and self.value == "duration":
            raise ValueError("every inner step is untimed: nothing would be measured")
        return self


# Step kinds whose result an `expect.inspect` without `container` or `image` looks at.
INSPECTABLE = {"container": ("run", "exec", "wait", "stop"), "config": ("run", "exec", "wait", "stop", "build")}
STEP_KINDS = ("build", "edit", "run", "exec", "stop", "remove", "network", "volume", "wait", "host_write", "tag",
              "probe", "stack", "measure")


class Step(Strict):
    """One step: exactly one kind key, plus what to expect and what to capture."""

    build: BuildStep | None = None
    edit: EditStep | None = None
    run: RunStepBody | None = None
    exec: ExecStepBody | None = None
    stop: StopStepBody | None = None
    remove: RemoveStepBody | None = None
    network: NetworkStepBody | None = None
    volume: VolumeStepBody | None = None
    wait: WaitStepBody | None = None
    host_write: HostWriteStepBody | None = None
    probe: ProbeStepBody | None = None
    measure: MeasureStepBody | None = None
    tag: TagStepBody | None = None
    stack: StackStepBody | None = None
    expect: Expect | None = None
    control: bool = Field(False, description=(
        "A positive control: the step shows that the probe can see the difference (e.g. under an added "
        "capability). If its checks fail, the item is an error (inconclusive), never a pass or a fail"))
    capture: dict[str, Literal["stdout", "stderr", "exit_code", "image_id", "image_size"]] = Field(
        default_factory=dict, description="Save a result under a name for later expectations")
    note: str | None = Field(None, description="Why this step is here; shown in reports")

    @model_validator(mode="after")
    def _exactly_one_kind(self):
        kinds = [k for k in STEP_KINDS if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(f"a step has exactly one of {', '.join(STEP_KINDS)}; "
                             f"got {', '.join(kinds) or 'none'}")
        inspect = self.expect.inspect if self.expect else None
        if inspect and not (inspect.container or inspect.image) and kinds[0] not in INSPECTABLE[
                "config" if inspect.health is None and inspect.user is None else "container"]:
            raise ValueError(f"expect.inspect: a {kinds[0]} step has no container"
                             f"{'' if inspect.health or inspect.user else ' or image'} of its own; "
                             "name one with container (or image)")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in STEP_KINDS if getattr(self, k) is not None)

    @property
    def body(self) -> BaseModel:
        return getattr(self, self.kind)


class Divergence(Strict):
    """An expected, documented difference: on `engine`, a failure is reported as diverged."""

    engine: str
    reason: str
    steps: list[int] | None = Field(None, description="0-based steps the divergence covers; all if omitted")


class RatioSpec(Strict):
    """A ratio of two metrics of the same scenario on the same engine, reported with its interval
    (e.g. C11: rebuild with the wrong order over rebuild with the right order)."""

    name: Name
    numerator: Name
    denominator: Name
    summary: str | None = None


class BenchmarkSpec(Strict):
    """Marks a scenario as a benchmark: it runs only under `seatrial run --bench`, as one item
    spanning every engine, with the rounds of its measure steps interleaved across engines."""

    ratios: list[RatioSpec] = Field(default_factory=list)
    full_only: bool = Field(False, description="Long: runs only with --bench-full (e.g. density of 200)")
    params: dict[str, int | float | str] = Field(default_factory=dict,
                                                 description="Parameters reports plot against, e.g. containers: 50")


class Scenario(Strict):
    """A scenario: the claims it checks, what it needs, and its steps with their expectations."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="seatrial scenario, format v1")
    # Where each step is written (file, then its line per step), for messages; set by the loader.
    _file: str = PrivateAttr("")
    _step_lines: tuple[int, ...] = PrivateAttr(())

    def step_place(self, index: int) -> str:
        """`file:line` of step `index` (0-based), or "" for a scenario not read from a file."""
        if not self._file or not 0 <= index < len(self._step_lines):
            return ""
        return f"{self._file}:{self._step_lines[index]}"

    schema_version: Literal[1]
    name: str | None = Field(None, description="Defaults to the file stem; must equal it if given")
    summary: str
    claims: list[ClaimId] = Field(default_factory=list, description=(
        "Behaviours of the project's claims list (C01..C32) this scenario checks; the claims table "
        "shows only these. A scenario of your own (an app's checks) needs none: give it tags"))
    requires: list[Literal[CAPABILITIES]] = Field(default_factory=list, description="Engine capabilities the scenario needs")
    tags: list[Tag] = Field(default_factory=list, description=(
        "Free labels of your own, selectable with -m (`seatrial run -m web`); not claims"))
    divergences: list[Divergence] = Field(default_factory=list)
    benchmark: BenchmarkSpec | None = Field(None, description="Present: the scenario is a benchmark")
    steps: list[Step] = Field(min_length=1)

    @model_validator(mode="after")
    def _metrics(self):
        measures = [s.measure for s in self.steps if s.measure is not None]
        names = [m.metric for m in measures]
        if len(names) != len(set(names)):
            raise ValueError(f"measure metrics must be unique in a scenario; got {names}")
        if measures and self.benchmark is None:
            raise ValueError("a scenario with measure steps is a benchmark: add `benchmark: {}`")
        for ratio in self.benchmark.ratios if self.benchmark else []:
            for metric in (ratio.numerator, ratio.denominator):
                if metric not in names:
                    raise ValueError(f"ratio {ratio.name}: no measure step has metric '{metric}'; "
                                     f"metrics: {', '.join(names) or 'none'}")
        return self


MeasureStepBody.model_rebuild()
