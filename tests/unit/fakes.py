"""A recording engine for unit tests of the harness's own logic (planning, outcomes, reaping).

It proves nothing about any real engine: adapters are tested on real engines in tests/engines.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from seatrial.engines.base import (BuildResult, Capabilities, EngineError, EngineInfo, ExecResult,
                                   InstructionCache, ResourceRef, RunResult)


@dataclass
class RecordingEngine:
    name: str = "fake"
    missing: dict = field(default_factory=dict)
    held: list = field(default_factory=list)       # ResourceRefs the engine "has"
    calls: list = field(default_factory=list)
    stuck: set = field(default_factory=set)        # handles whose removal fails
    run_results: list = field(default_factory=list)
    refuse_runs: set = field(default_factory=set)   # local names (name suffixes) whose run the engine refuses

    def info(self):
        return EngineInfo(name=self.name, is_available=True)

    def capabilities(self):
        return Capabilities(missing=self.missing)

    def build(self, spec):
        self.calls.append(("build", spec.tag))
        ref = ResourceRef("image", id=f"sha256:{spec.tag}", name=spec.tag, labels=dict(spec.labels))
        self.held.append(ref)
        return BuildResult(image=ref, size=1, log="", duration=0.0,
                           instructions=(InstructionCache(0, "FROM x", None), InstructionCache(1, "RUN make", True)))

    def run(self, spec):
        self.calls.append(("run", spec.name, spec.command))
        if any(spec.name.endswith(f"-{local}") for local in self.refuse_runs):
            raise EngineError(f"run of container {spec.name!r}", "unknown flag", exit_code=125)
        self.held.append(ResourceRef("container", id=spec.name, name=spec.name, labels=dict(spec.labels)))
        exit_code, stdout = self.run_results.pop(0) if self.run_results else (0, "")
        return RunResult(ResourceRef("container", spec.name, spec.name), exit_code, stdout, "", 0.0)

    def exec(self, container, argv, *, timeout=60.0):
        self.calls.append(("exec", container, argv))
        return ExecResult(0, "", "", 0.0)

    def remove(self, ref):
        self.calls.append(("remove", ref.kind, ref.handle))
        if ref.handle in self.stuck:
            raise EngineError(f"remove {ref.kind} {ref.handle}", "in use")
        self.held = [r for r in self.held if not (r.kind == ref.kind and r.handle == ref.handle)]

    def resources(self, label):
        key, _, value = label.partition("=")
        return [r for r in self.held if key in r.labels and (not value or r.labels[key] == value)]
