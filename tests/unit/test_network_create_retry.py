"""Podman 4 lists the host's interfaces, then each one's addresses, to pick a free subnet; an
interface removed in between fails `network create` with Go's "route ip+net: no such network
interface" and makes nothing. CliEngine.network_create tries such a create again, and only such."""

from __future__ import annotations

import subprocess

import pytest

from seatrial.engines import cliengine
from seatrial.engines.base import EngineError, NetworkSpec
from seatrial.engines.cliengine import CliEngine

GONE = "Error: route ip+net: no such network interface"


class ScriptedCli:
    """Answers each `network create` with the next (exit code, stderr) of `script`."""

    def __init__(self, script: list[tuple[int, str]]) -> None:
        self.script = list(script)
        self.creates = 0

    def run(self, operation, args, check=True, **kwargs):
        assert args[:2] == ["network", "create"], args
        self.creates += 1
        code, stderr = self.script.pop(0)
        return subprocess.CompletedProcess(args, code, "", stderr)


def engine_with(script: list[tuple[int, str]], monkeypatch) -> tuple[CliEngine, ScriptedCli]:
    cli = ScriptedCli(script)
    engine = CliEngine(cli)  # type: ignore[arg-type]
    engine.remote = None
    monkeypatch.setattr(engine, "inspect", lambda ref: {"id": "n1", "labels": {}})
    monkeypatch.setattr(cliengine.time, "sleep", lambda seconds: None)
    return engine, cli


def test_a_create_failed_by_an_interface_that_went_away_is_tried_again(monkeypatch):
    engine, cli = engine_with([(125, GONE), (125, GONE), (0, "")], monkeypatch)
    assert engine.network_create(NetworkSpec("net")).id == "n1"
    assert cli.creates == 3


def test_any_other_failure_is_not_tried_again(monkeypatch):
    engine, cli = engine_with([(125, "Error: network name net already used")], monkeypatch)
    with pytest.raises(EngineError, match="already used"):
        engine.network_create(NetworkSpec("net"))
    assert cli.creates == 1


def test_the_interface_race_is_given_up_after_the_last_attempt(monkeypatch):
    engine, cli = engine_with([(125, GONE)] * cliengine.NETWORK_CREATE_ATTEMPTS, monkeypatch)
    with pytest.raises(EngineError, match="no such network interface"):
        engine.network_create(NetworkSpec("net"))
    assert cli.creates == cliengine.NETWORK_CREATE_ATTEMPTS
