"""`seatrial clean --caches` on real engines: what seatrial's builds left in the build caches goes,
the base image seatrial/base:* stays.

Each test holds a live session (its lock), so that `clean`'s reaper of dead sessions leaves its
resources alone and only the cache pruning can remove what the test checks.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest
from test_cli import engine_available, seatrial

from seatrial.engines import base
from seatrial.engines.discovery import load_engines
from seatrial.harness.baseimage import base_archive, ensure_loaded
from seatrial.harness.session import Session

pytestmark = pytest.mark.root


@pytest.fixture
def session():
    live = Session.start()
    yield live
    live.close()


def build(engine, context: Path, tag: str, labels: dict, stamp: str) -> base.BuildResult:
    (context / "Dockerfile").write_text(
        f"FROM {ensure_loaded(engine, base_archive())}\nCOPY stamp.txt /stamp.txt\nRUN echo {stamp} > /run-stamp\n"
    )
    (context / "stamp.txt").write_text(stamp)
    return engine.build(base.BuildSpec(tag=tag, context=context, labels=labels))


@pytest.mark.skipif(not engine_available("docker"), reason="docker is not available here")
def test_clean_caches_removes_dangling_seatrial_images_and_keeps_the_base_image(tmp_path, session):
    [engine] = load_engines(["docker"])
    tag = f"st-cache-{session.id}:1"
    old = build(engine, tmp_path, tag, session.labels, uuid.uuid4().hex).image
    new = build(engine, tmp_path, tag, session.labels, uuid.uuid4().hex).image  # the old one is dangling now
    try:
        assert old.id != new.id and engine.image_exists(old.id)
        proc = seatrial("clean", "--caches", "--engine", "docker", cwd=tmp_path)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "clean: docker: removed" in proc.stdout and "dangling images labelled seatrial.session" in proc.stdout
        assert not engine.image_exists(old.id)
        assert engine.image_exists(tag), "a tagged image of a live session was removed"
        assert engine.image_exists(base_archive().tag)
    finally:
        engine.remove(new)


@pytest.mark.skipif(not engine_available("docker-buildkit"), reason="docker-buildkit is not available here")
def test_clean_caches_prunes_buildkit_records_of_seatrial_builds_and_keeps_the_base_image(tmp_path, session):
    [engine] = load_engines(["docker-buildkit"])
    stamp = uuid.uuid4().hex
    image = build(engine, tmp_path, f"st-cache-{session.id}:bk", session.labels, stamp).image
    engine.remove(image)

    def records_of_this_build() -> list[dict]:
        out = engine.cli.run("df", ["system", "df", "-v", "--format", "{{json .BuildCache}}"]).stdout
        return [r for r in json.loads(out or "null") or [] if stamp in r.get("Description", "")]

    assert records_of_this_build(), "the build left no BuildKit record to prune"
    proc = seatrial("clean", "--caches", "-v", "--engine", "docker-buildkit", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "BuildKit cache records" in proc.stdout
    assert records_of_this_build() == []
    assert engine.image_exists(base_archive().tag)


@pytest.mark.skipif(not engine_available("reference"), reason="reference is not available here")
def test_clean_caches_empties_the_reference_build_cache_and_keeps_the_base_image(tmp_path, session, monkeypatch):
    root = tmp_path / "reference-root"  # private: other sessions' caches are never judged
    monkeypatch.setenv("SEATRIAL_REFERENCE_ROOT", str(root))
    [engine] = load_engines(["reference"])
    context = tmp_path / "context"
    context.mkdir()
    image = build(engine, context, "st-cache:ref", session.labels, uuid.uuid4().hex).image
    layers = engine.images.resolve(image.id)["layers"]
    engine.remove(image)
    assert len(list((root / "cache").glob("*.json"))) >= 2  # COPY and RUN
    proc = seatrial(
        "clean",
        "--caches",
        "--engine",
        "reference",
        cwd=tmp_path,
        env={**os.environ, "SEATRIAL_REFERENCE_ROOT": str(root)},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "clean: reference: removed" in proc.stdout
    assert list((root / "cache").glob("*.json")) == []
    base_record = engine.images.resolve(base_archive().tag)
    assert set(base_record["layers"]) <= set(engine.images.layers.all())
    assert not (set(layers) - set(base_record["layers"])) & set(engine.images.layers.all()), (
        "a layer of the removed seatrial image is still in the store"
    )
