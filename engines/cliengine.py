"""The part of the Docker and Podman adapters that is the same on both: their CLIs agree here.

Subclasses (docker.py, podman.py) supply what differs: how to ask for versions and state, how
a build is invoked and its output read, how to test that an image exists, which testinfra
backend reaches a container.
"""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from seatrial.engines import inspection
from seatrial.engines.base import (
    CAPABILITIES,
    SESSION_LABEL,
    BuildResult,
    BuildSpec,
    Capabilities,
    Engine,
    EngineError,
    EngineInfo,
    ExecResult,
    InstructionCache,
    NetworkSpec,
    PruneReport,
    ResourceRef,
    RunResult,
    RunSpec,
    VolumeSpec,
)
from seatrial.engines.client import (
    ABSENT,
    CLIENT_FAILURES,
    INSPECT_ARGS,
    LIST_ARGS,
    REMOVE_ARGS,
    Cli,
    failure,
    label_args,
    run_args,
)
from seatrial.engines.hosts import container_host
from seatrial.engines.notices import engine_warnings
from seatrial.engines.remote import Placeable, missing_here, own_resources, stamped

# A host interface that went away while the engine listed them (see network_create)
INTERFACE_GONE = re.compile(r"no such network interface")
NETWORK_CREATE_ATTEMPTS = 5


