"""The runtime floor (engines/bundle.py, bundlestore.py) without root or a runtime: images unpacked
from a docker-archive, whiteouts, the bundle's config.json, what a floor refuses, how floors are
found, and the reports' ratios to the floor."""

from __future__ import annotations

import io
import tarfile

import pandas as pd
import pytest

from seatrial.engines import base, discovery
from seatrial.engines.bundle import BundleEngine
from seatrial.engines.bundlestore import apply_layer
from seatrial.harness.baseimage import archive_bytes
from seatrial.reports import tables
from seatrial.reports.results import ITEM_COLUMNS, SAMPLE_COLUMNS, Results, Run
from seatrial.reports.text import render_markdown

TEMPLATE = {  # the parts of `runc spec`'s config.json that the floor fills in or keeps
    "ociVersion": "1.0.2-dev",
    "process": {"terminal": True, "user": {"uid": 0, "gid": 0}, "args": ["sh"], "env": [], "cwd": "/"},
    "root": {"path": "rootfs", "readonly": True},
    "linux": {"namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "mount"}]},
}


@pytest.fixture
def floor(tmp_path):
    engine = BundleEngine(tmp_path / "floor")
    engine._template = TEMPLATE  # as `runc spec` would give it; no runtime is called in these tests
    archive = tmp_path / "base.tar"
    archive.write_bytes(archive_bytes(b"#!busybox\n", ["busybox", "sh", "true"], "d" * 64, "seatrial/base:test"))
    engine.load(archive)
    return engine


def _layer(entries: list[tuple[str, bytes | None]]) -> tarfile.TarFile:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    return tarfile.open(fileobj=buf)


def test_floor_unpacks_the_base_archive_into_a_rootfs_named_by_its_tag(floor):
    hex_id = floor.store.resolve("seatrial/base:test")
    rootfs = floor.store.rootfs(hex_id)
    assert (rootfs / "bin" / "busybox").read_bytes() == b"#!busybox\n"
    assert (rootfs / "bin" / "sh").readlink().name == "busybox"
    assert floor.image_exists(f"sha256:{hex_id}") and not floor.image_exists("seatrial/other:x")
    floor.tag("seatrial/base:test", "again")
    assert floor.store.resolve("again:latest") == hex_id


def test_layers_apply_whiteouts_and_refuse_names_that_climb_out(tmp_path):
    rootfs = tmp_path / "rootfs"
    rootfs.mkdir()
    apply_layer(_layer([("etc", None), ("etc/gone", b"x"), ("var", None), ("var/a", b"a"), ("keep", b"k")]), rootfs)
    apply_layer(_layer([("etc/.wh.gone", b""), ("var/.wh..wh..opq", b"")]), rootfs)
    assert not (rootfs / "etc" / "gone").exists()
    assert list((rootfs / "var").iterdir()) == []
    assert (rootfs / "keep").read_bytes() == b"k"
    with pytest.raises(ValueError, match="outside"):
        apply_layer(_layer([("../.wh.escape", b"")]), rootfs)


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tarfile.TarFile:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.type, info.linkname = kind, target
        tar.addfile(info)
    buf.seek(0)
    return tarfile.open(fileobj=buf)


def test_layers_never_write_through_a_symlink_or_link_to_a_file_outside_the_root(tmp_path):
    """Debian 12's Python (3.11.2) has no tarfile `filter=`: the floor checks members itself."""
    rootfs, outside = tmp_path / "rootfs", tmp_path / "host"
    rootfs.mkdir()
    outside.mkdir()
    (outside / "secret").write_text("host")
    apply_layer(_link("escape", str(outside)), rootfs)  # a symlink itself may point anywhere
    with pytest.raises(ValueError, match="through a symlink"):
        apply_layer(_layer([("escape/planted", b"x")]), rootfs)
    with pytest.raises(ValueError, match="outside the image's root"):
        apply_layer(_link("hard", str(outside / "secret"), tarfile.LNKTYPE), rootfs)
    assert sorted(p.name for p in outside.iterdir()) == ["secret"]
    apply_layer(_layer([("replaced", b"1")]), rootfs)
    apply_layer(_link("replaced", "escape"), rootfs)  # a later layer replaces a file by a link
    assert (rootfs / "replaced").is_symlink()


def test_bundle_config_takes_the_runtime_template_the_image_and_the_run(floor):
    hex_id = floor.store.resolve("seatrial/base:test")
    spec = base.RunSpec(image="seatrial/base:test", name="", command=("true",), network="none", env={"A": "1"},
                        labels={base.SESSION_LABEL: "s1"})  # fmt: skip
    config = floor._config(spec, hex_id, "c" * 32)
    assert config["process"]["args"] == ["true"] and config["process"]["terminal"] is False
    assert config["process"]["env"][-1] == "A=1" and config["process"]["env"][0].startswith("PATH=")
    assert config["root"] == {"path": str(floor.store.rootfs(hex_id)), "readonly": True}
    assert config["linux"]["namespaces"] == TEMPLATE["linux"]["namespaces"]  # the runtime's own, kept
    assert config["annotations"] == {base.SESSION_LABEL: "s1"} and config["hostname"] == "c" * 12
    image_cmd = floor._config(base.RunSpec(image="seatrial/base:test", name=""), hex_id, "c" * 32)
    assert image_cmd["process"]["args"] == ["sh"]  # the image's CMD when the run gives none
    with pytest.raises(base.EngineError, match="numeric"):
        floor._config(base.RunSpec(image="x", name="", user="nobody"), hex_id, "c" * 32)


def test_floor_refuses_what_it_lacks_before_touching_the_runtime(floor):
    for spec in (
        base.RunSpec(image="seatrial/base:test", name="", network="bridge"),
        base.RunSpec(image="seatrial/base:test", name="", network="none", ports=(base.PortMapping(80),)),
    ):
        with pytest.raises(base.EngineError, match="not on runc-bundle"):
            floor.run(spec)
    assert not (floor.root / "sessions").exists()


def test_floors_are_named_apart_from_engines_and_join_only_when_asked(monkeypatch):
    assert {"runc-bundle", "crun-bundle"} <= set(discovery.floors())
    assert not set(discovery.floors()) & set(discovery.registered())
    assert [e.name for e in discovery.load_engines(["runc-bundle"])] == ["runc-bundle"]
    assert discovery.unknown_engines_message(["runc-bundle", "crun-bundle"]) == ""  # what `seatrial run` checks
    assert "; runtime floors: crun-bundle, runc-bundle" in discovery.unknown_engines_message(["nosuch"])
    monkeypatch.setattr(discovery, "registered", dict)  # no engines: what a default load adds is the floors alone
    assert discovery.load_engines() == []
    assert sorted(e.name for e in discovery.load_engines(with_floors=True)) == sorted(discovery.floors())


def _results(floor_info: bool) -> Results:
    engines = [
        {"name": "docker", "extra": {}},
        {"name": "runc-bundle", "extra": {"floor": "true"} if floor_info else {}},
    ]
    run = Run("r1", {}, engines, 0.0, True, "r1/events.jsonl")
    rows = [
        {"column": e, "scenario": "start", "engine": e, "metric": m, "round": i, "value": v * (1 + i / 100),
         "unit": "s", "warmup": False, "time": 0.0}
        for i in range(10)
        for e, m, v in (("docker", "none", 0.3), ("runc-bundle", "none", 0.03), ("docker", "bridge", 0.4))
    ]  # fmt: skip
    return Results([run], pd.DataFrame(columns=ITEM_COLUMNS), pd.DataFrame(rows, columns=SAMPLE_COLUMNS), {})


def test_ratios_are_to_the_floor_where_it_ran_and_the_heading_says_so():
    rows = tables.timings(_results(floor_info=True))
    none = {r["engine"]: r for r in rows if r["metric"] == "none"}
    assert none["docker"]["baseline"] == "runc-bundle" and none["docker"]["ratio"] == pytest.approx(10, rel=0.01)
    assert [r["baseline"] for r in rows if r["metric"] == "bridge"] == ["docker"]  # no floor sample: the first engine
    assert tables.baseline_heading(rows) == "ratio to baseline"
    assert tables.baseline_mark(none["runc-bundle"], rows) == "baseline"
    assert "| ratio to baseline |" in render_markdown(_results(floor_info=True))
    plain = tables.timings(_results(floor_info=False))  # not recorded as a floor: the first engine, as before
    assert {r["baseline"] for r in plain} == {"docker"}
