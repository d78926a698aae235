"""The base image archive: deterministic bytes, a well-formed docker-archive, a cache that holds."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from seatrial.harness.baseimage import BUSYBOX, BaseImageError, base_archive, ensure_loaded

pytestmark = pytest.mark.skipif(not BUSYBOX.is_file(), reason="busybox-static is not installed")


def members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def test_same_inputs_give_the_same_bytes(tmp_path):
    first = base_archive(tmp_path / "a")
    second = base_archive(tmp_path / "b")
    assert first.path.read_bytes() == second.path.read_bytes()
    assert first.digest == second.digest and first.tag == f"seatrial/base:{first.digest[:12]}"


def test_archive_is_a_well_formed_docker_archive(tmp_path):
    archive = base_archive(tmp_path)
    files = members(archive.path)
    [manifest] = json.loads(files["manifest.json"])
    assert manifest["RepoTags"] == [archive.tag]
    config_bytes = files[manifest["Config"]]
    assert manifest["Config"] == hashlib.sha256(config_bytes).hexdigest() + ".json"
    config = json.loads(config_bytes)
    assert config["config"]["Labels"] == {"seatrial.base": archive.digest}
    [layer_name] = manifest["Layers"]
    layer = files[layer_name]
    assert config["rootfs"]["diff_ids"] == ["sha256:" + hashlib.sha256(layer).hexdigest()]
    with tarfile.open(fileobj=io.BytesIO(layer)) as tar:
        entries = tar.getmembers()
    names = [e.name for e in entries]
    assert names == sorted(names)
    assert {(e.uid, e.gid, e.mtime) for e in entries} == {(0, 0, entries[0].mtime)}
    by_name = {e.name: e for e in entries}
    for applet in ("sh", "true", "wget", "nslookup", "httpd", "awk", "ping", "nc", "ip"):
        assert by_name[f"bin/{applet}"].issym() and by_name[f"bin/{applet}"].linkname == "busybox"
    assert by_name["bin/busybox"].size == BUSYBOX.stat().st_size
    assert by_name["tmp"].isdir() and by_name["tmp"].mode == 0o1777
    assert {"etc/passwd", "etc/group"} <= set(names)


def test_cache_is_reused_until_inputs_change(tmp_path):
    archive = base_archive(tmp_path)
    archive.path.write_bytes(b"marker")  # a rebuild would overwrite this
    assert base_archive(tmp_path).path.read_bytes() == b"marker"
    other = tmp_path / "busybox"
    other.write_bytes(BUSYBOX.read_bytes() + b"\0")  # still runs; different bytes
    other.chmod(0o755)
    changed = base_archive(tmp_path, busybox=other)
    assert changed.digest != archive.digest and changed.path != archive.path


def test_cache_dir_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SEATRIAL_CACHE", str(tmp_path / "env"))
    assert base_archive().path.parent == tmp_path / "env"


def test_missing_busybox_says_what_to_install(tmp_path):
    with pytest.raises(BaseImageError, match="apt-get install busybox-static"):
        base_archive(tmp_path, busybox=tmp_path / "absent")


class FakeEngine:
    def __init__(self, present):
        self.present, self.loaded = present, []

    def image_exists(self, image):
        return self.present

    def load(self, path):
        self.loaded.append(path)


@pytest.mark.parametrize("present, loads", [(True, 0), (False, 1)])
def test_ensure_loaded_loads_only_when_absent(tmp_path, present, loads):
    archive = base_archive(tmp_path)
    engine = FakeEngine(present)
    assert ensure_loaded(engine, archive) == archive.tag
    assert len(engine.loaded) == loads
