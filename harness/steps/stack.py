"""`stack`: a Compose-file subset brought up and down by the harness, through the adapter.

Every engine runs the same stack because seatrial does what `compose up` does, in the open:
create the stack's networks and named volumes, build or name each service's image, and start
the services one by one in `depends_on` order, each attached to its network with the service
name as alias. `down` removes the containers and networks and keeps named volumes unless
`remove_volumes` is set. Names: containers are STACK.SERVICE (`{{ container.shop.web }}`,
`exec: {container: shop.web}`), volumes STACK.VOLUME, published ports
`{{ port.STACK.SERVICE.PORT }}`.
"""

from __future__ import annotations

from collections.abc import Iterable

from seatrial.engines.base import BuildSpec, EngineError, Mount, NetworkSpec, PortMapping, ResourceRef, RunSpec
from seatrial.harness.itemcontext import ItemContext
from seatrial.harness.problem import KeyPath
from seatrial.harness.stackmodel import ComposeFile, StackService, StackStepBody, start_order
from seatrial.harness.steps.buildsteps import context_path
from seatrial.harness.steps.namebook import NameBook
from seatrial.harness.steps.stepkind import StepKind, StepOutcome, create_volume, refused, register, track

# How long a dependency with condition service_completed_successfully may run (Compose waits
# without bound; a scenario must end).
COMPLETION_TIMEOUT = 120.0


@register
class Stack(StepKind):
    """The body's model is the Compose subset in harness/stackmodel.py."""

    kind = "stack"
    body_model = StackStepBody

    def needs(self, body: StackStepBody) -> list[str]:
        if body.compose is None:  # down: true (the model holds exactly one of them)
            return []
        services = body.compose.services.values()
        needs = ["network.user_defined"]
        needs += ["build"] if any(s.build for s in services) else []
        needs += ["ports.publish"] if any(s.ports for s in services) else []
        needs += ["volumes.named"] if any(s.volumes for s in services) else []
        return needs

    def check_names(self, body: dict, at: KeyPath, book: NameBook) -> None:
        """A stack's services are containers named STACK.SERVICE, its volumes STACK.VOLUME; `down`
        removes the containers (and the volumes with remove_volumes)."""
        name = body.get("name")
        if not isinstance(name, str):
            return
        compose = found if isinstance(found := body.get("compose"), dict) else {}
        services = compose.get("services")
        if isinstance(services, dict):
            for service in services:
                book.make("container", f"{name}.{service}", at + ("compose", "services", service))
            volumes = compose.get("volumes")
            for volume in volumes if isinstance(volumes, dict) else ():
                if f"{name}.{volume}" not in book.live("volume"):  # a second `up` reuses a kept volume
                    book.make("volume", f"{name}.{volume}", at + ("compose", "volumes", volume))
        elif body.get("down") is True:
            prefix = f"{name}."
            live = [c for c in book.live("container") if c.startswith(prefix)]
            if not live and not book.is_uncertain:
                book.report(at + ("name",), f"stack '{name}' is not brought up by an earlier stack step")
            for container in live:
                book.remove("container", container, at + ("name",))
            if body.get("remove_volumes") is True:
                for volume in [v for v in book.live("volume") if v.startswith(prefix)]:
                    book.remove("volume", volume, at + ("remove_volumes",))

    def published_ports(self, body: dict) -> Iterable[str]:
        compose = found if isinstance(found := body.get("compose"), dict) else {}
        services = found if isinstance(found := compose.get("services"), dict) else {}
        for service, spec in services.items():
            ports = spec.get("ports") if isinstance(spec, dict) else None
            for port in ports if isinstance(ports, list) else []:
                yield f"{body.get('name')}.{service}.{str(port).split(':')[-1].split('/')[0]}"

    def execute(self, ctx: ItemContext, body: StackStepBody) -> StepOutcome:
        try:
            if body.compose is None:  # down: true (the model holds exactly one of them)
                return down(ctx, body.name, remove_volumes=body.remove_volumes)
            return up(ctx, body.name, body.compose)
        except EngineError as exc:
            return refused(exc)


