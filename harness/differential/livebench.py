"""Running cases on live engines under one session: the base image loaded into each, every
resource labelled with the session, and everything the session made removed at the end."""
from __future__ import annotations

import time
from typing import Any, TextIO

from seatrial.engines.base import SESSION_LABEL, EngineError
from seatrial.harness.differential.corpuscase import Case
from seatrial.harness.differential.imagetree import image_tree
from seatrial.harness.differential.observation import Bench, observe


def run_live(cases: list[Case], names: list[str], observations: dict[str, dict[str, Any]],
             versions: dict[str, str], log: TextIO) -> int:
    """Observe every case on every named engine into `observations`; 3 when an engine is not
    usable here, else 0. Engines alternate case by case, so a slow one does not hold the rest."""
    from seatrial.engines.discovery import load_engines
    from seatrial.harness.baseimage import base_archive, ensure_loaded
    from seatrial.harness.reaper import leaks, reap_dead_sessions, remove_all
    from seatrial.harness.session import Session

    engines = load_engines(names)
    for engine in engines:
        info = engine.info()
        if not info.is_available:
            print(info.unavailable_reason, file=log)
            return 3
        versions[engine.name] = f"{info.server_version} ({info.extra.get('builder', '')})".replace(" ()", "")
    reap_dead_sessions(engines)
    session = Session.start()
    try:
        archive = base_archive()
        benches = []
        for engine in engines:
            tag = ensure_loaded(engine, archive)
            benches.append(Bench(engine, tag, image_tree(engine, tag), session.labels, session.scratch,
                                 f"seatrial-diff-{session.id}"))
        for index, case in enumerate(cases, 1):
            said = []
            for bench in benches:
                start = time.monotonic()
                try:
                    found = observe(bench, case)
                except EngineError as exc:   # the engine broke (not the build): say so, keep going
                    found = {"error": str(exc)[-400:]}
                observations[case.name][bench.engine.name] = found
                said.append(f"{bench.engine.name} {_brief(found)} {time.monotonic() - start:.1f}s")
            print(f"[{index}/{len(cases)}] {case.name}: {', '.join(said)}", file=log, flush=True)
    finally:
        for engine in engines:
            remove_all(engine, engine.resources(f"{SESSION_LABEL}={session.id}"))
        left = leaks(engines, session.id)
        session.close()
    for name, refs in left.items():
        print(f"diff: {name} kept {len(refs)} resources of session {session.id}: "
              f"{', '.join(r.handle for r in refs)}", file=log)
    return 0


def _brief(found: dict[str, Any]) -> str:
    if "error" in found:
        return "ERROR"
    if found.get("build") != "ok":
        return "build failed"
    probe = found.get("probe")
    if probe is None:
        return "built"
    return "refused" if probe.get("refused") else f"exit {probe.get('exit_code')}"
