"""The OCI bundle's config.json of the runtime floor (engines/bundle.py), and what the floor asks
its OCI runtime once: its `spec` template, and whether it runs a container on this host at all.

`RUNTIME spec` writes the runtime's default config.json (runc-spec(8), crun(1)): the bundle of
every floor run starts from it, so the floor runs the namespaces, mounts, masked paths and
capabilities the runtime itself calls default, not ones seatrial chose. The probe runs a bundle
whose root holds nothing: a runtime that gets as far as exec'ing the (absent) command works here;
one that stops earlier (crun: "cgroups in hybrid mode not supported") refuses this host, and its
message is the reason every capability of that floor is missing.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from seatrial.engines.base import RunSpec

PROBE_ID = "seatrial-floor-probe"
PROBE_COMMAND = "/seatrial-floor-probe-absent"
# How runc and crun say that the command is not in the root: the runtime got as far as exec.
EXEC_MISSING = ("no such file or directory", "not found")


def runtime_template(binary: str, folder: Path) -> dict:
    """The runtime's default config.json (`RUNTIME spec --bundle FOLDER`), read and removed."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    try:
        subprocess.run([binary, "spec", "--bundle", str(folder)], check=True, capture_output=True, timeout=30)
        return json.loads((folder / "config.json").read_text())
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def bundle_config(template: dict, image: Mapping[str, Any], spec: RunSpec, rootfs: Path, hostname: str) -> dict:
    """The runtime's `template` with the image's config ("config" of Docker's image JSON: Env,
    Cmd, Entrypoint, WorkingDir, User) and the run filled in; the image's tree as the read-only
    root, the run's labels as annotations. ValueError for a user that is not numeric uid[:gid]
    (the floor reads no /etc/passwd)."""
    entry = list(spec.entrypoint) if spec.entrypoint is not None else list(image.get("Entrypoint") or [])
    default_cmd = [] if spec.entrypoint is not None else list(image.get("Cmd") or [])
    command = list(spec.command) if spec.command is not None else default_cmd
    config = copy.deepcopy(template)
    process = config["process"]
    process.update(terminal=False, args=entry + command, cwd=spec.workdir or image.get("WorkingDir") or "/")
    process["env"] = list(image.get("Env") or []) + [f"{k}={v}" for k, v in spec.env.items()]
    user = spec.user or image.get("User") or "0"
    uid, _, gid = user.partition(":")
    if not (uid.isdigit() and (not gid or gid.isdigit())):
        raise ValueError(f"user {user!r}: the floor takes numeric uid[:gid] only")
    process["user"] = {"uid": int(uid), "gid": int(gid or 0)}
    config["root"] = {"path": str(rootfs), "readonly": True}
    config["hostname"] = spec.hostname or hostname
    config["annotations"] = dict(spec.labels)
    return config


def probe_runtime(binary: str, folder: Path) -> str:
    """ "" when the runtime runs a container here; else the one line it refused with."""
    template = runtime_template(binary, folder)
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "rootfs").mkdir(parents=True)
    state = folder / ".state"
    template["process"].update(terminal=False, args=[PROBE_COMMAND])
    template["root"] = {"path": str(folder / "rootfs"), "readonly": True}
    (folder / "config.json").write_text(json.dumps(template))
    try:
        done = subprocess.run(
            [binary, "--root", str(state), "run", "--bundle", str(folder), PROBE_ID],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=30,
        )
    except subprocess.TimeoutExpired:
        return "a container with an empty root did not end within 30 s"
    finally:
        subprocess.run([binary, "--root", str(state), "delete", "--force", PROBE_ID], capture_output=True, timeout=30)
        shutil.rmtree(folder, ignore_errors=True)
    said = " ".join(done.stderr.split())
    if done.returncode == 0 or any(m in said.lower() for m in EXEC_MISSING):
        return ""
    return said or f"exit code {done.returncode} with nothing on stderr"


def cgroup_version() -> str:
    """ "2" on a unified hierarchy; "1 (hybrid)" where v1 controllers sit beside a v2 hierarchy; else "1"."""
    root = Path("/sys/fs/cgroup")
    if (root / "cgroup.controllers").exists():
        return "2"
    return "1 (hybrid)" if (root / "unified" / "cgroup.controllers").exists() else "1"


def run_operation(spec: RunSpec) -> str:
    """How errors of `run` name it: the image and the command."""
    return f"run of {spec.image!r}" + (f" {' '.join(spec.command)!r}" if spec.command else "")
