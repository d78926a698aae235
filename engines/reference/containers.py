"""Containers: the `run` recipe top to bottom, then exec, wait, stop, logs and removal.

Kernel facilities of its own: pidfd_send_signal(2) to stop or kill pid 1 (by a pidfd from
procfs.pid1_fd, never a pid that may have been reused), select(2) on a pidfd or the shim's
exit-code pipe, waitpid(2) of exited shims. The rest it asks of others: network.py for an
attachment, devices.py for the device cgroup, volumes.py for binds, portproxy.py for listeners,
launcher.py (through the zygote, zygote.py) to start pid 1, nsexec.py to exec in it;
healthcheck.py runs the image's HEALTHCHECK; the zygote's spares make container folders ahead
(readyfolder.py).

`Containers` is held by ReferenceEngine beside its image store, networks and volumes, and holds
what only containers need: the zygote and the shims not yet reaped. A little over 300 lines on
purpose: `run_image` is the whole recipe top to bottom, as bocker's `run` is, and the operations
that read the records it writes (wait, stop, removal) sit beside it.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import select
import shutil
import signal
import socket
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seatrial.engines import base

from . import devices, dns, nativeexec, nativeshim, volumes
from . import kernel as k
from . import portproxy as ports
from .buildconfig import signal_number
from .containerinit import NATIVE_INIT
from .healthcheck import end_monitor, start_monitor
from .images import ImageNotFound, ImageStore
from .launcher import CommandNotStarted, Started, start
from .network import NetworkError, Networks
from .nsexec import exec_in_container
from .processspec import ProcessSpec
from .procfs import signal_pid1, start_time
from .readyfolder import STUB, make_folder
from .registrycheck import absent_image_message
from .rootfs import BindMount, RootfsSpec, ensure_init_layer, overlay_lowers
from .security import confinement
from .state import StateRoot, read_json, write_json
from .volumes import VolumeError, Volumes

if TYPE_CHECKING:  # zygote.py is imported on first use (see `_launcher`)
    from .zygote import Zygote

HOST_PORTS_DISCARDED = "Published ports are discarded when using host network mode"
STUB_ID = STUB * 6  # a container id whose first 12 digits are readyfolder.STUB
ETC_FILES = ("hosts", "hostname", "resolv.conf")  # bind-mounted over the image's, as Docker does
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def session_tag(labels) -> str:
    """4 hex digits derived from the seatrial.session label; names kernel objects for the reaper."""
    session = (labels or {}).get(base.SESSION_LABEL, "")
    return hashlib.sha256(session.encode()).hexdigest()[:4] if session else "0000"


def compose_command(image_config: dict, entrypoint, command) -> list[str]:
    """Docker's rules: an entrypoint override clears the image's CMD; arguments replace CMD."""
    if entrypoint is not None:
        return list(entrypoint) + list(command or ())
    image_cmd = image_config.get("Cmd") or []
    return list(image_config.get("Entrypoint") or []) + list(command if command is not None else image_cmd)


def container_hostname(spec: base.RunSpec, cid: str) -> str:
    """Docker's: the one asked for, the host's on network host, else the id's first 12 digits."""
    return spec.hostname or (socket.gethostname() if spec.network == "host" else cid[:12])


def has_embedded_dns(network: str) -> bool:
    """Docker's rule: a user-defined network's containers ask the embedded DNS (dns.py)."""
    return network not in ("host", "none", "bridge")


def read_log(path: Path) -> str:
    """A log's text so far; "" before pid 1 has opened it."""
    try:
        return path.read_bytes().decode(errors="replace")
    except FileNotFoundError:
        return ""


def merge_env(image_env, overrides) -> list[str]:
    env = dict(item.split("=", 1) for item in image_env or () if "=" in item)
    env.setdefault("PATH", DEFAULT_PATH)
    env.update(overrides)
    return [f"{key}={value}" for key, value in env.items()]


def run_operation(spec: base.RunSpec) -> str:
    """What a failed run is called in its EngineError, in the CLI adapters' words."""
    return f"run of container {spec.name!r}" if spec.name else f"run of image {spec.image!r}"


