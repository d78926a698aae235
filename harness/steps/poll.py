"""`wait`: poll a command in a container until it exits 0 (or `expect` holds), within a bound.

The polling lives here, not in the engines: every engine is polled alike, and the step record
says how many tries it took (`detail`), which the runner shows when the bound ran out.
"""

from __future__ import annotations

import time

from pydantic import Field

from seatrial.engines.base import EngineError
from seatrial.harness.itemcontext import ItemContext
from seatrial.harness.modeltypes import Name, Strict
from seatrial.harness.problem import KeyPath
from seatrial.harness.steps.containersteps import container_name
from seatrial.harness.steps.namebook import NameBook
from seatrial.harness.steps.stepkind import StepKind, StepOutcome, refused, register


class WaitStepBody(Strict):
    """Poll a command in a container until it exits 0 (or `expect` holds), within a bound."""

    container: Name
    command: list[str]
    timeout: float = Field(30.0, gt=0, le=600)
    interval: float = Field(0.2, gt=0, le=10)


@register
class Wait(StepKind):
    """Bounded polling: run the command until it exits 0 or the timeout passes."""

    kind = "wait"
    body_model = WaitStepBody
    is_command = True
    inspect_target = "container"

    def check_names(self, body: dict, at: KeyPath, book: NameBook) -> None:
        book.use("container", body.get("container"), at + ("container",))

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
                outcome = StepOutcome(
                    exit_code=result.exit_code, stdout=result.stdout, stderr=result.stderr, container=name
                )
            except EngineError as exc:
                outcome = refused(exc, name)
            if outcome.exit_code == 0 or time.monotonic() + body.interval > deadline:
                outcome.duration = time.monotonic() - started
                outcome.detail = {"attempts": attempts, "timed_out": outcome.exit_code != 0, "timeout": body.timeout}
                return outcome
            time.sleep(body.interval)
