"""`host_write`: a file or a Unix socket on the host, inside the item's scratch directory."""

from __future__ import annotations

import socket
from typing import Literal

from pydantic import Field, model_validator

from seatrial.harness.itemcontext import ItemContext
from seatrial.harness.modeltypes import Strict
from seatrial.harness.steps.stepkind import StepKind, StepOutcome, register


class HostWriteStepBody(Strict):
    """Write a file on the host, inside the item's scratch directory (`{{ scratch }}`), e.g. into
    a folder that a container bind-mounts; or make a Unix socket there, for a positive control
    that must find one without relying on what the host happens to have."""

    path: str
    content: str | None = Field(None, description="The file's text (a file needs it; a socket has none)")
    kind: Literal["file", "socket"] = Field(
        "file", description="file (default) or socket: a bound Unix socket, as an engine or daemon leaves one"
    )
    mode: str | None = Field(None, pattern=r"^0?[0-7]{3}$", description="Octal permissions, e.g. '0600'")

    @model_validator(mode="after")
    def _content_matches_kind(self):
        if self.kind == "file" and self.content is None:
            raise ValueError("content: a file needs content (use kind: socket for a socket)")
        if self.kind == "socket" and self.content is not None:
            raise ValueError("content: a socket has no content")
        return self


@register
class HostWrite(StepKind):
    kind = "host_write"
    body_model = HostWriteStepBody

    def execute(self, ctx: ItemContext, body: HostWriteStepBody) -> StepOutcome:
        path = ctx.inside_scratch(ctx.render(body.path))
        path.parent.mkdir(parents=True, exist_ok=True)
        if body.kind == "socket":
            # bind(2) leaves the socket's inode behind when the socket closes: that is what a
            # probe for engine sockets finds.
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.bind(str(path))
        else:
            assert body.content is not None  # the model requires content for a file
            path.write_text(ctx.render(body.content))
        if body.mode is not None:
            path.chmod(int(body.mode, 8))
        return StepOutcome(exit_code=0)
