"""The runtime floor: an OCI runtime (runc, crun) driven directly on a bundle, with no engine around it.

Docker and Podman start containers through runc; the reference runtime makes the same kernel
calls itself. A benchmark that runs `runc run --bundle` beside them shows how far each engine is
from the bare runtime it is built on (issue 16). Each `run` is what a minimal engine would do: a
bundle folder with a `config.json` made from the runtime's own `spec` template (namespaces pid,
ipc, uts, mount and a new, empty network namespace; the image's tree as a read-only root,
engines/bundlestore.py, bundlespec.py), then `RUNTIME --root STATE run --bundle DIR ID`, which runs the process
to its exit and deletes the runtime's state. A detached run is `run --detach` with the
process's stdio in files of the bundle (there is no shim: once killed, the process is left to
the host's init to reap), `exec` is `RUNTIME exec`.

Everything lives under SEATRIAL_FLOOR_ROOT (default /var/lib/seatrial/floor), one folder per
floor: images/ and tags.json, and sessions/<session id>/, which holds the session's bundles and
the runtime's state root (.state); `reap` deletes what the runtime still knows there and the
folder. A floor lacks every capability but `network.none` and `exec`, each with the reason, and
all of them, with the runtime's own message, where the runtime refuses this host (crun and
cgroup v1 in hybrid mode): the benchmark then shows the reason instead of a number.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

from seatrial.engines import base
from seatrial.engines.bundlespec import bundle_config, cgroup_version, probe_runtime, run_operation, runtime_template
from seatrial.engines.bundlestore import ImageStore, bundle_records, find_bundle

DEFAULT_ROOT = Path("/var/lib/seatrial/floor")
ROOT_ENV = "SEATRIAL_FLOOR_ROOT"
HAS = ("network.none", "exec")
LACKS = "the floor is the bare OCI runtime on a bundle: one new, empty network namespace, the image's tree read-only, no builder, volumes or mounts"


class BundleEngine(base.Engine):
    """runc on an OCI bundle, registered as `runc-bundle` under `seatrial.floors.v1`."""

    name = "runc-bundle"
    runtime = "runc"
    is_floor = True  # reports use it as the baseline of ratios (reports/tables.py)

    def __init__(self, root: Path | None = None):
        self.root = (root or Path(os.environ.get(ROOT_ENV) or DEFAULT_ROOT)) / self.name
        self.store = ImageStore(self.root)
        self.sessions = self.root / "sessions"
        self._template: dict | None = None
        self._refusal: str | None = None  # what the runtime said when it refused this host; "" = it runs

    # --- about this floor ----------------------------------------------------------------------
    def binary(self) -> str | None:
        """The runtime's executable, or None when it is not installed."""
        return shutil.which(self.runtime)

    def info(self) -> base.EngineInfo:
        binary = self.binary()
        if binary is None:
            return base.EngineInfo(
                self.name, False, unavailable_reason=f"{self.runtime} not found; apt-get install {self.runtime}"
            )
        version = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10).stdout
        first = version.split("\n")[0].split()
        extra = {"floor": "true", "runtime_version": " ".join(version.split())}
        return base.EngineInfo(self.name, True, first[-1] if first else "", "", self.runtime, "plain directory, read-only root", cgroup_version(), extra=extra)  # fmt: skip

    def capabilities(self) -> base.Capabilities:
        missing: dict[str, str] = {str(c): LACKS for c in base.CAPABILITIES if c not in HAS}
        if self._refusal is None:
            binary = self.binary()
            self._refusal = probe_runtime(binary, self.root / "probe") if binary else f"{self.runtime} is not installed"
        if self._refusal:
            missing.update({c: f"{self.runtime} refuses this host: {self._refusal}" for c in HAS})
        return base.Capabilities(missing)

    # --- images --------------------------------------------------------------------------------
    def load(self, archive: Path) -> base.ResourceRef:
        hex_id, tags = self.store.load(archive)
        return base.ResourceRef("image", f"sha256:{hex_id}", tags[0] if tags else "")

    def tag(self, image: str, new_tag: str) -> None:
        try:
            self.store.tag(image, new_tag)
        except KeyError:
            raise base.EngineError(f"tag of image {image!r}", "no such image") from None

    def image_exists(self, image: str) -> bool:
        try:
            self.store.resolve(image)
        except KeyError:
            return False
        return True

    def build(self, spec: base.BuildSpec) -> base.BuildResult:
        raise base.EngineError(f"build of {spec.tag!r}", f"{self.name} has no builder ({LACKS})")

    def save(self, image: str, archive: Path) -> None:
        raise base.EngineError(f"save of image {image!r}", f"{self.name} cannot export images")

    # --- containers ----------------------------------------------------------------------------
    def _state(self, session: str) -> Path:
        return self.sessions / session / ".state"

    def _cli(self, session: str, *args: str, timeout: float = 60.0, **kwargs) -> subprocess.CompletedProcess:
        argv = [self.binary() or self.runtime, "--root", str(self._state(session)), *args]
        return subprocess.run(argv, timeout=timeout, **kwargs)

    def _config(self, spec: base.RunSpec, hex_id: str, cid: str) -> dict:
        """The bundle's config.json (engines/bundlespec.py), from the runtime's template, read once."""
        if self._template is None:
            self._template = runtime_template(self.binary() or self.runtime, self.root / "template")
        image = self.store.config(hex_id).get("config") or {}
        try:
            return bundle_config(self._template, image, spec, self.store.rootfs(hex_id), cid[:12])
        except ValueError as exc:
            raise base.EngineError(run_operation(spec), str(exc)) from None

    def run(self, spec: base.RunSpec) -> base.RunResult:
        began = time.monotonic()
        refused = [
            what for what, given in (("ports", spec.ports), ("mounts", spec.mounts), ("cap_add", spec.cap_add)) if given
        ]
        if spec.network != "none" or refused or spec.privileged:
            what = ", ".join(refused + (["privileged"] if spec.privileged else [])) or f"network {spec.network!r}"
            raise base.EngineError(run_operation(spec), f"{what}: not on {self.name} ({LACKS})")
        try:
            hex_id = self.store.resolve(spec.image)
        except KeyError:
            raise base.EngineError(
                run_operation(spec), f"exit code 125; no such image: {spec.image}", exit_code=125
            ) from None
        session = spec.labels.get(base.SESSION_LABEL) or "unlabelled"
        cid = secrets.token_hex(16)
        name = spec.name or f"floor_{cid[:12]}"
        if spec.name and find_bundle(self.sessions, spec.name) is not None:
            raise base.EngineError(run_operation(spec), f"container name {spec.name!r} is already in use")
        bundle = self.sessions / session / cid
        bundle.mkdir(parents=True)
        record: dict[str, object] = {
            "id": cid,
            "name": name,
            "image": spec.image,
            "image_id": hex_id,
            "labels": dict(spec.labels),
        }
        record["session"], record["detached"] = session, spec.detach
        (bundle / "record.json").write_text(json.dumps(record))
        (bundle / "config.json").write_text(json.dumps(self._config(spec, hex_id, cid)))
        ref = base.ResourceRef("container", cid, name, dict(spec.labels))
        if spec.detach:
            with open(bundle / "stdout", "wb") as out, open(bundle / "stderr", "wb") as err:
                done = self._cli(session, "run", "--detach", "--bundle", str(bundle), cid, stdin=subprocess.DEVNULL,
                                 stdout=out, stderr=err, timeout=spec.timeout)  # fmt: skip
            if done.returncode != 0:
                detail = (bundle / "stderr").read_text(errors="replace").strip()
                self.remove(ref)
                raise base.EngineError(run_operation(spec), detail or f"exit code {done.returncode}")
            return base.RunResult(ref, None, "", "", time.monotonic() - began)
        try:
            done = self._cli(session, "run", "--bundle", str(bundle), cid, stdin=subprocess.DEVNULL,
                             capture_output=True, timeout=spec.timeout)  # fmt: skip
        except subprocess.TimeoutExpired:
            self.remove(ref)
            raise base.EngineError(run_operation(spec), f"did not exit within {spec.timeout:g} s") from None
        out, err = done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace")
        if spec.remove:  # `run` without --detach deleted the runtime's state as the process exited
            shutil.rmtree(bundle, ignore_errors=True)
        else:
            (bundle / "stdout").write_text(out)
            (bundle / "stderr").write_text(err)
            (bundle / "record.json").write_text(json.dumps({**record, "exit_code": done.returncode}))
        return base.RunResult(ref, done.returncode, out, err, time.monotonic() - began)

    def _get(self, container: str, operation: str) -> tuple[Path, dict]:
        found = find_bundle(self.sessions, container)
        if found is None:
            raise base.EngineError(operation, f"no such container: {container}")
        return found

    def _status(self, record: dict) -> str:
        done = self._cli(record["session"], "state", record["id"], capture_output=True, text=True, timeout=10)
        return json.loads(done.stdout).get("status", "") if done.returncode == 0 else "exited"

    def exec(self, container: str, argv: tuple[str, ...], *, timeout: float = 60.0) -> base.ExecResult:
        _, record = self._get(container, f"exec in {container!r}")
        began = time.monotonic()
        try:
            done = self._cli(record["session"], "exec", record["id"], *argv, capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise base.EngineError(f"exec in {container!r}", f"did not exit within {timeout:g} s") from None
        out, err = done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace")
        return base.ExecResult(done.returncode, out, err, time.monotonic() - began)

    def logs(self, container: str) -> tuple[str, str]:
        bundle, _ = self._get(container, f"logs of {container!r}")
        return tuple(
            (bundle / n).read_text(errors="replace") if (bundle / n).exists() else "" for n in ("stdout", "stderr")
        )  # type: ignore[return-value]

    def wait(self, container: str, *, timeout: float) -> int:
        _, record = self._get(container, f"wait for {container!r}")
        if "exit_code" in record:
            return record["exit_code"]
        raise base.EngineError(
            f"wait for {container!r}", "a detached process's exit code is kept by no one on the floor (no shim)"
        )

    def stop(self, container: str, *, timeout: float = 10.0) -> None:
        _, record = self._get(container, f"stop of {container!r}")
        for sig, grace in (("TERM", timeout), ("KILL", 5.0)):
            self._cli(record["session"], "kill", record["id"], sig, capture_output=True, timeout=10)
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline:
                if self._status(record) in ("stopped", "exited"):
                    return
                time.sleep(0.02)
        raise base.EngineError(f"stop of {container!r}", "still running after SIGKILL")

    def inspect(self, ref: base.ResourceRef) -> Mapping:
        if ref.kind == "image":
            try:
                hex_id = self.store.resolve(ref.handle)
            except KeyError:
                raise base.EngineError(f"inspect of image {ref.handle!r}", "no such image") from None
            doc = self.store.config(hex_id)
            return {"kind": "image", "id": f"sha256:{hex_id}", "tags": self.store.tags_of(hex_id), "size": 0,
                    "labels": dict((doc.get("config") or {}).get("Labels") or {}), "raw": doc}  # fmt: skip
        if ref.kind != "container":
            raise base.EngineError(f"inspect of {ref.kind} {ref.handle!r}", f"{self.name} has no {ref.kind}s")
        _, record = self._get(ref.handle, f"inspect of container {ref.handle!r}")
        status = "exited" if "exit_code" in record else self._status(record)
        return {"kind": "container", "id": record["id"], "name": record["name"], "image": record["image"],
                "image_id": f"sha256:{record['image_id']}", "state": "exited" if status == "stopped" else status,
                "exit_code": record.get("exit_code"), "labels": record["labels"], "ip_addresses": {}, "ports": {},
                "user": "", "health": None, "raw": record}  # fmt: skip

    def remove(self, ref: base.ResourceRef) -> None:
        if ref.kind == "image":
            self.store.remove(ref.handle)
            return
        if ref.kind != "container":
            return  # a floor has no networks or volumes: there is nothing to remove
        found = find_bundle(self.sessions, ref.id or ref.handle) or find_bundle(self.sessions, ref.handle)
        if found is None:
            return
        bundle, record = found
        if "exit_code" not in record:
            done = self._cli(record["session"], "delete", "--force", record["id"], capture_output=True, text=True)
            if done.returncode != 0 and "not exist" not in done.stderr:
                raise base.EngineError(f"remove of container {ref.handle!r}", done.stderr.strip())
        shutil.rmtree(bundle, ignore_errors=True)

    def network_create(self, spec: base.NetworkSpec) -> base.ResourceRef:
        raise base.EngineError(f"network create {spec.name!r}", f"{self.name} has no networks ({LACKS})")

    def volume_create(self, spec: base.VolumeSpec) -> base.ResourceRef:
        raise base.EngineError(f"volume create {spec.name!r}", f"{self.name} has no volumes ({LACKS})")

    def testinfra_host(self, container: str):
        raise base.EngineError(f"testinfra host of {container!r}", f"{self.name} has no inspection backend")

    def resources(self, label: str) -> list[base.ResourceRef]:
        key, sep, value = label.partition("=")
        refs = [
            base.ResourceRef("container", r["id"], r["name"], r["labels"])
            for _, r in bundle_records(self.sessions)
            if key in r["labels"] and (not sep or r["labels"][key] == value)
        ]
        for hex_id in self.store.all_ids():
            labels = (self.store.config(hex_id).get("config") or {}).get("Labels") or {}
            if key in labels and (not sep or labels[key] == value):
                refs.append(base.ResourceRef("image", f"sha256:{hex_id}", "", labels))
        return refs

    def reap(self, session: str) -> list[str]:
        folder = self.sessions / session
        if not folder.is_dir():
            return []
        removed = []
        listed = self._cli(session, "list", "--quiet", capture_output=True, text=True, timeout=30)
        for cid in listed.stdout.split() if listed.returncode == 0 else []:
            self._cli(session, "delete", "--force", cid, capture_output=True, timeout=30)
            removed.append(f"{self.name}: {self.runtime} container {cid}")
        shutil.rmtree(folder, ignore_errors=True)
        return removed + [f"{self.name}: bundles of session {session} ({folder})"]


class CrunBundleEngine(BundleEngine):
    """crun on an OCI bundle, registered as `crun-bundle`: where crun refuses the host's cgroups
    (v1 in hybrid mode), every capability is missing with crun's own message."""

    name = "crun-bundle"
    runtime = "crun"
