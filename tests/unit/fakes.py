"""An in-memory engine for unit tests of the harness's own logic (planning, outcomes, reaping).

It implements the whole engine interface (tests/unit/test_fake_engine.py holds it to that) with
the behaviour the contract suite demands of real engines, so that a harness test can assert what
happened: a detached container runs until it is stopped or waited for, logs are what a run
printed, removal is forced and idempotent, `resources` filters by label, `inspect` gives the
normalized keys of engines/inspection.py. Every call is recorded in `calls`.

It proves nothing about any real engine: adapters are tested on real engines in tests/engines.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from seatrial.engines import inspection
from seatrial.engines.base import (
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

STOP_EXIT_CODE = 143  # what a container's pid 1 exits with on SIGTERM


def _digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


@dataclass
class RecordingEngine(Engine):
    """Holds resources in memory and records every call; knobs make it fail where tests need."""

    name: str = "fake"
    documented_capabilities: tuple = ()  # e.g. capsets.DOCKER_DEFAULT, for {{ engine_default_caps }}
    missing: dict = field(default_factory=dict)  # capability -> reason the engine lacks it
    held: list = field(default_factory=list)  # ResourceRefs the engine "has"
    calls: list = field(default_factory=list)
    stuck: set = field(default_factory=set)  # handles whose removal fails
    run_results: list = field(default_factory=list)  # (exit_code, stdout) of the next runs, in order
    exec_results: dict = field(default_factory=dict)  # argv -> (exit_code, stdout)
    refuse_runs: set = field(default_factory=set)  # local names (name suffixes) whose run the engine refuses
    containers: dict = field(default_factory=dict)  # name -> {"state", "exit_code", "stdout", "stderr", "image"}
    reaped: list = field(default_factory=list)  # sessions reap() was asked for

    # --- about the engine ---------------------------------------------------------------------
    def info(self) -> EngineInfo:
        """Available, with versions that say what it is."""
        return EngineInfo(
            name=self.name,
            is_available=True,
            client_version="fake",
            server_version="fake",
            oci_runtime="none",
            storage_driver="memory",
            cgroup_version="2",
        )

    def capabilities(self) -> Capabilities:
        """Everything but `missing`."""
        return Capabilities(missing=self.missing)

    # --- images -------------------------------------------------------------------------------
    def build(self, spec: BuildSpec) -> BuildResult:
        """An image tagged spec.tag: FROM unreported, one RUN a cache hit."""
        self.calls.append(("build", spec.tag))
        ref = self._hold(ResourceRef("image", id=_digest(spec.tag), name=spec.tag, labels=dict(spec.labels)))
        return BuildResult(
            image=ref,
            size=1,
            log="",
            duration=0.0,
            instructions=(InstructionCache(0, "FROM x", None), InstructionCache(1, "RUN make", True)),
        )

    def load(self, archive: Path) -> ResourceRef:
        """An image named after the archive's stem."""
        self.calls.append(("load", str(archive)))
        return self._hold(ResourceRef("image", id=_digest(str(archive)), name=f"{Path(archive).stem}:latest"))

    def tag(self, image: str, new_tag: str) -> None:
        """One more image ref with the same id; EngineError for an unknown image."""
        self.calls.append(("tag", image, new_tag))
        old = self._find("image", image, operation=f"tag of image {image!r}")
        self._hold(ResourceRef("image", id=old.id, name=new_tag, labels=dict(old.labels)))

    def save(self, image: str, archive: Path) -> None:
        """A docker-archive holding only its manifest (no layers: the fake has no files);
        EngineError for an unknown image."""
        import io
        import json
        import tarfile

        self.calls.append(("save", image, str(archive)))
        held = self._find("image", image, operation=f"save of image {image!r}")
        manifest = json.dumps([{"Config": f"{held.id}.json", "RepoTags": [held.name], "Layers": []}]).encode()
        with tarfile.open(archive, "w") as tar:
            info = tarfile.TarInfo("manifest.json")
            info.size = len(manifest)
            tar.addfile(info, io.BytesIO(manifest))

    def image_exists(self, image: str) -> bool:
        """Whether an image of that tag or id is held."""
        return any(r.kind == "image" and image in (r.id, r.name) for r in self.held)

    # --- containers ---------------------------------------------------------------------------
    def run(self, spec: RunSpec) -> RunResult:
        """Runs to completion with the next of `run_results` (default 0, ""), or stays running
        when detached; refuses names ending in one of `refuse_runs` the way an engine refuses a flag."""
        self.calls.append(("run", spec.name, spec.command))
        if any(spec.name.endswith(f"-{local}") for local in self.refuse_runs):
            raise EngineError(f"run of container {spec.name!r}", "unknown flag", exit_code=125)
        exit_code, stdout = self.run_results.pop(0) if self.run_results else (0, "")
        ref = ResourceRef("container", id=spec.name, name=spec.name, labels=dict(spec.labels))
        if not spec.remove:
            self._hold(ref)
        self.containers[spec.name] = {
            "state": "running" if spec.detach else "exited",
            "image": spec.image,
            "exit_code": exit_code,
            "stdout": stdout,
            "stderr": "",
        }
        if spec.detach:
            return RunResult(ref, None, "", "", 0.0)
        return RunResult(ref, exit_code, stdout, "", 0.0)

    def exec(self, container: str, argv: tuple[str, ...], *, timeout: float = 60.0) -> ExecResult:
        """The result set in `exec_results` for argv (default 0, ""); EngineError when the
        container is not running."""
        self.calls.append(("exec", container, argv))
        if self._container(container, f"exec in container {container!r}")["state"] != "running":
            raise EngineError(f"exec in container {container!r}", "container is not running")
        exit_code, stdout = self.exec_results.get(tuple(argv), (0, ""))
        return ExecResult(exit_code, stdout, "", 0.0)

    def logs(self, container: str) -> tuple[str, str]:
        """What the run printed."""
        record = self._container(container, f"logs of container {container!r}")
        return record["stdout"], record["stderr"]

    def wait(self, container: str, *, timeout: float) -> int:
        """A running container exits now with its run result's exit code."""
        self.calls.append(("wait", container))
        record = self._container(container, f"wait for container {container!r}")
        record["state"] = "exited"
        return record["exit_code"]

    def stop(self, container: str, *, timeout: float = 10.0) -> None:
        """A running container exits with 143 (SIGTERM); an exited one keeps its exit code."""
        self.calls.append(("stop", container))
        record = self._container(container, f"stop of container {container!r}")
        if record["state"] == "running":
            record.update(state="exited", exit_code=STOP_EXIT_CODE)

    def inspect(self, ref: ResourceRef):
        """The normalized keys of engines/inspection.py, from a Docker-shaped document."""
        held = self._find(ref.kind, ref.handle, operation=f"inspect of {ref.kind} {ref.handle!r}")
        raw: dict = {"Id": held.id, "Name": held.name, "Labels": dict(held.labels)}
        if ref.kind == "container":
            record = self.containers.get(held.handle, {})
            raw.update(
                Config={"Image": record.get("image", ""), "Labels": dict(held.labels)},
                State={"Status": record.get("state", "created"), "ExitCode": record.get("exit_code")},
            )
        elif ref.kind == "image":
            raw.update(
                RepoTags=[r.name for r in self.held if r.kind == "image" and r.id == held.id and r.name],
                Size=1,
                Config={"Labels": dict(held.labels)},
            )
        return inspection.NORMALIZERS[ref.kind](raw)

    # --- networks, volumes, removal -----------------------------------------------------------
    def network_create(self, spec: NetworkSpec) -> ResourceRef:
        """A held network; EngineError when the name is taken."""
        self.calls.append(("network_create", spec.name))
        return self._create("network", spec.name, spec.labels)

    def volume_create(self, spec: VolumeSpec) -> ResourceRef:
        """A held volume; EngineError when the name is taken."""
        self.calls.append(("volume_create", spec.name))
        return self._create("volume", spec.name, spec.labels)

    def remove(self, ref: ResourceRef) -> None:
        """Forced and idempotent; EngineError for a handle in `stuck`."""
        self.calls.append(("remove", ref.kind, ref.handle))
        if ref.handle in self.stuck:
            raise EngineError(f"remove {ref.kind} {ref.handle}", "in use")
        self.held = [r for r in self.held if not (r.kind == ref.kind and ref.handle in (r.handle, r.id))]
        if ref.kind == "container":
            self.containers.pop(ref.handle, None)

    def resources(self, label: str) -> list[ResourceRef]:
        """What carries `label` ("key" or "key=value")."""
        key, _, value = label.partition("=")
        return [r for r in self.held if key in r.labels and (not value or r.labels[key] == value)]

    def testinfra_host(self, container: str):
        """Refused: no process runs in the fake, so a file check through it would prove nothing."""
        raise EngineError(
            f"testinfra host of container {container!r}",
            "the fake engine runs no processes; give it missing={'inspect.files': ...}",
        )

    def reap(self, session: str) -> list[str]:
        """Records the session; the fake makes nothing that `remove` cannot reach."""
        self.reaped.append(session)
        return []

    def prune(self) -> list[str]:
        """Recorded; nothing belongs to no session in the fake (it commits no layers)."""
        self.calls.append(("prune",))
        return []

    def prune_caches(self) -> PruneReport:
        """Removes the images labelled with a session that lost their tag (none, in memory)."""
        self.calls.append(("prune_caches",))
        return PruneReport(note="the fake engine keeps no build cache")

    # --- helpers ------------------------------------------------------------------------------
    def _hold(self, ref: ResourceRef) -> ResourceRef:
        self.held = [r for r in self.held if not (r.kind == ref.kind and r.handle == ref.handle)] + [ref]
        return ref

    def _find(self, kind: str, handle: str, *, operation: str) -> ResourceRef:
        for ref in self.held:
            if ref.kind == kind and handle in (ref.handle, ref.id):
                return ref
        raise EngineError(operation, f"no such {kind}: {handle}")

    def _container(self, name: str, operation: str) -> dict:
        if name not in self.containers:
            raise EngineError(operation, f"no such container: {name}")
        return self.containers[name]

    def _create(self, kind: str, name: str, labels) -> ResourceRef:
        if any(r.kind == kind and r.name == name for r in self.held):
            raise EngineError(f"create of {kind} {name!r}", f"{kind} with name {name} already exists")
        return self._hold(ResourceRef(kind, id=name, name=name, labels=dict(labels)))
