"""`probe`: can the host reach a port? (published ports, host networking).

Only loopback and private addresses are allowed: a scenario must never send traffic to any
host but this one and the containers the run made."""

from __future__ import annotations

import socket
import time

from pydantic import Field

from seatrial.harness.hostports import allowed_address
from seatrial.harness.itemcontext import ItemContext, StepError
from seatrial.harness.modeltypes import Strict
from seatrial.harness.steps.stepkind import StepKind, StepOutcome, register


class ProbeStepBody(Strict):
    """Connect from the host to a TCP port on loopback or a container's private address; stdout
    is the first bytes of an HTTP response when `http_path` is given, exit code 0 when the
    connection was made and 1 when it was refused or timed out."""

    address: str = "127.0.0.1"
    port: int | str = Field(description="A number or a placeholder such as '{{ port.web.80 }}'")
    http_path: str | None = None
    timeout: float = Field(3.0, gt=0, le=60)


@register
class Probe(StepKind):
    kind = "probe"
    body_model = ProbeStepBody
    is_command = True

    def needs(self, body: ProbeStepBody) -> list[str]:
        # The connection starts on seatrial's machine: an engine elsewhere publishes there, not here.
        return ["host.probe"]

    def execute(self, ctx: ItemContext, body: ProbeStepBody) -> StepOutcome:
        address = ctx.render(body.address)
        if not allowed_address(address):
            raise StepError(
                f"probe: {address} is not a loopback or private address; seatrial only "
                "sends traffic to this host and its containers"
            )
        try:
            port = int(ctx.render(str(body.port)))
        except ValueError:
            raise StepError(f"probe: port {body.port!r} is not a number") from None
        started = time.monotonic()
        try:
            with socket.create_connection((address, port), timeout=body.timeout) as conn:
                data = b""
                if body.http_path is not None:
                    conn.sendall(f"GET {body.http_path} HTTP/1.0\r\nHost: {address}\r\n\r\n".encode())
                    conn.settimeout(body.timeout)
                    while chunk := conn.recv(65536):
                        data += chunk
                    _, _, data = data.partition(b"\r\n\r\n")
        except OSError as exc:
            return StepOutcome(exit_code=1, stderr=f"{address}:{port}: {exc}", duration=time.monotonic() - started)
        return StepOutcome(exit_code=0, stdout=data.decode(errors="replace"), duration=time.monotonic() - started)
