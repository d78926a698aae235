"""Finding and removing what sessions left behind.

Every resource a run creates carries `seatrial.session=<id>`. At start, the reaper removes the
resources of every session whose lock is free (its process died, even by SIGKILL); at the end a
run removes its own and the leak check fails the run if anything with its label remains.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from seatrial.engines.base import SESSION_LABEL, Engine, EngineError, ResourceRef
from seatrial.harness.session import forget_dead_locks, is_alive
from seatrial.harness.words import plural

# Containers hold images, networks and volumes: remove them first; images last among the
# removable-by-force kinds because a child image pins its parent.
REMOVAL_ORDER = {"container": 0, "network": 1, "volume": 2, "image": 3}


def remove_all(engine: Engine, refs: Iterable[ResourceRef], *, rounds: int = 3) -> list[ResourceRef]:
    """Remove refs in dependency order, retrying what failed (an image whose child went first).

    Returns what could not be removed."""
    pending = sorted(refs, key=lambda r: REMOVAL_ORDER[r.kind])
    for _ in range(rounds):
        failed = []
        for ref in pending:
            try:
                engine.remove(ref)
            except EngineError:
                failed.append(ref)
        if not failed or len(failed) == len(pending):
            return failed
        pending = failed
    return pending


def session_of(ref: ResourceRef) -> str:
    return ref.labels.get(SESSION_LABEL, "")


def reap_dead_sessions(engines: Iterable[Engine], *, log: Callable[[str], None] = lambda _: None) -> list[ResourceRef]:
    """Remove every labelled resource whose session is not alive, then what belongs to no
    session (`prune`); returns the labelled resources removed."""
    engines = list(engines)
    removed: list[ResourceRef] = []
    for engine in engines:
        try:
            refs = engine.resources(SESSION_LABEL)
        except EngineError as exc:
            log(f"reaper: cannot list resources of {engine.name}: {exc}")
            continue
        alive: dict[str, bool] = {}
        dead = []
        for ref in refs:
            sid = session_of(ref)
            if sid not in alive:
                alive[sid] = is_alive(sid)
            if not alive[sid]:
                dead.append(ref)
        if not dead:
            continue
        sessions = sorted({session_of(r) for r in dead})
        left = remove_all(engine, dead)
        for sid in sessions:
            # What `remove` cannot reach: the reference runtime's veths, bridges, mounts and
            # processes; it also retries what its own `remove` refused above.
            engine.reap(session=sid)
        if left:
            left = [r for r in engine.resources(SESSION_LABEL) if session_of(r) in sessions]
        gone = [r for r in dead if r not in left]
        removed.extend(gone)
        log(
            f"reaper: removed {plural(len(gone), 'resource')} of dead sessions {', '.join(sessions)} from {engine.name}"
        )
        for ref in left:
            log(f"reaper: could not remove {ref.kind} {ref.handle} from {engine.name}")
    for engine in engines:
        # What belongs to no session at all (the reference runtime's layers that a build
        # killed midway committed but no image took).
        pruned = engine.prune()
        if pruned:
            log(f"reaper: removed from {engine.name} what no session owns: {', '.join(pruned)}")
    forget_dead_locks()
    return removed


def leaks(engines: Iterable[Engine], session_id: str) -> dict[str, list[ResourceRef]]:
    """What still carries this session's label, per engine name."""
    found: dict[str, list[ResourceRef]] = {}
    for engine in engines:
        refs = engine.resources(f"{SESSION_LABEL}={session_id}")
        if refs:
            found[engine.name] = refs
    return found
