"""The reaper: remove what a dead (e.g. SIGKILLed) harness session left behind.

Kernel facilities: kill(2) SIGKILL of each container's shim and pid 1 (their pids are written by
the shim to `containers/<id>/pids` before any namespace exists; the pid namespace's death kills
the rest, and the netns's death deletes its veth(4) pair), ip-link(8) for bridges and veths
whose names carry the session's tag, iptables(8) for their rules, umount2(2) MNT_DETACH for any
mount left under the state root (a builder killed mid-copy), rmdir(2) of the device cgroups
(devices.py) whose container is gone. Everything is idempotent.
"""

from __future__ import annotations

import os
import shutil
import signal
import time

from . import devices, readyfolder
from . import kernel as k
from .network import IFACE_PREFIX, delete_bridge, run_tool
from .procfs import alive
from .state import matches_label, read_json


def _kill(pid_file) -> None:
    try:
        pids = [int(p) for p in pid_file.read_text().split()]
    except (OSError, ValueError):
        return
    for pid in reversed(pids):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue
        for _ in range(200):  # up to 2 s for the kernel to tear down the pid namespace
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
            if not alive(pid):
                break
            time.sleep(0.01)


def reap(engine, label: str | None = None, session: str | None = None) -> list[str]:
    """Remove every container, network, volume and image carrying `label` (or
    seatrial.session=`session`), then kernel objects of that session. Returns what it removed."""
    from .containers import session_tag  # containers.py owns the naming rule

    if session is not None:
        label = f"seatrial.session={session}"
    if label is None:
        raise ValueError("reap needs a label or a session")
    state, removed = engine.state, []
    for cdir in sorted(state.containers.iterdir()):
        record = read_json(cdir / "config.json") or {}
        if matches_label(record.get("labels", {}), label):
            _kill(cdir / "pids")
            if record.get("network") not in (None, "host", "none"):
                engine.networks.release(record["network"], record["id"])
            shutil.rmtree(cdir, ignore_errors=True)
            removed.append(f"container {record.get('name')}")
    for record in engine.networks.with_label(label):
        delete_bridge(record["bridge"])
        engine.networks.forget(record["name"])
        removed.append(f"network {record['name']}")
    for record in engine.volumes.with_label(label):
        engine.volumes.remove(record["name"])
        removed.append(f"volume {record['name']}")
    for record in engine.images.with_label(label):
        for tag in record["tags"] or [record["id"]]:
            engine.images.remove(tag)
        removed.append(f"image {record['id'][:19]}")
    tag = session_tag({"seatrial.session": label.partition("=")[2]}) if label.startswith("seatrial.session=") else None
    removed += reap_kernel_objects(engine, tag)
    return removed


def reap_kernel_objects(engine, tag: str | None) -> list[str]:
    """Links named for session `tag`, mounts under the state root, and the default bridge
    once no container uses it."""
    removed = []
    links = run_tool(["ip", "-o", "link", "show"], check=False)
    names = [line.split(":")[1].strip().split("@")[0] for line in links.splitlines() if ":" in line]
    for name in names:
        if tag and name.startswith(f"{IFACE_PREFIX}{tag}"):
            delete_bridge(name)
            removed.append(f"link {name}")
    root = str(engine.state.root)
    with open("/proc/self/mounts") as handle:
        mounts = [line.split()[1] for line in handle]
    for mount in reversed(mounts):
        if mount.startswith(root + "/"):
            try:
                engine.kernel.umount(mount, k.MNT_DETACH)
                removed.append(f"mount {mount}")
            except OSError:
                pass
    removed += _remove_unrecorded_folders(engine.state.containers)
    removed += readyfolder.sweep(engine.state.root)  # folders made ahead by processes now gone
    removed += devices.remove_unused(engine.state.root, engine.state.containers)  # cgroups of containers gone
    engine.state.names.prune()  # entries of the containers removed above (nameindex.py)
    trash = engine.state.root / "trash"
    for entry in trash.iterdir() if trash.is_dir() else ():
        shutil.rmtree(entry, ignore_errors=True)  # `run --rm` leftovers of a shim that died
    if engine.networks.remove_idle_default():
        removed.append("link of the default bridge")
    return removed


# A run writes config.json within milliseconds of making its container's folder (containers.py);
# a folder still without one after this long is what a shim left as the folder was removed.
UNRECORDED_GRACE_S = 60.0


def _remove_unrecorded_folders(containers) -> list[str]:
    """Container folders without config.json (so without a label no reap by label finds),
    older than the grace: the exit.json-only folders that older versions left behind."""
    removed, now = [], time.time()
    for entry in containers.iterdir():
        try:
            if (entry / "config.json").exists() or now - entry.stat().st_mtime < UNRECORDED_GRACE_S:
                continue
        except FileNotFoundError:
            continue  # removed meanwhile
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(f"folder {entry.name[:12]} without a record")
    return removed
