"""Running cases on live engines under one session: the base image loaded into each, every
resource labelled with the session, and everything the session made removed at the end."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any, TextIO

from seatrial.engines.base import SESSION_LABEL, EngineError
from seatrial.harness.differential.corpuscase import Case
from seatrial.harness.differential.imagetree import image_tree
from seatrial.harness.differential.observation import Bench, observe


def run_live(
    cases: list[Case], names: list[str], observations: dict[str, dict[str, Any]], versions: dict[str, str], log: TextIO
) -> int:
    """Observe every case on every named engine into `observations`; 3 when an engine is not
    usable here, else 0. Engines alternate case by case, so that drift hits all alike."""
    try:
        with live_benches(names, versions, log) as benches:
            for index, case in enumerate(cases, 1):
                said = []
                for bench in benches:
                    start = time.monotonic()
                    found = observe_safely(bench, case)
                    observations[case.name][bench.engine.name] = found
                    said.append(f"{bench.engine.name} {_brief(found)} {time.monotonic() - start:.1f}s")
                print(f"[{index}/{len(cases)}] {case.name}: {', '.join(said)}", file=log, flush=True)
    except EngineUnusable as exc:
        print(exc, file=log)
        return 3
    return 0


class EngineUnusable(RuntimeError):
    """An engine named for a differential run is not available here; the message says why."""


@contextlib.contextmanager
def live_benches(names: list[str], versions: dict[str, str], log: TextIO) -> Iterator[list[Bench]]:
    """One session with a bench per engine (base image loaded, its tree read); on leaving, every
    resource of the session is removed and what could not be is reported."""
    from seatrial.engines.discovery import load_engines
    from seatrial.harness.baseimage import base_archive, ensure_loaded
    from seatrial.harness.reaper import leaks, reap_dead_sessions, remove_all
    from seatrial.harness.session import Session

    engines = load_engines(names)
    for engine in engines:
        info = engine.info()
        if not info.is_available:
            raise EngineUnusable(info.unavailable_reason)
        versions[engine.name] = f"{info.server_version} ({info.extra.get('builder', '')})".replace(" ()", "")
    reap_dead_sessions(engines)
    session = Session.start()
    try:
        archive = base_archive()
        benches = []
        for engine in engines:
            tag = ensure_loaded(engine, archive)
            benches.append(
                Bench(
                    engine, tag, image_tree(engine, tag), session.labels, session.scratch, f"seatrial-diff-{session.id}"
                )
            )
        yield benches
    finally:
        for engine in engines:
            remove_all(engine, engine.resources(f"{SESSION_LABEL}={session.id}"))
        left = leaks(engines, session.id)
        session.close()
        for name, refs in left.items():
            print(
                f"diff: {name} kept {len(refs)} resources of session {session.id}: {', '.join(r.handle for r in refs)}",
                file=log,
            )


def observe_safely(bench: Bench, case: Case) -> dict[str, Any]:
    """observe(), with an engine that broke (not the build: that is an observation) recorded as
    an error of this case, so that the other cases still run."""
    try:
        return observe(bench, case)
    except EngineError as exc:
        return {"error": str(exc)[-400:]}


def _brief(found: dict[str, Any]) -> str:
    if "error" in found:
        return "ERROR"
    if found.get("build") != "ok":
        return "build failed"
    probe = found.get("probe")
    if probe is None:
        return "built"
    return "refused" if probe.get("refused") else f"exit {probe.get('exit_code')}"
