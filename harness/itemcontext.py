"""What one item (scenario x engine) knows while its steps run: real names for the scenario's
local names, captured values, the resources it made, and its scratch directory.

Scenario names are local (`web`, `shadow`); the engine sees them prefixed with the session and
item (`st-1a2b3c4d-3-web`), so items and sessions never collide and leftovers are attributable.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from seatrial.engines import capsets
from seatrial.engines.base import ENGINE_LABEL, SCENARIO_LABEL, SESSION_LABEL, BuildSpec, Engine, ResourceRef
from seatrial.harness.hostports import PortReservations
from seatrial.harness.session import Session
from seatrial.harness.templating import TemplateError, render, render_data

if TYPE_CHECKING:  # the scenario model imports the step kinds, which import this module
    from seatrial.harness.model import Scenario

ITEM_LABEL = "seatrial.item"


class StepError(RuntimeError):
    """The scenario asked for something impossible at run time (a name never created...)."""


@dataclass
class ItemContext:
    engine: Engine
    session: Session
    scenario: Scenario
    index: int
    base_image: Callable[[Engine], str]  # loads the suite's base image, returns its tag
    facts: dict[str, str] = field(default_factory=dict)
    captures: dict[str, str] = field(default_factory=dict)
    containers: dict[str, str] = field(default_factory=dict)
    images: dict[str, str] = field(default_factory=dict)
    networks: dict[str, str] = field(default_factory=dict)
    volumes: dict[str, str] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)  # "web.80" -> published host port
    free_ports: dict[str, int] = field(default_factory=dict)  # "free_port.x" -> a port reserved at first use
    reservations: PortReservations = field(default_factory=PortReservations)
    build_dirs: dict[str, Path] = field(default_factory=dict)
    stacks: dict[str, list[str]] = field(default_factory=dict)  # stack -> its services, in start order
    created: list[ResourceRef] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # "step N (kind): what the engine ignored"
    _item_base: str | None = None
    _scratch: Path | None = None

    @property
    def item_id(self) -> str:
        return f"{self.session.id}-{self.index}"

    @property
    def labels(self) -> dict[str, str]:
        return {
            SESSION_LABEL: self.session.id,
            ITEM_LABEL: self.item_id,
            SCENARIO_LABEL: self.scenario.name or "",
            ENGINE_LABEL: self.engine.name,
        }

    @property
    def scratch(self) -> Path:
        if self._scratch is None:
            self._scratch = self.session.scratch / f"item-{self.index}"
            self._scratch.mkdir(parents=True, exist_ok=True)
        return self._scratch

    def real_name(self, local: str) -> str:
        return f"{self.session.prefix()}-{self.index}-{local}"

    # --- placeholders -------------------------------------------------------------------------

    def lookup(self, name: str) -> str | None:
        if name == "base":
            return self.item_base()
        if name == "scratch":
            return str(self.scratch)
        if name == "empty_dir":
            return str(self.fresh_empty_dir())
        if name == "session":
            return self.session.id
        if name == "engine":
            return self.engine.name
        if name == "engine_default_caps":
            documented = self.engine.documented_capabilities
            return capsets.mask(documented) if documented else None
        if name.startswith("image."):
            return self.images.get(name[6:])
        if name.startswith("container."):
            return self.containers.get(name[10:])
        if name.startswith("host_env."):  # what `-e NAME` (env: {NAME: null}) passes on
            return os.environ.get(name[9:])
        if name.startswith("free_port."):
            if name not in self.free_ports:
                self.free_ports[name] = self.host_port()
            return str(self.free_ports[name])
        if name.startswith("port."):
            port = self.ports.get(name[5:])
            return None if port is None else str(port)
        if name in self.captures:
            return self.captures[name]
        return self.facts.get(name)

    def render(self, text: str) -> str:
        try:
            return render(text, self.lookup)
        except TemplateError as exc:
            known = sorted(
                [
                    "base",
                    "scratch",
                    "empty_dir",
                    "session",
                    "engine",
                    *self.captures,
                    *self.facts,
                    *(f"image.{t}" for t in self.images),
                    *(f"port.{p}" for p in self.ports),
                ]
            )
            raise StepError(f"{exc}; known: {', '.join(known)}") from None

    def render_data(self, value):
        try:
            return render_data(value, self.lookup)
        except TemplateError as exc:
            raise StepError(str(exc)) from None

    def fresh_empty_dir(self) -> Path:
        n = sum(1 for _ in self.scratch.glob("empty-*"))
        path = self.scratch / f"empty-{n}"
        path.mkdir()
        return path

    def inside_scratch(self, path: str) -> Path:
        """A host path a scenario may write: only inside this item's scratch directory."""
        resolved = Path(path).resolve()
        if not resolved.is_relative_to(self.scratch.resolve()):
            raise StepError(
                f"host path {path} is outside the item's scratch directory {self.scratch}; use '{{{{ scratch }}}}/...'"
            )
        return resolved

    # --- the base image -----------------------------------------------------------------------

    def item_base(self) -> str:
        """A per-item child of the suite's base image, labelled with the session and item.

        Why per item: build caches outlive images (BuildKit keeps its cache after `rmi`), so
        without a fresh parent a scenario's first build could hit layers of an earlier run or
        item. A LABEL alone does not do it: BuildKit keys its cache on the parent's layers, not
        its config, so the item's id goes into a layer too (/etc/seatrial/item). The LABEL is
        inherited by every image built on it, so the leak check and the reaper find
        intermediate layers as well."""
        if self._item_base is None:
            parent = self.base_image(self.engine)
            if not self.engine.capabilities().has("build"):
                return parent  # no builder, so no build cache to keep apart (the runtime floors)
            directory = self.scratch / "item-base"
            directory.mkdir(exist_ok=True)
            (directory / "item").write_text(self.item_id + "\n")
            labels = " ".join(f'"{k}"="{v}"' for k, v in sorted(self.labels.items()))
            (directory / "Dockerfile").write_text(f"FROM {parent}\nLABEL {labels}\nCOPY item /etc/seatrial/item\n")
            tag = self.real_name("base")
            result = self.engine.build(BuildSpec(tag=tag, context=directory, labels=self.labels))
            self.created.append(result.image)
            self._item_base = tag
        return self._item_base

    def host_port(self) -> int:
        """A loopback port for this item alone (no other worker or run gets it) until teardown."""
        return self.reservations.reserve()

    def cleanup_scratch(self) -> None:
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
