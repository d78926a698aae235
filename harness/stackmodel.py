"""The `stack` step's format: a subset of the Compose file, given inline in a scenario.

The subset is what claims C25 and C26 need and what every engine can carry out through the
adapter: services with `image` or `build`, `command`, `environment`, `ports`, named `volumes`,
`networks` and `depends_on` (a list, or Compose's long form with `condition: service_started` or
`service_completed_successfully`); top-level `volumes` and `networks`. The same mapping, written to a
file, is a valid Compose file, so docker-compose can run it too (tests/e2e compares the two).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Name = Annotated[
    str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,30}$", description="A service, network or volume name of the stack")
]
PortText = Annotated[
    str,
    Field(
        pattern=r"^[0-9]{1,5}$",
        description=("A container port, published on a free loopback port; read it as {{ port.STACK.SERVICE.PORT }}"),
    ),
]
VolumeText = Annotated[
    str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*:/[^:]*(:ro)?$", description="NAME:/path[:ro], NAME a volume of the stack")
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StackBuild(_Strict):
    """An image built for the service from an inline Dockerfile and context files."""

    dockerfile: str
    files: dict[str, str] = Field(default_factory=dict)


class Dependency(_Strict):
    """Compose's long form of one dependency: what it must reach before the dependent starts.
    `service_started` (the short form's meaning) orders container starts only: their commands then
    run side by side; `service_completed_successfully` waits until the dependency exited 0."""

    condition: Literal["service_started", "service_completed_successfully"] = "service_started"


def mount_target_problem(target: str) -> str | None:
    """Why a mount target is refused, or None: it must be an absolute path in the container with
    no `..` (an engine that resolved `..` on the host would mount or create outside the root)."""
    if not target.startswith("/"):
        return f"'{target}' is not an absolute path in the container"
    if ".." in target.split("/"):
        return f"'{target}' contains '..'; write the path without it"
    return None


class StackService(_Strict):
    """One service: one container, named after the service on every network of the stack."""

    image: str | None = None
    build: StackBuild | None = None
    command: list[str] | None = None
    environment: dict[str, str] = Field(default_factory=dict)
    ports: list[PortText] = Field(default_factory=list)
    volumes: list[VolumeText] = Field(default_factory=list)
    # One network per service: RunSpec attaches a container to one network at start, and the
    # claims (C25) need no more.
    networks: list[Name] = Field(
        default_factory=list, max_length=1, description="The service's network; default: the stack's `default` network"
    )
    depends_on: list[Name] | dict[Name, Dependency] = Field(default_factory=list)

    def conditions(self) -> dict[str, str]:
        """Each dependency and the condition it must reach (the short form's is service_started)."""
        if isinstance(self.depends_on, dict):
            return {name: dependency.condition for name, dependency in self.depends_on.items()}
        return dict.fromkeys(self.depends_on, "service_started")

    @model_validator(mode="after")
    def _image_or_build(self):
        if (self.image is None) == (self.build is None):
            raise ValueError("give exactly one of image, build")
        for volume in self.volumes:
            problem = mount_target_problem(volume.split(":")[1])
            if problem:
                raise ValueError(f"volumes: {problem}")
        return self


class ComposeFile(_Strict):
    """The Compose subset: services, and the named volumes and networks they use."""

    services: dict[Name, StackService] = Field(min_length=1)
    volumes: dict[Name, None] = Field(default_factory=dict)
    networks: dict[Name, None] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _references(self):
        problems = []
        for name, service in self.services.items():
            problems += [
                f"service '{name}' depends on unknown service '{d}'"
                for d in service.depends_on
                if d not in self.services
            ]
            problems += [
                f"service '{name}' uses undeclared network '{n}'"
                for n in service.networks
                if n not in self.networks and n != "default"
            ]
            problems += [
                f"service '{name}' uses undeclared volume '{v.split(':')[0]}'"
                for v in service.volumes
                if v.split(":")[0] not in self.volumes
            ]
        if problems:
            raise ValueError("; ".join(problems))
        start_order(self)  # raises on a cycle
        return self


class StackStepBody(_Strict):
    """Bring a stack up (`compose`) or down (`down: true`); `remove_volumes` also removes its
    named volumes, which `down` otherwise keeps (compose's `down -v`)."""

    name: Name
    compose: ComposeFile | None = None
    down: bool = False
    remove_volumes: bool = False

    @model_validator(mode="after")
    def _up_or_down(self):
        if (self.compose is None) == (not self.down):
            raise ValueError("give compose (up) or down: true, not both")
        if self.remove_volumes and not self.down:
            raise ValueError("remove_volumes goes with down: true")
        return self


def start_order(compose: ComposeFile) -> list[str]:
    """Services in an order where each comes after what it depends on (file order otherwise);
    a dependency cycle is a ValueError naming the services in it."""
    order: list[str] = []
    visiting: list[str] = []

    def visit(name: str) -> None:
        if name in order:
            return
        if name in visiting:
            raise ValueError("depends_on cycle: " + " -> ".join([*visiting[visiting.index(name) :], name]))
        visiting.append(name)
        for dependency in compose.services[name].depends_on:
            if dependency in compose.services:
                visit(dependency)
        visiting.pop()
        order.append(name)

    for service in compose.services:
        visit(service)
    return order
