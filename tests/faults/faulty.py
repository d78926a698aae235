"""A fault-injecting engine for tests: a real engine with one behaviour broken on purpose.

A conformance check that cannot fail proves nothing. Each fault here breaks exactly one
behaviour that a claim of CLAIMS.md is about, at the adapter boundary (the specs going in, or
what an operation does), so that tests/e2e/test_faults.py can show the scenario for that claim
failing against it - and passing against the honest engine. Used only by tests.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from seatrial.engines.base import NetworkSpec, ResourceRef, RunSpec, VolumeSpec


@dataclass(frozen=True)
class Fault:
    """One broken behaviour, the claim it breaks, and the scenario that must catch it."""

    name: str
    claim: str
    scenario: str        # path under scenarios/
    description: str


FAULTS = {f.name: f for f in (
    Fault("ignore_published_ports", "C13", "network/expose-publishes-nothing.yaml", "drops ports from every run"),
    Fault("share_host_pid", "C02", "isolation/pid-namespace.yaml", "runs every container in the host's pid namespace"),
    Fault("no_build_cache", "C09", "build/cache-reuse.yaml", "builds with no_cache, so every layer is a miss"),
    Fault("drop_volume_on_remove", "C22", "storage/named-volume.yaml",
          "removing a container also empties the named volumes it mounted"),
    Fault("names_on_default_bridge", "C16", "network/default-bridge.yaml",
          "puts default-bridge containers on a hidden user network, where names resolve"),
    Fault("drop_hostname", "C03", "isolation/namespaces.yaml", "ignores the hostname option"),
    Fault("ignore_entrypoint_override", "C14", "build/cmd-entrypoint.yaml", "ignores an entrypoint override"),
    Fault("leak_writable_layer", "C21", "storage/writable-layer.yaml",
          "commits a container into its image when it is removed"),
    Fault("ignore_network_none", "C20", "network/no-network.yaml", "attaches network none containers to the bridge"),
    Fault("ignore_host_network", "C19", "network/host-network.yaml", "runs host network containers on the bridge"),
    Fault("one_user_network", "C18", "network/separate-networks.yaml", "puts every user-network container on the first one"),
    Fault("drop_network_aliases", "C17", "network/user-network-names.yaml", "no aliases on user networks"),
    Fault("ignore_run_env", "C12", "build/run-env-workdir.yaml", "ignores the environment given to run"),
    Fault("ignore_build_target", "C15", "build/multi-stage.yaml", "builds the last stage whatever the target"),
    Fault("drop_bind_mounts", "C24", "storage/bind-mount-shadowing.yaml", "ignores bind mounts"),
    Fault("add_sys_admin", "C31", "security/capabilities-seccomp.yaml", "adds CAP_SYS_ADMIN to every container"),
    Fault("unmask_paths", "C32", "security/masked-paths.yaml", "lifts the masked /proc and /sys paths"),
    Fault("latest_is_newest", "C28", "images/latest-is-a-tag.yaml", "moves :latest to every image tagged in a repository"),
    Fault("shared_writable_layer", "C07", "images/one-image-many-containers.yaml",
          "the first container of an image writes through to it: exec'd changes are committed"),
)}


class FaultyEngine:
    """Delegates everything to `inner` (a real engine) except the one behaviour `fault` breaks.
    It keeps the inner engine's name, so divergences documented for that engine still apply."""

    def __init__(self, inner, fault: str):
        self.inner = inner
        self.fault = FAULTS[fault]
        self.name = inner.name
        self._images: dict[str, str] = {}       # container -> image it was run from
        self._volumes: dict[str, list] = {}     # container -> volumes it mounted
        self._volume_labels: dict[str, dict] = {}
        self._networks: list[str] = []
        self._hidden: str | None = None

    def __getattr__(self, attribute):
        return getattr(self.inner, attribute)

    # --- the operations faults change --------------------------------------------------------
    def run(self, spec: RunSpec):
        spec = self._break_run(spec)
        self._images[spec.name] = spec.image
        self._volumes[spec.name] = [m.source for m in spec.mounts if m.kind == "volume"]
        return self.inner.run(spec)

    def _break_run(self, spec: RunSpec) -> RunSpec:
        change = dataclasses.replace
        fault = self.fault.name
        if fault == "ignore_published_ports":
            return change(spec, ports=())
        if fault == "share_host_pid":
            return change(spec, pid="host")
        if fault == "drop_hostname":
            return change(spec, hostname=None)
        if fault == "ignore_entrypoint_override":
            return change(spec, entrypoint=None)
        if fault == "ignore_network_none" and spec.network == "none":
            return change(spec, network="bridge")
        if fault == "ignore_host_network" and spec.network == "host":
            return change(spec, network="bridge")
        if fault == "one_user_network" and spec.network in self._networks:
            return change(spec, network=self._networks[0])
        if fault == "drop_network_aliases":
            return change(spec, network_aliases=())
        if fault == "ignore_run_env":
            return change(spec, env={})
        if fault == "drop_bind_mounts":
            return change(spec, mounts=tuple(m for m in spec.mounts if m.kind != "bind"))
        if fault == "add_sys_admin":
            return change(spec, cap_add=(*spec.cap_add, "SYS_ADMIN"))
        if fault == "unmask_paths":
            return change(spec, unmask_paths=True)
        if fault == "names_on_default_bridge" and spec.network == "bridge":
            if self._hidden is None:
                self._hidden = f"{spec.name}-fault-net"
                self.inner.network_create(NetworkSpec(name=self._hidden, labels=spec.labels))
            return change(spec, network=self._hidden, network_aliases=())
        return spec

    def build(self, spec):
        if self.fault.name == "no_build_cache":
            spec = dataclasses.replace(spec, no_cache=True)
        if self.fault.name == "ignore_build_target":
            spec = dataclasses.replace(spec, target=None)
        return self.inner.build(spec)

    def exec(self, container, argv, *, timeout=60.0):
        result = self.inner.exec(container, argv, timeout=timeout)
        if self.fault.name == "shared_writable_layer" and container in self._images:
            image = self._images[container]
            first = next(c for c, i in self._images.items() if i == image)
            if first == container:
                self._commit(container)
        return result

    def remove(self, ref: ResourceRef):
        if ref.kind == "container" and self.fault.name == "leak_writable_layer" and ref.handle in self._images:
            self._commit(ref.handle)
        self.inner.remove(ref)
        if ref.kind == "container" and self.fault.name == "drop_volume_on_remove":
            for volume in self._volumes.pop(ref.handle, []):
                self.inner.remove(ResourceRef("volume", volume, volume))
                self.inner.volume_create(VolumeSpec(name=volume, labels=self._volume_labels.get(volume, {})))

    def tag(self, image: str, new_tag: str) -> None:
        self.inner.tag(image, new_tag)
        if self.fault.name == "latest_is_newest":
            repository = new_tag.rsplit(":", 1)[0] if ":" in new_tag.rsplit("/", 1)[-1] else new_tag
            self.inner.tag(image, f"{repository}:latest")

    def network_create(self, spec: NetworkSpec):
        self._networks.append(spec.name)
        return self.inner.network_create(spec)

    def volume_create(self, spec: VolumeSpec):
        self._volume_labels[spec.name] = dict(spec.labels)
        return self.inner.volume_create(spec)

    def _commit(self, container: str) -> None:
        """Write the container's changes into the image it came from (CLI engines only)."""
        self.inner.cli.run("commit (fault)", ["commit", "--", container, self._images[container]], check=False)
