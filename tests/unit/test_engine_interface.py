"""The engine interface is declared whole in engines/base.py: every member documented, the
optional ones with working defaults, every built-in adapter complete, and discovery refusing (with
a warning that names what is missing) an adapter that is not."""

from __future__ import annotations

import dataclasses
import inspect
import warnings

import pytest

from seatrial.engines import base, discovery, records
from seatrial.engines.base import ENGINE_MEMBERS, Engine, protocol_gaps

METHODS = [n for n in ENGINE_MEMBERS if callable(getattr(Engine, n, None))]


def test_every_method_of_the_interface_has_a_one_line_docstring():
    assert len(METHODS) == 21, METHODS
    undocumented = [n for n in METHODS if not (getattr(Engine, n).__doc__ or "").strip()]
    assert undocumented == []


def test_every_spec_and_result_record_has_a_docstring_and_is_frozen():
    classes = [
        c
        for _, c in inspect.getmembers(records, inspect.isclass)
        if dataclasses.is_dataclass(c) and c.__module__ == records.__name__
    ]
    assert {"RunResult", "ExecResult", "BuildResult", "NetworkSpec", "VolumeSpec"} <= {c.__name__ for c in classes}
    assert [
        c.__name__ for c in classes if not (c.__doc__ or "").strip() or c.__doc__.startswith(c.__name__ + "(")
    ] == []
    assert [c.__name__ for c in classes if not c.__dataclass_params__.frozen] == []
    assert all(getattr(base, c.__name__) is c for c in classes)  # importable from base, as callers do


def test_every_registered_adapter_implements_the_whole_interface():
    points = discovery.registered()
    assert {"docker", "docker-buildkit", "podman", "podman-rootless", "reference"} <= set(points)
    for name, point in points.items():
        adapter = point.load()
        assert Engine in adapter.__mro__, name  # subclassed, so the optional members have defaults
        assert protocol_gaps(adapter) == [], name


def test_the_optional_members_have_defaults_an_adapter_inherits():
    class Minimal(Engine):
        name = "minimal"

    engine = Minimal()
    assert engine.documented_capabilities == ()
    assert engine.reap("s1") == [] and engine.prune() == []
    assert "keeps no build cache" in engine.prune_caches().summary()


class _Point:
    """An entry point that loads `adapter` (for discovery without installing a package)."""

    def __init__(self, adapter):
        self.adapter, self.value = adapter, f"somepackage:{adapter.__name__}"

    def load(self):
        return self.adapter


def test_an_adapter_missing_members_is_left_out_with_a_warning_naming_them(monkeypatch):
    from fakes import RecordingEngine

    class Partial:
        name = "partial"

        def info(self):
            raise AssertionError("never asked: discovery checks the members first")

    monkeypatch.setattr(discovery, "registered", lambda: {"partial": _Point(Partial), "fake": _Point(RecordingEngine)})
    with pytest.warns(discovery.EngineLoadWarning) as caught:
        loaded = discovery.load_engines(["partial", "fake"])
    assert [e.name for e in loaded] == ["fake"]
    [message] = [str(w.message) for w in caught]
    assert message.startswith("engine 'partial': somepackage:Partial lacks build, capabilities, ")
    assert "subclass seatrial.engines.base.Engine" in message and "--engine" in message


def test_a_complete_adapter_loads_without_a_warning(monkeypatch):
    from fakes import RecordingEngine

    monkeypatch.setattr(discovery, "registered", lambda: {"fake": _Point(RecordingEngine)})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert [e.name for e in discovery.load_engines()] == ["fake"]


def test_documented_capabilities_give_the_engine_default_caps_placeholder():
    from fakes import RecordingEngine

    from seatrial.engines import capsets
    from seatrial.harness.itemcontext import ItemContext

    def lookup(engine):
        ctx = ItemContext(engine=engine, session=None, scenario=None, index=1, base_image=lambda e: "base")
        return ctx.lookup("engine_default_caps")

    assert lookup(RecordingEngine(documented_capabilities=capsets.DOCKER_DEFAULT)) == capsets.mask(
        capsets.DOCKER_DEFAULT
    )
    assert lookup(RecordingEngine(documented_capabilities=("CHOWN",))) == "0000000000000001"
    assert lookup(RecordingEngine()) is None  # unknown: a scenario using it fails to render, never passes
