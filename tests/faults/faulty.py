"""A fault-injecting engine for tests: a real engine with one behaviour broken on purpose.

A conformance check that cannot fail proves nothing. Each fault here breaks exactly one
behaviour that a claim of CLAIMS.md is about, at the adapter boundary (the specs going in, or
what an operation does), so that tests/e2e/test_faults.py can show the scenario for that claim
failing against it - and passing against the honest engine. Used only by tests.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from seatrial.engines.base import Mount, NetworkSpec, ResourceRef, RunSpec, VolumeSpec
from seatrial.harness.session import scratch_root


@dataclass(frozen=True)
class Fault:
    """One broken behaviour, the claim it breaks, and the scenario that must catch it."""

    name: str
    claim: str
    scenario: str  # path under scenarios/
    description: str


FAULTS = {
    f.name: f
    for f in (
        Fault("ignore_published_ports", "C13", "network/expose-publishes-nothing.yaml", "drops ports from every run"),
        Fault(
            "share_host_pid", "C02", "isolation/pid-namespace.yaml", "runs every container in the host's pid namespace"
        ),
        Fault("no_build_cache", "C09", "build/cache-reuse.yaml", "builds with no_cache, so every layer is a miss"),
        Fault(
            "drop_volume_on_remove",
            "C22",
            "storage/named-volume.yaml",
            "removing a container also empties the named volumes it mounted",
        ),
        Fault(
            "names_on_default_bridge",
            "C16",
            "network/default-bridge.yaml",
            "puts default-bridge containers on a hidden user network, where names resolve",
        ),
        Fault("drop_hostname", "C03", "isolation/namespaces.yaml", "ignores the hostname option"),
        Fault("ignore_entrypoint_override", "C14", "build/cmd-entrypoint.yaml", "ignores an entrypoint override"),
        Fault(
            "leak_writable_layer",
            "C21",
            "storage/writable-layer.yaml",
            "commits a container into its image when it is removed",
        ),
        Fault(
            "ignore_network_none", "C20", "network/no-network.yaml", "attaches network none containers to the bridge"
        ),
        Fault("ignore_host_network", "C19", "network/host-network.yaml", "runs host network containers on the bridge"),
        Fault(
            "one_user_network",
            "C18",
            "network/separate-networks.yaml",
            "puts every user-network container on the first one",
        ),
        Fault("drop_network_aliases", "C17", "network/user-network-names.yaml", "no aliases on user networks"),
        Fault("ignore_run_env", "C12", "build/run-env-workdir.yaml", "ignores the environment given to run"),
        Fault("ignore_build_target", "C15", "build/multi-stage.yaml", "builds the last stage whatever the target"),
        Fault("drop_bind_mounts", "C24", "storage/bind-mount-shadowing.yaml", "ignores bind mounts"),
        Fault("add_sys_admin", "C31", "security/capabilities-seccomp.yaml", "adds CAP_SYS_ADMIN to every container"),
        Fault("unmask_paths", "C32", "security/masked-paths.yaml", "lifts the masked /proc and /sys paths"),
        Fault(
            "latest_is_newest",
            "C28",
            "images/latest-is-a-tag.yaml",
            "moves :latest to every image tagged in a repository",
        ),
        Fault(
            "shared_writable_layer",
            "C07",
            "images/one-image-many-containers.yaml",
            "the first container of an image writes through to it: exec'd changes are committed",
        ),
        Fault(
            "open_all_devices",
            "C32",
            "security/device-rules.yaml",
            "lifts the device rules of every detached container (`a` into its devices.allow)",
        ),
        Fault(
            "copy_outside_root",
            "C32",
            "security/build-stays-in-image.yaml",
            "joins COPY destinations to a host folder without stopping '..' (the reference builder's old "
            "bug): a COPY that climbs writes the host",
        ),
        Fault(
            "seed_volume_from_host",
            "C32",
            "security/volume-seed-in-scope.yaml",
            "seeds a new volume through the image's symlink at the mount point, from the host's folder",
        ),
    )
}

# Where a fault may write on the host: the harness's scratch folders only, whatever a Dockerfile says.
HOST_WRITABLE = scratch_root()


class FaultyEngine:
    """Delegates everything to `inner` (a real engine) except the one behaviour `fault` breaks.
    It keeps the inner engine's name, so divergences documented for that engine still apply."""

    def __init__(self, inner, fault: str):
        self.inner = inner
        self.fault = FAULTS[fault]
        self.name = inner.name
        self._images: dict[str, str] = {}  # container -> image it was run from
        self._volumes: dict[str, list] = {}  # container -> volumes it mounted
        self._volume_labels: dict[str, dict] = {}
        self._networks: list[str] = []
        self._hidden: str | None = None
        self._seeded: set[str] = set()  # volumes seed_volume_from_host has looked at

    def __getattr__(self, attribute):
        return getattr(self.inner, attribute)

    # --- the operations faults change --------------------------------------------------------
    def run(self, spec: RunSpec):
        spec = self._break_run(spec)
        self._images[spec.name] = spec.image
        self._volumes[spec.name] = [m.source for m in spec.mounts if m.kind == "volume"]
        if self.fault.name == "seed_volume_from_host":
            for mount in spec.mounts:
                if mount.kind == "volume" and mount.source not in self._seeded:
                    self._seed_from_host(spec, mount)
        result = self.inner.run(spec)
        if self.fault.name == "open_all_devices" and spec.detach:
            self._open_all_devices(result.container)
        return result

    def _open_all_devices(self, container: ResourceRef) -> None:
        """Write `a` to the devices.allow of the container's v1 devices cgroup."""
        pid = self.inner.inspect(container)["pid"]
        with open(f"/proc/{pid}/cgroup") as handle:
            path = next(line.strip().split(":", 2)[2] for line in handle if ":devices:" in line)
        with open(f"/sys/fs/cgroup/devices{path}/devices.allow", "w") as allow:
            allow.write("a")

    def _seed_from_host(self, spec: RunSpec, mount: Mount) -> None:
        """What a runtime that seeds through symlinks does: where the image has a link at the
        mount point to an absolute host folder, copy that folder into the new volume."""
        self._seeded.add(mount.source)
        probe = self.inner.run(
            dataclasses.replace(
                spec,
                name=f"{spec.name}-fault-probe",
                command=("readlink", mount.target),
                entrypoint=(),
                mounts=(),
                detach=False,
                remove=True,
                network="none",
            )
        )
        source = probe.stdout.strip()
        if probe.exit_code != 0 or not source.startswith("/") or not os.path.isdir(source):
            return
        self.inner.volume_create(VolumeSpec(name=mount.source, labels=spec.labels))
        self.inner.run(
            dataclasses.replace(
                spec,
                name=f"{spec.name}-fault-seed",
                command=("cp", "-a", "/from/.", "/to/"),
                entrypoint=(),
                mounts=(Mount("bind", source, "/from"), Mount("volume", mount.source, "/to")),
                detach=False,
                remove=True,
                network="none",
            )
        )

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
        if self.fault.name == "copy_outside_root":
            self._copy_outside_root(Path(spec.context), spec.dockerfile)
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

    def _copy_outside_root(self, context: Path, dockerfile: str) -> None:
        """Each `COPY <context file> <dest>` whose dest has '..', joined to a folder eight levels
        deep without clamping, as the old builder joined it to its layer folder: the file goes
        where that lands on the host (only inside the harness's scratch folders)."""
        for line in (context / dockerfile).read_text().splitlines():
            found = re.match(r"^COPY\s+([^-\s]\S*)\s+(\S*\.\.\S*)$", line.strip())
            if not found or not (context / found.group(1)).is_file():
                continue
            target = os.path.normpath("/l1/l2/l3/l4/l5/l6/l7/l8/" + found.group(2).lstrip("/"))
            if Path(target).is_relative_to(HOST_WRITABLE):
                os.makedirs(os.path.dirname(target), exist_ok=True)
                shutil.copyfile(context / found.group(1), target)

    def _commit(self, container: str) -> None:
        """Write the container's changes into the image it came from (CLI engines only)."""
        self.inner.cli.run("commit (fault)", ["commit", "--", container, self._images[container]], check=False)
