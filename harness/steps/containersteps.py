"""`run`, `exec`, `stop` and `wait`: containers and the commands inside them."""
from __future__ import annotations

import time

from seatrial.harness.itemcontext import ItemContext, StepError
from seatrial.engines.base import EngineError, Mount, PortMapping, ResourceRef, RunSpec
from seatrial.harness.hostports import free_port
from seatrial.harness.model import ExecStepBody, RunStepBody, StopStepBody, WaitStepBody
from seatrial.harness.steps.stepkind import StepOutcome, StepRunner, refused, register, track
from seatrial.harness.steps.resources import create_volume

BUILTIN_NETWORKS = ("bridge", "host", "none")


def container_name(ctx: ItemContext, local: str) -> str:
    real = ctx.containers.get(local)
    if real is None:
        raise StepError(f"no container named '{local}' was run earlier in this scenario")
    return real


@register
class Run(StepRunner):
    kind = "run"

    def needs(self, body: RunStepBody) -> list[str]:
        needs = []
        if body.network in BUILTIN_NETWORKS:
            needs.append(f"network.{body.network}")
        else:
            needs.append("network.user_defined")
        if body.ports:
            needs.append("ports.publish")
        if any(m.volume for m in body.mounts):
            needs.append("volumes.named")
        if any(m.bind for m in body.mounts):
            needs.append("mounts.bind")
        return needs

    def execute(self, ctx: ItemContext, body: RunStepBody) -> StepOutcome:
        local = body.name or f"run{len(ctx.containers)}"
        name = ctx.real_name(local)
        image = ctx.render(body.image)
        image = ctx.images.get(image, image)
        network, aliases = body.network, ()
        if network not in BUILTIN_NETWORKS:
            network = ctx.networks.get(network) or _missing("network", network)
            aliases = (local,)
        ports = []
        for port in body.ports:
            host_port = port.host or free_port()
            ctx.ports[f"{local}.{port.container}"] = host_port
            ports.append(PortMapping(container_port=port.container, host_port=host_port, protocol=port.protocol))
        spec = RunSpec(
            image=image, name=name,
            command=None if body.command is None else tuple(ctx.render_data(body.command)),
            entrypoint=None if body.entrypoint is None else tuple(ctx.render_data(body.entrypoint)),
            env=ctx.render_data(dict(body.env)), network=network, network_aliases=aliases,
            ports=tuple(ports), mounts=tuple(self._mounts(ctx, body)),
            hostname=body.hostname and ctx.render(body.hostname), workdir=body.workdir, user=body.user,
            dns=None if body.dns is None else tuple(ctx.render_data(body.dns)), privileged=body.privileged,
            cap_add=tuple(body.cap_add), seccomp=body.seccomp, unmask_paths=body.unmask_paths,
            no_new_privileges=body.no_new_privileges, pull=body.pull, detach=body.detach, remove=body.remove, labels=ctx.labels, timeout=body.timeout)
        ctx.containers[local] = name
        track(ctx, ResourceRef("container", id=name, name=name))
        try:
            result = ctx.engine.run(spec)
        except EngineError as exc:
            return refused(exc, name)
        return StepOutcome(exit_code=result.exit_code, stdout=result.stdout, stderr=result.stderr,
                           container=name, duration=result.duration, warnings=result.warnings)

    def _mounts(self, ctx: ItemContext, body: RunStepBody) -> list[Mount]:
        mounts = []
        for m in body.mounts:
            if m.volume:
                volume = ctx.volumes.get(m.volume)
                if volume is None:
                    # An engine would create it silently, without our labels: make it ourselves.
                    volume = create_volume(ctx, m.volume)
                mounts.append(Mount("volume", volume, m.target, m.read_only))
            else:
                source = ctx.render(m.bind)
                try:
                    ctx.inside_scratch(source).mkdir(parents=True, exist_ok=True)
                except StepError:
                    pass  # a host path outside scratch is used as it is, never created
                mounts.append(Mount("bind", source, m.target, m.read_only))
        return mounts


def _missing(kind: str, name: str):
    raise StepError(f"no {kind} named '{name}' was created earlier in this scenario")


@register
class Exec(StepRunner):
    kind = "exec"

    def needs(self, body: ExecStepBody) -> list[str]:
        return ["exec"]

    def execute(self, ctx: ItemContext, body: ExecStepBody) -> StepOutcome:
        name = container_name(ctx, body.container)
        try:
            result = ctx.engine.exec(name, tuple(ctx.render_data(body.command)), timeout=body.timeout)
        except EngineError as exc:
            return refused(exc, name)
        return StepOutcome(exit_code=result.exit_code, stdout=result.stdout, stderr=result.stderr,
                           container=name, duration=result.duration)


@register
class Stop(StepRunner):
    kind = "stop"

    def execute(self, ctx: ItemContext, body: StopStepBody) -> StepOutcome:
        name = container_name(ctx, body.container)
        try:
            ctx.engine.stop(name, timeout=body.timeout)
        except EngineError as exc:
            return refused(exc, name)
        return StepOutcome(exit_code=0, container=name)


@register
class Wait(StepRunner):
    """Bounded polling: run the command until it exits 0 or the timeout passes."""

    kind = "wait"

    def needs(self, body: WaitStepBody) -> list[str]:
        return ["exec"]

    def execute(self, ctx: ItemContext, body: WaitStepBody) -> StepOutcome:
        name = container_name(ctx, body.container)
        argv = tuple(ctx.render_data(body.command))
        deadline = time.monotonic() + body.timeout
        started = time.monotonic()
        attempts = 0
        while True:
            attempts += 1
            try:
                result = ctx.engine.exec(name, argv, timeout=max(1.0, deadline - time.monotonic()))
                outcome = StepOutcome(exit_code=result.exit_code, stdout=result.stdout, stderr=result.stderr,
                                      container=name)
            except EngineError as exc:
                outcome = refused(exc, name)
            if outcome.exit_code == 0 or time.monotonic() + body.interval > deadline:
                outcome.duration = time.monotonic() - started
                outcome.detail = {"attempts": attempts, "timed_out": outcome.exit_code != 0, "timeout": body.timeout}
                return outcome
            time.sleep(body.interval)
