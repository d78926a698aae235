"""Comparing two engines' observations of a case, and the agreement table over a corpus.

A difference names its aspect (`build`, `config.Env`, `tree:/etc/x`, `probe.stdout`) and both
sides. A case's verdict for a pair of engines is `agree`, `documented` (they differ and the case
says why one of them does) or `diverged` (they differ and nobody said why: a finding). A reason
given for a pair that agrees is `stale`: counted as agreement, and listed so it can be removed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from fnmatch import fnmatchcase as fnmatch
from typing import Any

from seatrial.harness.differential.corpuscase import Case

VERDICTS = ("agree", "documented", "diverged", "stale")


@dataclass(frozen=True)
class Difference:
    aspect: str
    left: Any
    right: Any


@dataclass(frozen=True)
class PairResult:
    """One case on one pair of engines (left is the baseline)."""

    case: str
    left: str
    right: str
    verdict: str
    reason: str
    differences: tuple[Difference, ...]

    def to_json(self) -> dict:
        return asdict(self)


def differences(left: Mapping[str, Any] | None, right: Mapping[str, Any] | None) -> list[Difference]:
    """Every compared thing that is not the same in both observations (None: not observed)."""
    if left is None or right is None:
        return [Difference("observed", left is not None, right is not None)]
    if left.get("build") != right.get("build"):
        return [Difference("build", left.get("build"), right.get("build"))]
    found = []
    left_config, right_config = left.get("config") or {}, right.get("config") or {}
    for key in sorted(set(left_config) | set(right_config)):
        if left_config.get(key) != right_config.get(key):
            found.append(Difference(f"config.{key}", left_config.get(key), right_config.get(key)))
    left_tree, right_tree = left.get("tree") or {}, right.get("tree") or {}
    for path in sorted(set(left_tree) | set(right_tree)):
        a, b = left_tree.get(path, "unchanged"), right_tree.get(path, "unchanged")
        if a != b:
            found.append(Difference(f"tree:/{path}", a, b))
    left_probe, right_probe = left.get("probe"), right.get("probe")
    if (left_probe is None) != (right_probe is None):
        found.append(Difference("probe", left_probe, right_probe))
    elif left_probe is not None and right_probe is not None:  # both probed
        if bool(left_probe.get("refused")) != bool(right_probe.get("refused")):
            found.append(Difference("probe.refused", _said(left_probe), _said(right_probe)))
        else:
            for key in ("exit_code", "stdout", "stderr"):
                if not left_probe.get("refused") and left_probe.get(key) != right_probe.get(key):
                    found.append(Difference(f"probe.{key}", left_probe.get(key), right_probe.get(key)))
    return found


def _said(probe: Mapping[str, Any]) -> str:
    return f"refused: {probe.get('error', '')}" if probe.get("refused") else f"exit code {probe.get('exit_code')}"


def judge(
    case: Case,
    left: str,
    right: str,
    observations: Mapping[str, Mapping | None],
    engine_rules: Mapping[str, list[dict]] | None = None,
) -> PairResult:
    """The verdict of `case` for the pair (left, right). `engine_rules` (engine -> [{aspects:
    [fnmatch patterns], reason}]) documents what an engine does on every case it touches; a
    pair whose differences all fall under them is `documented` with that reason."""
    found = differences(observations.get(left), observations.get(right))
    reason = case.reason(right) or case.reason(left)
    rules = [rule for engine in (left, right) for rule in (engine_rules or {}).get(engine.split("@")[0], [])]
    explained = {
        rule["reason"]: [d for d in found if any(fnmatch(d.aspect, a) for a in rule["aspects"])] for rule in rules
    }
    left_over = [d for d in found if not any(d in ds for ds in explained.values())]
    if not found:
        verdict = "stale" if reason else "agree"
    elif not left_over and not reason:
        verdict, reason = "documented", "; ".join(r for r, ds in explained.items() if ds)
    else:
        verdict = "documented" if reason else "diverged"
    return PairResult(case.name, left, right, verdict, reason, tuple(found))


def agreement_table(results: Iterable[PairResult]) -> list[dict[str, Any]]:
    """Per pair of engines: cases, agree (stale included), documented, diverged, stale."""
    table: dict[tuple[str, str], dict[str, Any]] = {}
    for result in results:
        row = table.setdefault(
            (result.left, result.right),
            {"left": result.left, "right": result.right, "cases": 0, **{v: 0 for v in VERDICTS}},
        )
        row["cases"] += 1
        row[result.verdict] += 1
        if result.verdict == "stale":
            row["agree"] += 1
    return list(table.values())


def table_markdown(table: list[dict[str, Any]]) -> str:
    """The agreement table as GitHub Markdown (for the README)."""
    lines = ["| engines | cases | agree | documented divergences | unexplained |", "|---|---|---|---|---|"]
    for row in table:
        lines.append(
            f"| {row['left']} vs {row['right']} | {row['cases']} | {row['agree']} | "
            f"{row['documented']} | {row['diverged']} |"
        )
    return "\n".join(lines) + "\n"