def up(ctx: ItemContext, stack: str, compose: ComposeFile) -> StepOutcome:
    """Networks, volumes, then each service in start order; stdout lists the order used."""
    local = lambda name: f"{stack}.{name}"  # noqa: E731
    used = {(s.networks or ["default"])[0] for s in compose.services.values()}
    for network in [n for n in compose.networks if n in used] + (["default"] if "default" in used else []):
        real = ctx.real_name(local(network))
        track(ctx, ctx.engine.network_create(NetworkSpec(name=real, labels=ctx.labels)))
        ctx.networks[local(network)] = real
    for volume in compose.volumes:
        if local(volume) not in ctx.volumes:  # kept by an earlier `down`: reuse it, as compose does
            create_volume(ctx, local(volume))
    order = start_order(compose)
    started: list[str] = []
    ctx.stacks[stack] = started
    for service in order:
        problem = _await_dependencies(ctx, stack, service, compose.services[service])
        if problem:
            return StepOutcome(exit_code=1, stdout="".join(f"{s}\n" for s in started), stderr=problem + "\n")
        _start(ctx, stack, service, compose.services[service])
        started.append(service)
    return StepOutcome(exit_code=0, stdout="".join(f"{s}\n" for s in order))


def _await_dependencies(ctx: ItemContext, stack: str, service: str, spec: StackService) -> str | None:
    """Wait for each dependency whose condition is service_completed_successfully to exit; what
    went wrong (as Compose says it), or None. service_started needs nothing more: it was started."""
    for dependency, condition in spec.conditions().items():
        if condition != "service_completed_successfully":
            continue
        code = ctx.engine.wait(ctx.containers[f"{stack}.{dependency}"], timeout=COMPLETION_TIMEOUT)
        if code != 0:
            return (
                f"service '{dependency}' didn't complete successfully: exit {code} "
                f"(service '{service}' depends on it with condition service_completed_successfully)"
            )
    return None


def _start(ctx: ItemContext, stack: str, service: str, spec: StackService) -> None:
    local = f"{stack}.{service}"
    name = ctx.real_name(local)
    image = _image(ctx, local, spec)
    ports = []
    for port in spec.ports:
        host_port = ctx.host_port()
        ctx.ports[f"{local}.{port}"] = host_port
        ports.append(PortMapping(container_port=int(port), host_port=host_port))
    mounts = []
    for text in spec.volumes:
        volume, target, *mode = text.split(":")
        mounts.append(Mount("volume", ctx.volumes[f"{stack}.{volume}"], target, read_only=mode == ["ro"]))
    network = ctx.networks[f"{stack}.{(spec.networks or ['default'])[0]}"]
    run = RunSpec(
        image=image,
        name=name,
        network=network,
        network_aliases=(service,),
        command=None if spec.command is None else tuple(ctx.render_data(spec.command)),
        env=ctx.render_data(dict(spec.environment)),
        ports=tuple(ports),
        mounts=tuple(mounts),
        detach=True,
        pull="never",
        labels={**ctx.labels, "seatrial.stack": stack},
    )
    ctx.containers[local] = name
    track(ctx, ResourceRef("container", id=name, name=name))
    ctx.engine.run(run)


def _image(ctx: ItemContext, local: str, spec: StackService) -> str:
    if spec.image is not None:
        image = ctx.render(spec.image)
        return ctx.images.get(image, image)
    assert spec.build is not None  # the model holds exactly one of image, build
    directory = ctx.scratch / "stack-build" / local
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "Dockerfile").write_text(ctx.render(spec.build.dockerfile))
    for path, content in spec.build.files.items():
        target = context_path(directory, path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(ctx.render(content))
    tag = ctx.real_name(local)
    result = ctx.engine.build(BuildSpec(tag=tag, context=directory, labels=ctx.labels))
    track(ctx, result.image)
    ctx.images[local] = tag
    return tag


def down(ctx: ItemContext, stack: str, *, remove_volumes: bool) -> StepOutcome:
    """Containers in reverse start order, then the stack's networks (and volumes if asked)."""
    prefix = f"{stack}."
    for service in reversed(ctx.stacks.pop(stack, [])):
        real = ctx.containers.pop(prefix + service, None)
        if real:
            ctx.engine.remove(ResourceRef("container", id=real, name=real))
    for local in [n for n in ctx.networks if n.startswith(prefix)]:
        real = ctx.networks.pop(local)
        ctx.engine.remove(ResourceRef("network", id=real, name=real))
    if remove_volumes:
        for local in [v for v in ctx.volumes if v.startswith(prefix)]:
            real = ctx.volumes.pop(local)
            ctx.engine.remove(ResourceRef("volume", id=real, name=real))
    return StepOutcome(exit_code=0)
