"""Engine versions in the report: the label of each column (`docker 26.1.5 @ debian13`) and the
view across versions (each claim and each timing of one engine, version by version).

A column is `engine@host` once results come from more than one machine (results.py). That key
says where, not what: Debian 12 and Debian 13 VMs run Docker 20.10 and 26, Podman 4.3 and 5.x,
and a reader comparing them needs the version in the heading. The keys stay as they are (they
name JUnit files and --baseline); only what is shown changes. The version is the one each run
recorded in its run_start (the engine's server version, else its client's).
"""

from __future__ import annotations

import re
from itertools import groupby
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas is imported where a report is made, not by `seatrial run`'s console
    import pandas as pd

# The VMs of vagrant/Vagrantfile are named seatrial-<machine>; the machine alone says it.
HOST_PREFIX = "seatrial-"


def engine_version(engine: dict) -> str:
    """The version an engine reported in run_start: its server's (the daemon that runs the
    containers), else its client's; '' when it reported neither."""
    return str(engine.get("server_version") or engine.get("client_version") or "")


def short_version(version: str) -> str:
    """A version without its packaging suffix: '20.10.24+dfsg1' -> '20.10.24' (the full string
    stays in the environment table)."""
    return version.split("+", 1)[0].split("~", 1)[0]


def short_host(host: str) -> str:
    """A host name as a heading shows it: 'seatrial-debian13' -> 'debian13'."""
    return host[len(HOST_PREFIX) :] if host.startswith(HOST_PREFIX) and len(host) > len(HOST_PREFIX) else host


def point_label(engine: str, version: str, host: str) -> str:
    """'docker 26.1.5 @ debian13'; without a version 'docker @ debian13'; without a host no '@'."""
    text = " ".join(p for p in (engine, short_version(version)) if p)
    return f"{text} @ {short_host(host)}" if host else text


def column_labels(frames: list[pd.DataFrame], many_hosts: bool) -> dict[str, str]:
    """Column key -> heading: with several hosts the engine, its version and the host, from the
    latest row of the column (the run the matrix shows); with one host the key itself."""
    import pandas as pd

    labels: dict[str, str] = {}
    present = [f[["column", "engine", "version", "host", "time"]] for f in frames if len(f)]
    if not present:  # only differential runs (diff.json): no columns
        return labels
    rows = pd.concat(present)
    for column, group in rows.sort_values("time", kind="stable").groupby("column", sort=False):
        last = group.iloc[-1]
        labels[str(column)] = point_label(last["engine"], last["version"], last["host"]) if many_hosts else str(column)
    return labels


def version_key(version: str) -> tuple:
    """Orders versions by their numbers: 4.3.1 < 5.4.2, 20.10.24 < 26.1.5 (not as text)."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"[.\-+~]", version))


def across_versions(items: pd.DataFrame, samples: pd.DataFrame) -> list[dict]:
    """For each engine seen at more than one (version, host): its claims' outcomes and its
    timings' medians at each, oldest version first. A claim's outcome at a point is the worst of
    the latest items checking it there; a benchmark claim that ran is 'measured'."""
    from seatrial.reports.claimstable import BENCHMARK_CLAIMS
    from seatrial.reports.tables import worst

    rows = []
    points_of = _points(items, samples)
    for engine, points in points_of.items():
        if len(points) < 2:
            continue
        labels = [point_label(engine, v, h) for v, h in points]
        claims: dict[str, dict[str, str]] = {}
        mine = items[items["engine"] == engine].sort_values("time", kind="stable")
        latest = mine.groupby(["scenario", "version", "host"], as_index=False).last()
        for row in latest.explode("claims").dropna(subset=["claims"]).itertuples():
            label = point_label(engine, str(row.version), str(row.host))
            cell = claims.setdefault(str(row.claims), {})
            cell[label] = worst([cell.get(label, "passed"), str(row.outcome)])
        for claim, cells in claims.items():
            if claim in BENCHMARK_CLAIMS:
                claims[claim] = {k: "measured" if v == "passed" else v for k, v in cells.items()}
        kept = samples[(samples["engine"] == engine) & ~samples["warmup"].astype(bool)] if len(samples) else samples
        timings: dict[str, dict[str, float]] = {}
        units: dict[str, str] = {}
        for (scenario, metric, version, host), g in kept.groupby(["scenario", "metric", "version", "host"]):
            name = f"{scenario}/{metric}"
            timings.setdefault(name, {})[point_label(engine, str(version), str(host))] = float(g["value"].median())
            units[name] = str(g["unit"].iloc[0])
        rows.append(
            {
                "engine": engine,
                "points": labels,
                "claims": [{"claim": c, "cells": claims[c]} for c in sorted(claims)],
                "timings": [{"metric": m, "unit": units[m], "medians": timings[m]} for m in sorted(timings)],
            }
        )
    return rows


def _points(items: pd.DataFrame, samples: pd.DataFrame) -> dict[str, list[tuple[str, str]]]:
    """Engine -> its distinct (version, host), by version then host."""
    import pandas as pd

    frames = [f[["engine", "version", "host"]] for f in (items, samples) if len(f)]
    if not frames:
        return {}
    seen = pd.concat(frames).drop_duplicates()
    ordered = sorted(
        ((str(e), str(v), str(h)) for e, v, h in seen.itertuples(index=False)),
        key=lambda p: (p[0], version_key(p[1]), p[2]),
    )
    return {engine: [(v, h) for _, v, h in group] for engine, group in groupby(ordered, key=lambda p: p[0])}
