"""Which of dockerd's BuildKit cache records seatrial's builds made, for `seatrial clean --caches`.

On Docker 20.10, `docker builder prune --filter` takes `until`/`unused-for`, `id` (a regular
expression), `parent`, `type`, `description` (exact), `inuse`, `shared` and `private`, one value
each. None of them is a label: BuildKit's cache records carry no image labels. So seatrial
selects the records itself, from `docker system df -v` (ID, Parent, CacheType, Description,
InUse), and prunes exactly those by id:

- `regular` records in a chain that starts from a local image (BuildKit's description
  "from local ..."): seatrial never pulls, so every layer it builds descends from an image that
  was already in the daemon (its base image, seatrial/base:*, or a stage it built before);
- `source.local` records ("local source for context", "local source for dockerfile"): snapshots
  of build contexts; dropping one costs the next build a context transfer, not a rebuild.

Records in use are never chosen. What this also takes: the BuildKit cache of your own builds
that start FROM an image already in the daemon rather than one pulled from a registry.
"""

from __future__ import annotations

import json

FROM_LOCAL = "from local"
CONTEXT_SOURCES = ("local source for context", "local source for dockerfile")
BATCH = 100  # ids per `builder prune` call: one regular expression, kept to a sane length


def parse_records(text: str) -> list[dict]:
    """Records from `docker system df -v --format '{{json .BuildCache}}'` (a JSON list, or null)."""
    data = json.loads(text.strip() or "null")
    return list(data or [])


def _in_use(record: dict) -> bool:
    return str(record.get("InUse", "")).lower() == "true"


def chosen(records: list[dict]) -> list[str]:
    """Ids of the records seatrial's builds made (see the module's docstring), none in use."""
    by_id = {r["ID"]: r for r in records}

    def root(record: dict) -> dict:
        seen = set()
        while record.get("Parent") in by_id and record["ID"] not in seen:
            seen.add(record["ID"])
            record = by_id[record["Parent"]]
        return record

    ids = []
    for record in records:
        if _in_use(record):
            continue
        kind, description = record.get("CacheType", ""), record.get("Description", "")
        if (
            kind == "source.local"
            and description in CONTEXT_SOURCES
            or kind == "regular"
            and root(record).get("Description", "").startswith(FROM_LOCAL)
        ):
            ids.append(record["ID"])
    return ids


def prune_filters(ids: list[str]) -> list[list[str]]:
    """`--filter id=^(a|b|...)$` arguments, BATCH ids each (`id` is matched as a regular expression)."""
    return [["--filter", "id=^(" + "|".join(ids[i : i + BATCH]) + ")$"] for i in range(0, len(ids), BATCH)]


def reclaimed(output: str) -> tuple[int, int | None]:
    """(records deleted, bytes reclaimed) from `docker builder prune` output."""
    lines = output.splitlines()
    deleted = 0
    if "Deleted build cache objects:" in lines:
        start = lines.index("Deleted build cache objects:") + 1
        deleted = sum(1 for line in lines[start:] if line.strip() and not line.startswith("Total"))
    total = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("Total reclaimed space:")), "")
    return deleted, _bytes(total)


def _bytes(text: str) -> int | None:
    units = {"B": 1, "kB": 1e3, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12}
    for unit in sorted(units, key=len, reverse=True):
        if text.endswith(unit):
            try:
                return int(float(text[: -len(unit)]) * units[unit])
            except ValueError:
                return None
    return None
