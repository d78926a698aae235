"""The orphan-layer sweep (layergc.py): what it removes, and what it must never touch - layers
an image references, layers a live build holds or has just stored, a live process's work."""

from __future__ import annotations

import os
import time

import pytest

from seatrial.engines.reference import layergc
from seatrial.engines.reference.images import ImageStore
from seatrial.engines.reference.state import StateRoot


@pytest.fixture
def store(tmp_path) -> ImageStore:
    return ImageStore(StateRoot(tmp_path / "state"))


def layer(store: ImageStore, content: str) -> str:
    folder = store.state.tmp / f"made-{content}"
    folder.mkdir()
    (folder / "file").write_text(content)
    return store.layers.add_directory(folder)


def age(store: ImageStore, digest: str, seconds: float) -> None:
    meta = store.state.layers / digest[7:] / "meta.json"
    then = time.time() - seconds
    os.utime(meta, (then, then))


def test_a_layer_no_image_references_goes_and_an_image_keeps_its_own(store):
    kept, orphan = layer(store, "kept"), layer(store, "orphan")
    store.add({"config": {}}, [kept], ("app:1",))
    assert layergc.sweep(store.state, store) == [f"layer {orphan[:19]}"]
    assert store.layers.all() == [kept]


def test_a_live_build_keeps_the_layers_it_holds_and_the_ones_it_stored_since_it_started(store):
    cached = layer(store, "cached")
    age(store, cached, 60)
    with layergc.claim(store.state.tmp) as build:
        build.hold(cached)  # a cache hit it continues from
        fresh = layer(store, "fresh")  # a layer it stored, not yet in any image
        assert layergc.sweep(store.state, store) == []
        assert sorted(store.layers.all()) == sorted([cached, fresh])
    assert sorted(layergc.sweep(store.state, store)) == sorted([f"layer {cached[:19]}", f"layer {fresh[:19]}"])


def test_a_dead_claim_protects_nothing(store):
    orphan = layer(store, "orphan")
    age(store, orphan, 60)
    dead = store.state.tmp / layergc.CLAIMS / "1-deadbeef"  # a file no process holds a lock on
    dead.parent.mkdir(parents=True, exist_ok=True)
    dead.write_text('{"started": 0}\n' + orphan + "\n")
    assert layergc.sweep(store.state, store) == [f"layer {orphan[:19]}"]
    assert not dead.exists()


def test_work_folders_of_dead_processes_go_and_a_live_ones_stay(store):
    dead = store.state.tmp / "0123456789ab.999999999"
    live = store.state.tmp / f"0123456789ab.{os.getpid()}"
    dead.mkdir()
    live.mkdir()
    assert layergc.sweep(store.state, store) == [f"work folder {dead.name}"]
    assert live.is_dir() and not dead.exists()