class CliEngine(Placeable, Engine):
    """An Engine driven through a Docker-compatible command-line client."""

    name = "cli"
    testinfra_scheme = "docker"
    remove_args = REMOVE_ARGS
    unmask_option = "systempaths=unconfined"  # --security-opt value that lifts masked paths

    def __init__(self, cli: Cli):
        self.cli = cli

    # --- what subclasses provide --------------------------------------------------------------
    def info(self) -> EngineInfo:
        raise NotImplementedError

    def image_exists(self, image: str) -> bool:
        raise NotImplementedError

    def _build_args(self, spec: BuildSpec, iidfile: Path) -> list[str]:
        raise NotImplementedError

    def _cache_report(self, log: str, spec: BuildSpec) -> list[InstructionCache]:
        raise NotImplementedError

    # --- shared -------------------------------------------------------------------------------
    def capabilities(self) -> Capabilities:
        """Everything when the engine answers; nothing, with the reason, when it does not."""
        info = self.info()
        if not info.is_available:
            return Capabilities({c: info.unavailable_reason for c in CAPABILITIES})
        missing = dict(self._missing_capabilities(info))
        if not info.is_rootless:
            missing["rootless"] = f"{self.name} runs as root {'there' if self.remote else 'here'}"
        if self.remote:
            missing.update(missing_here(self.name, self.remote))
        return Capabilities(missing)

    def _missing_capabilities(self, info: EngineInfo) -> Mapping[str, str]:
        return {}

    def build(self, spec: BuildSpec) -> BuildResult:
        """Build, then read the image id from --iidfile and the cache report from the log."""
        spec = stamped(spec, self.remote)
        start = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="seatrial-build-") as tmp:
            iidfile = Path(tmp) / "iid"
            proc = self.cli.run(
                "build", self._build_args(spec, iidfile), timeout=spec.timeout, check=False, merge_stderr=True
            )
            duration = time.monotonic() - start
            if proc.returncode != 0:
                raise EngineError(
                    f"build of {spec.tag!r}",
                    f"exit code {proc.returncode}; log tail: {proc.stdout[-2000:]!r}",
                    exit_code=proc.returncode,
                )
            image_id = iidfile.read_text().strip()
        doc = self.inspect(ResourceRef("image", image_id, spec.tag))
        return BuildResult(
            image=ResourceRef("image", doc["id"], spec.tag, doc["labels"]),
            size=doc["size"],
            instructions=tuple(self._cache_report(proc.stdout, spec)),
            log=proc.stdout,
            duration=duration,
            warnings=engine_warnings(proc.stdout),
        )

    def _common_build_args(self, spec: BuildSpec, iidfile: Path) -> list[str]:
        args = [
            "build",
            "--force-rm",
            "--iidfile",
            str(iidfile),
            "--tag",
            spec.tag,
            "--file",
            str(Path(spec.context) / spec.dockerfile),
            *label_args(spec.labels),
        ]
        args += [a for k, v in sorted(spec.build_args.items()) for a in ("--build-arg", f"{k}={v}")]
        args += ["--target", spec.target] if spec.target else []
        args += ["--no-cache"] if spec.no_cache else []
        return args

    def load(self, archive: Path) -> ResourceRef:
        """`load -i` a docker-archive; the ref names the first tag the engine reports."""
        proc = self.cli.run("load", ["load", "-i", str(archive)], timeout=300)
        found = re.findall(r"^Loaded image(?:\(s\))?: (\S+)", proc.stdout, re.MULTILINE)
        if not found:
            raise EngineError("load", f"no 'Loaded image:' line in {proc.stdout[-500:]!r}")
        tag = found[0].split(",")[0]
        doc = self.inspect(ResourceRef("image", "", tag))
        return ResourceRef("image", doc["id"], tag, doc["labels"])

    def save(self, image: str, archive: Path) -> None:
        """`save -o`: the image as a docker-archive tarball (both engines' default format)."""
        self.cli.run(f"save of image {image!r}", ["save", "-o", str(archive), "--", image], timeout=300)

    def tag(self, image: str, new_tag: str) -> None:
        """Give `image` another name."""
        self.cli.run("tag", ["tag", "--", image, new_tag])

    def run(self, spec: RunSpec) -> RunResult:
        """`run`: detached (exit_code None) or attached with stdout and stderr kept apart."""
        spec = stamped(spec, self.remote)
        start = time.monotonic()
        operation = f"run of container {spec.name!r}"
        try:
            proc = self.cli.run(
                operation, ["run", *run_args(spec, self.unmask_option)], timeout=spec.timeout, check=False
            )
        except EngineError:
            self.remove(ResourceRef("container", "", spec.name))  # do not leave it running
            raise
        duration = time.monotonic() - start
        if spec.detach:
            if proc.returncode != 0:
                raise failure(operation, proc)
            ref = ResourceRef("container", proc.stdout.strip(), spec.name, dict(spec.labels))
            return RunResult(ref, None, "", proc.stderr, duration, engine_warnings(proc.stderr))
        if proc.returncode in CLIENT_FAILURES and not self._container_ran(spec, proc.stderr):
            raise failure(operation, proc)
        # The container's own stderr is in there too: only the engines' own forms count (notices.py).
        return RunResult(
            ResourceRef("container", "", spec.name, dict(spec.labels)),
            proc.returncode,
            proc.stdout,
            proc.stderr,
            duration,
            engine_warnings(proc.stderr),
        )

    def _container_ran(self, spec: RunSpec, stderr: str) -> bool:
        """Whether 125-127 came from the container's process rather than from the client."""
        if spec.remove:
            # The container is gone; the client's own errors are the ones that name it.
            return not re.search(r"^(docker: )?Error", stderr, re.MULTILINE)
        proc = self.cli.run(
            "inspect", ["container", "inspect", "--format", "{{.State.StartedAt}}", "--", spec.name], check=False
        )
        return proc.returncode == 0 and not proc.stdout.startswith("0001-01-01")

    def exec(self, container: str, argv: tuple[str, ...], *, timeout: float = 60.0) -> ExecResult:
        """Run argv in a running container; a missing container is an error, not exit code 1."""
        start = time.monotonic()
        proc = self.cli.run(
            f"exec in container {container!r}", ["exec", "--", container, *argv], timeout=timeout, check=False
        )
        if proc.returncode != 0 and ABSENT.search(proc.stderr) and container in proc.stderr:
            raise failure(f"exec in container {container!r}", proc)
        return ExecResult(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - start)

    def logs(self, container: str) -> tuple[str, str]:
        """(stdout, stderr) of the container so far."""
        proc = self.cli.run(f"logs of container {container!r}", ["logs", "--", container])
        return proc.stdout, proc.stderr

    def wait(self, container: str, *, timeout: float) -> int:
        """Wait for the container to exit and return its exit code."""
        proc = self.cli.run(f"wait for container {container!r}", ["wait", "--", container], timeout=timeout)
        return int(proc.stdout.strip().splitlines()[-1])

    def stop(self, container: str, *, timeout: float = 10.0) -> None:
        """Stop with SIGTERM, then SIGKILL after `timeout` seconds."""
        self.cli.run(
            f"stop of container {container!r}",
            ["stop", "--time", str(int(timeout)), "--", container],
            timeout=timeout + 30,
        )

    def inspect(self, ref: ResourceRef) -> Mapping:
        """Normalized keys (see inspection.py) plus the raw document under "raw"."""
        docs = self.cli.json(
            f"inspect of {ref.kind} {ref.handle!r}", [*INSPECT_ARGS[ref.kind], "--", ref.id or ref.name]
        )
        return inspection.NORMALIZERS[ref.kind](docs[0])

    def remove(self, ref: ResourceRef) -> None:
        """Remove, forcefully; what is already gone is not an error."""
        # An image by id loses all its tags; by name only that one tag would go.
        handle = ref.id or ref.name if ref.kind == "image" else ref.handle
        proc = self.cli.run(
            f"remove of {ref.kind} {handle!r}", [*self.remove_args[ref.kind], "--", handle], check=False
        )
        if proc.returncode != 0 and not ABSENT.search(proc.stderr):
            raise failure(f"remove of {ref.kind} {handle!r}", proc)

    def network_create(self, spec: NetworkSpec) -> ResourceRef:
        """A user-defined bridge network (name resolution between its containers).

        Podman 4 picks a free subnet by listing the host's interfaces and then each one's
        addresses; an interface removed in between (another container's veth, on a busy host)
        fails the whole create with Go's "route ip+net: no such network interface". Nothing was
        made then, so the create is tried again."""
        spec = stamped(spec, self.remote)
        args = ["network", "create", "--driver", spec.driver, *label_args(spec.labels)]
        args += ["--internal"] if spec.internal else []
        operation = f"create of network {spec.name!r}"
        for attempt in range(1, NETWORK_CREATE_ATTEMPTS + 1):
            proc = self.cli.run(operation, [*args, "--", spec.name], check=False)
            if proc.returncode == 0:
                break
            if attempt == NETWORK_CREATE_ATTEMPTS or not INTERFACE_GONE.search(proc.stderr):
                raise failure(operation, proc)
            time.sleep(0.05 * attempt)
        doc = self.inspect(ResourceRef("network", "", spec.name))
        return ResourceRef("network", doc["id"], spec.name, doc["labels"])

    def volume_create(self, spec: VolumeSpec) -> ResourceRef:
        """A named local volume."""
        spec = stamped(spec, self.remote)
        self.cli.run(f"create of volume {spec.name!r}", ["volume", "create", *label_args(spec.labels), "--", spec.name])
        return ResourceRef("volume", spec.name, spec.name, dict(spec.labels))

    def resources(self, label: str) -> list[ResourceRef]:
        """Every container, image, network and volume carrying `label` ("key" or "key=value").

        Intermediate build images count (both builders copy `--label`s into them), and images
        come children first, so that removing in this order never meets "has dependent child images".
        """
        found: list[ResourceRef] = []
        for kind in ("container", "image", "network", "volume"):
            ids = self.cli.run(f"list of {kind}s", [*LIST_ARGS[kind], "--filter", f"label={label}"])
            handles = list(dict.fromkeys(ids.stdout.split()))  # Podman repeats multi-tag images
            if not handles:
                continue
            # One inspect per kind; something removed meanwhile makes it fail for that one only.
            proc = self.cli.run(f"inspect of {kind}s", [*INSPECT_ARGS[kind], "--", *handles], check=False)
            docs = [inspection.NORMALIZERS[kind](doc) for doc in inspection.json_list(proc.stdout)]
            for n in inspection.children_first(docs) if kind == "image" else docs:
                name = "" if kind == "image" else n["name"]
                found.append(ResourceRef(kind, n["id"], name, n["labels"]))
        return own_resources(found, self.remote)

    def prune_caches(self) -> PruneReport:
        """Dangling images labelled with a seatrial session: what a rebuild under the same tag
        leaves (the old image loses its tag). Tagged images (seatrial/base:* among them) and
        images a container uses are kept."""

        def dangling() -> list[str]:
            listed = self.cli.run(
                "list of dangling seatrial images",
                ["images", "-q", "--no-trunc", "--filter", "dangling=true", "--filter", f"label={SESSION_LABEL}"],
            )
            return list(dict.fromkeys(listed.stdout.split()))

        before = dangling()
        if before:
            self.cli.run("removal of dangling seatrial images", ["rmi", "--", *before], check=False)
        removed = len(set(before) - set(dangling()))
        return PruneReport(removed, None, (f"{removed} dangling images labelled {SESSION_LABEL}",))

    def testinfra_host(self, container: str):
        """A pytest-testinfra Host that execs into `container` with this engine's own client."""
        return container_host(self.testinfra_scheme, self.cli.binary, container, client_args=self.cli.args)