class Containers:
    """The containers of one state root: run, exec, wait, stop, logs, removal."""

    def __init__(self, state: StateRoot, kernel, images: ImageStore, networks: Networks, volumes: Volumes):
        self.state = state
        self.kernel = kernel
        self.images = images
        self.networks = networks
        self.volumes = volumes
        self.exited_shims: set[int] = set()  # shims (and monitors) that may linger as zombies until reaped
        self.detached: dict[str, dict] = {}  # id -> record of a detached container started here (for exec)
        self.zygote: Zygote | None = None  # started on first use (see `_launcher`)

    def run(self, spec: base.RunSpec) -> base.RunResult:
        """Run `spec` on its image, by tag or id (see `run_image`)."""
        try:
            image = self.images.resolve(spec.image)
        except ImageNotFound:
            message = absent_image_message(spec.image, may_pull=spec.pull != "never")
            raise base.EngineError(run_operation(spec), f"exit code 125; {message}", exit_code=125) from None
        return self.run_image(spec, image)

    def run_image(self, spec: base.RunSpec, image: dict) -> base.RunResult:
        """Run `spec` on an image record (the builder passes records that have no tag)."""
        began = time.monotonic()
        self._reap_exited_shims()
        config = image["config"].get("config") or {}
        argv = compose_command(config, spec.entrypoint, spec.command)
        if not argv:
            raise base.EngineError(run_operation(spec), f"image {spec.image!r} has no command and none was given")
        launcher = self._launcher()  # the zygote, whose spares make container folders ahead
        ready = self.zygote.take_folder(self.state.containers) if self.zygote is not None else None
        cid = ready.cid if ready else secrets.token_hex(32)
        name = spec.name or f"ref_{cid[:12]}"
        cdir = self.state.containers / cid
        if ready is None:
            make_folder(cdir)
        # after the directory exists: an index entry without its directory is stale (nameindex.py)
        if spec.name and not self.state.names.claim(spec.name, cid):
            shutil.rmtree(cdir, ignore_errors=True)
            raise base.EngineError(run_operation(spec), f"container name {spec.name!r} is already in use")
        hostname = container_hostname(spec, cid)
        labels = {**(config.get("Labels") or {}), **spec.labels}
        tag = session_tag(labels)
        record = {
            "id": cid,
            "name": name,
            "image": spec.image,
            "image_id": image["id"],
            "labels": labels,
            "argv": argv,
            "hostname": hostname,
            "network": spec.network,
            "env": merge_env(config.get("Env"), spec.env),
            "user": spec.user or config.get("User") or "",
            "workdir": spec.workdir or config.get("WorkingDir") or "/",
            "created": time.time(),
            "privileged": spec.privileged,
            "cap_add": list(spec.cap_add),
            "seccomp": spec.seccomp,
            "unmask_paths": spec.unmask_paths,
            "no_new_privileges": spec.no_new_privileges,
            "mounts": [m.__dict__ for m in spec.mounts],
            "tag": tag,
            # the image's VOLUMEs (anonymous volumes) and STOPSIGNAL, as docker run takes them
            "stop_signal": signal_number(config.get("StopSignal")),
        }
        given = volumes.named(spec.mounts)  # each `-v /path` with a fresh name
        from_image = volumes.anonymous(config.get("Volumes"), spec.mounts)
        mounts = given + from_image
        anonymous = from_image + tuple(m for m, asked in zip(given, spec.mounts) if asked.is_anonymous)
        # `run --rm` removes the anonymous volumes with the container; a plain `rm` keeps them
        record["anonymous_volumes"] = [m.source for m in anonymous] if spec.remove else []
        try:  # --privileged opens every device, as Docker's does
            record["device_cgroup"] = "" if spec.privileged else devices.create(self.state.root, cid)
        except OSError as exc:
            shutil.rmtree(cdir, ignore_errors=True)
            raise base.EngineError(run_operation(spec), f"container {name!r}: {exc}") from None
        write_json(cdir / "config.json", record, make_parents=False)  # once: replacing a file costs ext4 a flush
        listeners: Sequence[tuple[socket.socket, str, int]] = ()
        try:
            attachment = self.networks.prepare(spec.network, cid, name, spec.network_aliases, tag)
            attached: dict[str, Any] = {"address": attachment.address, "ports": []}
            for file, text in self._etc_files(spec.network, cid, hostname).items():
                if ready is None or ready.files.get(file) != text:
                    (cdir / file).write_text(text)
            etc = [BindMount(str(cdir / f), f"/etc/{f}") for f in ETC_FILES]
            binds = self.volumes.binds(mounts, labels) + tuple(etc)
            listeners = (
                ports.listen(spec.ports, attachment.address, attached["ports"])
                if attachment.namespaces & k.CLONE_NEWNET
                else ()
            )
            proc = ProcessSpec(
                argv=tuple(argv),
                env=tuple(record["env"]),
                workdir=record["workdir"],
                user=record["user"],
                hostname=hostname,
                container_dir=str(cdir),
                rootfs=RootfsSpec(
                    tuple(self._lowerdirs(image)),
                    str(cdir / "upper"),
                    str(cdir / "work"),
                    str(cdir / "rootfs"),
                    binds,
                    confined=not spec.privileged,
                    mask_paths=not spec.unmask_paths,
                ),
                namespaces=attachment.namespaces,
                interface=attachment.interface,
                listeners=tuple(listeners),
                has_dns=has_embedded_dns(spec.network),
                **confinement(record),
                trash_dir=str(self.state.root / "trash" / cid),
                device_cgroup=record["device_cgroup"],
                attach_network=attachment.attach if attachment.interface else None,
                # a detached shim outlives the run: its waiting goes to the C tail (nativeshim.py)
                extra={"detached": True} if spec.detach else {},
            )
            try:
                started = start(self.kernel, proc, launcher)
            finally:
                if self.zygote is not None:  # the next spare's folder gets this run's /etc files
                    self.zygote.replenish(
                        self._etc_files(spec.network, STUB_ID, container_hostname(spec, STUB_ID), ahead=True)
                    )
        except CommandNotStarted as exc:  # Docker refuses such a run, with 127 or 126
            self.remove(cid)
            raise base.EngineError(
                run_operation(spec), f"exit code {exc.exit_code}; {exc}", exit_code=exc.exit_code
            ) from None
        except (OSError, NetworkError, VolumeError) as exc:
            self.remove(cid)
            raise base.EngineError(run_operation(spec), f"container {name!r}: {exc}") from None
        finally:
            for listener, _, _ in listeners:
                listener.close()  # the shim holds its own copy
        started_at = self.zygote.start_time if self.zygote is not None else start_time
        progress = {
            "shim_pid": started.shim_pid,
            "pid": started.pid,
            "started": time.time(),
            "shim_start": started_at(started.shim_pid),
            "pid_start": started_at(started.pid),
        }
        # the address and ports too: one file written, not two (network.json, of older versions)
        write_json(cdir / "started.json", {**attached, **progress}, make_parents=False)
        record.update(attached, **progress)
        monitor = start_monitor(self.kernel, record, config.get("Healthcheck"), cdir)
        if monitor:
            self.exited_shims.add(monitor)  # reaped like a shim once it has exited
        if spec.network not in ("host", "none"):
            self.networks.refresh_peers(spec.network, except_cid=cid)
        ref = base.ResourceRef("container", cid, name, labels)
        self.exited_shims.add(started.shim_pid)
        # Docker's words: the ports of a container in the host's netns are not published
        warnings = (HOST_PORTS_DISCARDED,) if spec.ports and spec.network == "host" else ()
        if spec.detach:
            self.detached[cid] = dict(record)
            os.close(started.done_fd)
            os.close(started.release_fd)
            return base.RunResult(ref, None, "", "", time.monotonic() - began, warnings)
        try:
            code = self._wait_done(started, record, spec.timeout)
            stdout, stderr = read_log(cdir / "stdout"), read_log(cdir / "stderr")
            if spec.remove:
                self._remove_exited(record, has_monitor=bool(monitor))
            else:  # the shim leaves the record to a harness that listens (shim.py): inspect reads it
                write_json(cdir / "exit.json", {"exit_code": code})
        finally:
            os.close(started.done_fd)  # the shim finishes now
            os.close(started.release_fd)
        return base.RunResult(ref, code, stdout, stderr, time.monotonic() - began, warnings)

    def _launcher(self) -> Callable[[ProcessSpec, tuple[int, ...]], int] | None:
        """Shims come from the zygote (small, so forks are cheap) unless the kernel is a double
        or SEATRIAL_REFERENCE_ZYGOTE=0."""
        if not isinstance(self.kernel, k.Kernel) or os.environ.get("SEATRIAL_REFERENCE_ZYGOTE") == "0":
            return None
        if self.zygote is None:
            from .zygote import Zygote

            nativeshim.build()  # before the zygote forks any shim; None: shims stay Python
            nativeexec.PROGRAM.build()  # None: exec stays Python
            NATIVE_INIT.build()  # None: pid 1 stays Python
            self.zygote = Zygote(self.state.root)
        return self.zygote.launch

    def _wait_done(self, started: Started, record: dict, timeout: float) -> int:
        """pid 1's exit code as the shim reports it; an attached run that overstays is killed."""
        if not select.select([started.done_fd], [], [], timeout)[0]:
            self.remove(record["id"])
            raise base.EngineError(
                f"run of container {record['name']!r}",
                f"container {record['name']!r} still runs after {timeout}s; killed",
            )
        return int(os.read(started.done_fd, 16) or b"137")

    def _remove_exited(self, record: dict, has_monitor: bool) -> None:
        """`run --rm`: hide the directory at once; the shim deletes it after we let go."""
        if record["network"] not in ("host", "none"):
            self.networks.release(record["network"], record["id"])
        if has_monitor:
            end_monitor(self.state.containers / record["id"])  # pid 1 has exited: it ends at once
        self.state.names.release_present(record["name"], record["id"])  # before the folder goes
        os.rename(self.state.containers / record["id"], self.state.trash / record["id"])
        self._remove_anonymous_volumes(record)

    def _remove_anonymous_volumes(self, record: dict) -> None:
        for name in record.get("anonymous_volumes", ()):  # only `run --rm` lists them
            self.volumes.remove(name)

    def _reap_exited_shims(self) -> None:
        for pid in list(self.exited_shims):
            try:
                if os.waitpid(pid, os.WNOHANG)[0] == 0:
                    continue
            except ChildProcessError:
                pass
            self.exited_shims.discard(pid)

    def _lowerdirs(self, image: dict) -> list[str]:
        layers = [str(self.images.layers.path(layer)) for layer in reversed(image["layers"])]
        return [ensure_init_layer(str(self.state.root / "init"))] + overlay_lowers(layers)

    def _etc_files(self, network: str, cid: str, hostname: str, ahead: bool = False) -> dict[str, str]:
        """The texts of the container's hosts, hostname and resolv.conf (ETC_FILES). `ahead`: for
        a folder made ahead, without the hosts of a bridge, which has the address a run reserves."""
        texts = {
            "hostname": hostname + "\n",
            "resolv.conf": self._resolv_conf(network),
        }
        if not ahead or network in ("host", "none"):
            texts["hosts"] = self.networks.hosts_file(network, cid, hostname)
        return texts

    def _resolv_conf(self, network: str) -> str:
        if network == "host":
            try:
                return Path("/etc/resolv.conf").read_text()
            except OSError:
                return ""
        if has_embedded_dns(network):  # the shim answers from /etc/hosts (dns.py)
            return f"nameserver {dns.ADDRESS}\noptions ndots:0\n"
        return "nameserver 127.0.0.1\noptions ndots:0\n"  # no resolver: names come from /etc/hosts

    def record(self, handle: str, operation: str) -> dict:
        """The state record of a container by name or id; EngineError for `operation` if none."""
        record = self.state.find_container(handle)
        if record is None:
            raise base.EngineError(operation, f"no such container: {handle}")
        return record

    def _started_here(self, handle: str) -> dict | None:
        """The record of a detached container this engine started, while `handle` (its id, or its
        name in the index) still names it and its folder is there; None otherwise. Its parts
        (config, network, started) are each written once at the start, so the record the start
        made is the one on disk, and an exec need not read it again."""
        cid = handle if handle in self.detached else self.state.names.target(handle)
        record = self.detached.get(cid) if cid else None
        if record is None or not (self.state.containers / record["id"] / "config.json").exists():
            self.detached.pop(cid or "", None)  # removed meanwhile, here or by another process
            return None
        return record

    def is_running(self, record: dict) -> bool:
        """Whether the container of `record` runs: its shim (the same process) is alive and no
        exit code is recorded."""
        exit_record = self.state.containers / record["id"] / "exit.json"
        return (
            "shim_pid" in record
            and not exit_record.exists()
            and start_time(record["shim_pid"]) == record.get("shim_start")
        )

    def is_running_id(self, cid: str) -> bool:
        """`is_running` by container id; False for an unknown one."""
        record = self.state.container_record(cid)
        return self.is_running(record) if record else False

    def _wait(self, record: dict, timeout: float) -> int:
        exit_path = self.state.containers / record["id"] / "exit.json"
        if "shim_pid" not in record:
            raise base.EngineError(
                f"wait for container {record['name']!r}", f"container {record['name']!r} was never started"
            )
        try:
            pidfd = os.pidfd_open(record["shim_pid"])
        except ProcessLookupError:
            pidfd = None
        if pidfd is not None:
            try:
                if start_time(record["shim_pid"]) == record.get("shim_start"):
                    if not select.select([pidfd], [], [], timeout)[0]:
                        raise base.EngineError(
                            f"wait for container {record['name']!r}",
                            f"container {record['name']!r} still runs after {timeout}s",
                        )
            finally:
                os.close(pidfd)
            try:
                os.waitpid(record["shim_pid"], os.WNOHANG)
            except ChildProcessError:
                pass
        result = read_json(exit_path)
        return result["exit_code"] if result else 137

    def wait(self, container: str, *, timeout: float) -> int:
        """Wait for the container to exit and return its exit code (137 if none was recorded)."""
        return self._wait(self.record(container, f"wait for container {container!r}"), timeout)

    def logs(self, container: str) -> tuple[str, str]:
        """(stdout, stderr) of the container so far."""
        cdir = self.state.container_dir(container)
        if cdir is None:
            raise base.EngineError(f"logs of container {container!r}", f"no such container: {container}")
        return read_log(cdir / "stdout"), read_log(cdir / "stderr")

    def exec(self, container: str, argv: tuple[str, ...], *, timeout: float = 60.0) -> base.ExecResult:
        """Run argv in the running container with its identity and confinement (nsexec.py)."""
        began = time.monotonic()
        operation = f"exec in container {container!r}"
        record = self._started_here(container) or self.record(container, operation)
        if not self.is_running(record):
            raise base.EngineError(operation, f"container {record['name']!r} is not running")
        code, out, err = exec_in_container(self.kernel, record, argv, began + timeout, operation, self._launcher())
        return base.ExecResult(code, out, err, time.monotonic() - began)

    def stop(self, container: str, *, timeout: float = 10.0) -> None:
        """SIGTERM to pid 1, SIGKILL after `timeout` seconds; a stopped container is kept."""
        record = self.record(container, f"stop of container {container!r}")
        if not self.is_running(record):
            return
        signal_pid1(record, record.get("stop_signal", signal.SIGTERM))
        try:
            self._wait(record, timeout)
        except base.EngineError:
            signal_pid1(record, signal.SIGKILL)
            self._wait(record, 10)
        end_monitor(self.state.containers / record["id"])  # a stopped container checks nothing

    def remove(self, cid: str) -> None:
        """Kill the container if it runs, release its network and device cgroup, delete it."""
        self.detached.pop(cid, None)
        record = self.state.container_record(cid)
        if record and self.is_running(record):
            signal_pid1(record, signal.SIGKILL)
            self._wait(record, 10)
        if record:
            self.networks.release(record["network"], cid) if record["network"] not in ("host", "none") else None
            devices.remove(record.get("device_cgroup", ""))
            self._remove_anonymous_volumes(record)
        end_monitor(self.state.containers / cid)  # it must not write into what rmtree deletes
        shutil.rmtree(self.state.containers / cid, ignore_errors=True)
        if record:
            self.state.names.release(record["name"], cid)
