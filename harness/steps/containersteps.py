"""`run`, `exec` and `stop`: containers and the commands inside them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Literal

from pydantic import Field, model_validator

from seatrial.engines.base import EngineError, PortMapping, ResourceRef, RunSpec
from seatrial.harness.itemcontext import ItemContext, StepError
from seatrial.harness.modeltypes import Name, Strict
from seatrial.harness.problem import KeyPath
from seatrial.harness.steps.namebook import NameBook
from seatrial.harness.steps.runoptions import ANY_PORT, MountSpec, PortSpec, Published, exposed_ports, mounts_of
from seatrial.harness.steps.stepkind import StepKind, StepOutcome, refused, register, track
from seatrial.harness.templating import placeholders
from seatrial.harness.words import did_you_mean

# Networks every engine has; any other network is one a network step made.
BUILTIN_NETWORKS = ("bridge", "host", "none")


class RunStepBody(Strict):
    image: str
    name: Name | None = None
    command: list[str] | None = None
    entrypoint: list[str] | None = None
    env: dict[Annotated[str, Field(pattern=r"^[^=]+$")], str | None] = Field(
        default_factory=dict,
        description=(
            "Variables for the container; null: -e NAME, the value seatrial's own environment has "
            "(the variable is left out when seatrial has none), as docker run takes it from its client's"
        ),
    )
    network: str = Field("bridge", description="bridge, host, none, or a network made by a network step")
    ports: list[PortSpec] = Field(default_factory=list)
    publish_all: bool = Field(
        False,
        description=(
            "-P: publish every port the image EXPOSEs, each on a free port of 127.0.0.1 "
            "(read it as {{ port.NAME.PORT }}); needs a name"
        ),
    )
    mounts: list[MountSpec] = Field(default_factory=list)
    hostname: str | None = None
    workdir: str | None = None
    user: str | None = None
    dns: list[str] | None = Field(
        None, description="Name servers for the container (e.g. 127.0.0.1 so that failing lookups never leave the host)"
    )
    privileged: bool = False
    cap_add: list[Annotated[str, Field(pattern=r"^[A-Z_]+$")]] = Field(
        default_factory=list, description="Capabilities added to the default set, e.g. SYS_ADMIN"
    )
    seccomp: Literal["default", "unconfined"] = "default"
    unmask_paths: bool = Field(False, description="Lift the engine's masked and read-only /proc paths")
    no_new_privileges: bool = False
    pull: Literal["missing", "never"] = Field(
        "never",
        description="never (the default): fail rather than pull an image that is not present, so "
        "a misspelt image never sends traffic to a registry; missing: let the engine pull",
    )
    detach: bool = False
    remove: bool = Field(False, description="Remove the container when it exits (run --rm)")
    timeout: float = Field(120.0, gt=0, le=3600)

    @model_validator(mode="after")
    def _publish_all_named(self):
        if self.publish_all and self.name is None:
            raise ValueError("publish_all: give the container a name, so that {{ port.NAME.PORT }} can find its ports")
        return self


class ExecStepBody(Strict):
    container: Name
    command: list[str]
    timeout: float = Field(60.0, gt=0, le=3600)


class StopStepBody(Strict):
    container: Name
    timeout: float = Field(10.0, ge=0, le=600)


def container_name(ctx: ItemContext, local: str) -> str:
    real = ctx.containers.get(local)
    if real is None:
        raise StepError(f"no container named '{local}' was run earlier in this scenario")
    return real


@register
class Run(StepKind):
    kind = "run"
    body_model = RunStepBody
    is_command = True
    inspect_target = "container"

    def must_exit_zero(self, body: RunStepBody) -> bool:
        return not body.detach  # a detached run has no exit code yet

    def check_names(self, body: dict, at: KeyPath, book: NameBook) -> None:
        image = body.get("image")
        if isinstance(image, str) and not placeholders(image) and not any(c in image for c in "/:@"):
            # A bare name is a tag built in this scenario; anything else would be pulled from a registry.
            book.use(
                "image",
                image,
                at + ("image",),
                hint="; an image the engine already has "
                "is named in full (registry/name:tag) and run with `pull: missing` or never",
            )
        network = body.get("network")
        if isinstance(network, str) and network not in BUILTIN_NETWORKS:
            book.note_use("network", network)
        if isinstance(network, str) and network not in BUILTIN_NETWORKS and network not in book.live("network"):
            close = did_you_mean(network, [*BUILTIN_NETWORKS, *book.live("network")])
            book.report(
                at + ("network",),
                f"'{network}' is not one of 'bridge', 'host', 'none' or a network made by an earlier "
                f"network step" + (f" (did you mean '{close}'?)" if close else ""),
            )
        for j, mount in enumerate(found if isinstance(found := body.get("mounts"), list) else []):
            if isinstance(mount, dict) and "volume" in mount:
                book.use("volume", mount["volume"], at + ("mounts", j, "volume"))
        book.make("container", body.get("name"), at + ("name",))

    def published_ports(self, body: dict) -> Iterable[str]:
        for port in found if isinstance(found := body.get("ports"), list) else []:
            if isinstance(port, dict) and isinstance(port.get("container"), int):
                yield f"{body.get('name') or '?'}.{port['container']}"
        if body.get("publish_all") is True:
            yield f"{body.get('name') or '?'}.{ANY_PORT}"  # which ports: the image says, at run time

    def needs(self, body: RunStepBody) -> list[str]:
        needs = []
        if body.network in BUILTIN_NETWORKS:
            needs.append(f"network.{body.network}")
        else:
            needs.append("network.user_defined")
        if body.ports or body.publish_all:
            needs.append("ports.publish")
        if any(m.bind is None for m in body.mounts):
            needs.append("volumes.named")
        if any(m.bind for m in body.mounts):
            needs.append("mounts.bind")
        return needs

    def execute(self, ctx: ItemContext, body: RunStepBody) -> StepOutcome:
        local = body.name or f"run{len(ctx.containers)}"
        name = ctx.real_name(local)
        image = ctx.render(body.image)
        image = ctx.images.get(image, image)
        network = body.network
        aliases: tuple[str, ...] = ()
        if network not in BUILTIN_NETWORKS:
            network = ctx.networks.get(network) or _missing("network", network)
            aliases = (local,)
        ports = []
        wanted: list[Published] = [(p.container, p.host, p.protocol) for p in body.ports]
        if body.publish_all:
            try:
                wanted += exposed_ports(ctx, image, wanted)
            except EngineError as exc:
                return refused(exc, name)
        for container_port, host, protocol in wanted:
            host_port = host or ctx.host_port()
            ctx.ports[f"{local}.{container_port}"] = host_port
            ports.append(PortMapping(container_port=container_port, host_port=host_port, protocol=protocol))
        spec = RunSpec(
            image=image,
            name=name,
            command=None if body.command is None else tuple(ctx.render_data(body.command)),
            entrypoint=None if body.entrypoint is None else tuple(ctx.render_data(body.entrypoint)),
            env=ctx.render_data({k: v for k, v in body.env.items() if v is not None}),
            env_from_host=tuple(k for k, v in body.env.items() if v is None),
            network=network,
            network_aliases=aliases,
            ports=tuple(ports),
            mounts=tuple(mounts_of(ctx, body.mounts)),
            hostname=body.hostname and ctx.render(body.hostname),
            workdir=body.workdir,
            user=body.user,
            dns=None if body.dns is None else tuple(ctx.render_data(body.dns)),
            privileged=body.privileged,
            cap_add=tuple(body.cap_add),
            seccomp=body.seccomp,
            unmask_paths=body.unmask_paths,
            no_new_privileges=body.no_new_privileges,
            pull=body.pull,
            detach=body.detach,
            remove=body.remove,
            labels=ctx.labels,
            timeout=body.timeout,
        )
        ctx.containers[local] = name
        tracked = track(ctx, ResourceRef("container", id=name, name=name))
        try:
            result = ctx.engine.run(spec)
        except EngineError as exc:
            return refused(exc, name)
        if result.container.id and result.container.id != name and tracked in ctx.created:
            # The engine's id finds the container without a search by name (seatrial.harness.memory
            # inspects and a density round removes 1,000 containers by it).
            ctx.created[ctx.created.index(tracked)] = ResourceRef("container", id=result.container.id, name=name)
        return StepOutcome(
            exit_code=result.exit_code,
            stdout=result.stdout,
            stderr=result.stderr,
            container=name,
            duration=result.duration,
            warnings=result.warnings,
        )


def _missing(kind: str, name: str):
    raise StepError(f"no {kind} named '{name}' was created earlier in this scenario")


@register
class Exec(StepKind):
    kind = "exec"
    body_model = ExecStepBody
    is_command = True
    inspect_target = "container"

    def check_names(self, body: dict, at: KeyPath, book: NameBook) -> None:
        book.use("container", body.get("container"), at + ("container",))

    def needs(self, body: ExecStepBody) -> list[str]:
        return ["exec"]

    def execute(self, ctx: ItemContext, body: ExecStepBody) -> StepOutcome:
        name = container_name(ctx, body.container)
        try:
            result = ctx.engine.exec(name, tuple(ctx.render_data(body.command)), timeout=body.timeout)
        except EngineError as exc:
            return refused(exc, name)
        return StepOutcome(
            exit_code=result.exit_code,
            stdout=result.stdout,
            stderr=result.stderr,
            container=name,
            duration=result.duration,
        )


@register
class Stop(StepKind):
    kind = "stop"
    body_model = StopStepBody
    inspect_target = "container"

    def check_names(self, body: dict, at: KeyPath, book: NameBook) -> None:
        book.use("container", body.get("container"), at + ("container",))

    def execute(self, ctx: ItemContext, body: StopStepBody) -> StepOutcome:
        name = container_name(ctx, body.container)
        try:
            ctx.engine.stop(name, timeout=body.timeout)
        except EngineError as exc:
            return refused(exc, name)
        return StepOutcome(exit_code=0, container=name)
