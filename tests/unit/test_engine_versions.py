"""Engine versions in the report: columns from several hosts headed `docker 26.1.5 @ debian13`, a
Markdown table of each engine's versions, and each engine's claims and medians across versions.

Fixtures: results/debian12 and results/debian13, one run each on hosts named as the VMs of
vagrant/Vagrantfile are (seatrial-debian12, seatrial-debian13), with Docker 20.10.24 and 26.1.5,
Podman 4.3.1 and 5.4.2; host-network diverges on Podman 4.3.1 and holds on 5.4.2 there.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

from seatrial.reports import tables
from seatrial.reports.engineversions import point_label, short_host, short_version, version_key
from seatrial.reports.render import render_all
from seatrial.reports.results import load_results

RESULTS = Path(__file__).parent / "fixtures" / "results"
BOTH = [RESULTS / "debian12", RESULTS / "debian13"]


def start_of(path: Path) -> dict:
    return next(r for r in map(json.loads, path.read_text().splitlines()) if r["type"] == "run_start")


def median_of(path: Path, engine: str, metric: str) -> float:
    records = map(json.loads, path.read_text().splitlines())
    return statistics.median(
        r["value"]
        for r in records
        if r["type"] == "sample" and r["engine"] == engine and r["metric"] == metric and not r["warmup"]
    )


def test_columns_of_two_hosts_are_headed_with_engine_version_and_host(tmp_path):
    render_all(BOTH, tmp_path, generated="")
    summary = json.loads((tmp_path / "summary.json").read_text())
    for name in ("debian12", "debian13"):
        start = start_of(RESULTS / name / "events.jsonl")
        for engine in start["engines"]:
            column = f"{engine['name']}@seatrial-{name}"
            want = f"{engine['name']} {engine['server_version'].split('+')[0]} @ {name}"
            assert summary["labels"][column] == want
            assert want in (tmp_path / "summary.md").read_text()
            assert want in (tmp_path / "index.html").read_text()
    # The keys stay: JUnit files and --baseline name columns, not headings.
    assert (tmp_path / "junit-docker_seatrial-debian13.xml").exists()


def test_one_host_keeps_its_plain_engine_columns(tmp_path):
    render_all([RESULTS / "full"], tmp_path, generated="")
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["labels"] == {c: c for c in summary["columns"]}


def test_markdown_lists_each_engines_version_on_each_host(tmp_path):
    render_all(BOTH, tmp_path, generated="")
    markdown = (tmp_path / "summary.md").read_text()
    assert "## Engines and machines" in markdown
    for name in ("debian12", "debian13"):
        for engine in start_of(RESULTS / name / "events.jsonl")["engines"]:
            row = f"| seatrial-{name} | {engine['name']} | {engine['server_version']} |"
            assert row in markdown, row


def test_across_versions_orders_points_by_version_and_shows_what_moved():
    results = load_results(BOTH)
    by_engine = {r["engine"]: r for r in tables.across_versions(results)}
    assert by_engine["podman"]["points"] == ["podman 4.3.1 @ debian12", "podman 5.4.2 @ debian13"]
    c03 = next(c for c in by_engine["podman"]["claims"] if c["claim"] == "C03")
    assert c03["cells"] == {"podman 4.3.1 @ debian12": "diverged", "podman 5.4.2 @ debian13": "passed"}
    c04 = next(c for c in by_engine["docker"]["claims"] if c["claim"] == "C04")
    assert set(c04["cells"].values()) == {"measured"}  # a benchmark claim is measured, never held
    timing = next(t for t in by_engine["docker"]["timings"] if t["metric"] == "start-to-exit/start-to-exit-none")
    assert timing["medians"] == {
        "docker 20.10.24 @ debian12": pytest.approx(
            median_of(BOTH[0] / "events.jsonl", "docker", "start-to-exit-none")
        ),
        "docker 26.1.5 @ debian13": pytest.approx(median_of(BOTH[1] / "events.jsonl", "docker", "start-to-exit-none")),
    }


def test_an_engine_upgraded_on_one_host_shows_both_versions(tmp_path):
    """Two runs on one host, Docker upgraded in between: one column, two points across versions."""
    later = tmp_path / "later"
    later.mkdir()
    lines = []
    for record in map(json.loads, (RESULTS / "machine-a" / "events.jsonl").read_text().splitlines()):
        record["run_id"] = "20261104-100000-dddd0001"
        record["time"] += 86400
        if record["type"] == "run_start":
            for engine in record["engines"]:
                if engine["name"] == "docker":
                    engine["server_version"] = "24.0.9"
        lines.append(json.dumps(record))
    (later / "events.jsonl").write_text("\n".join(lines) + "\n")
    results = load_results([RESULTS / "machine-a", later])
    assert results.columns == ["docker", "podman"]
    by_engine = {r["engine"]: r for r in tables.across_versions(results)}
    assert set(by_engine) == {"docker"}  # podman stayed at one version: nothing moved
    assert by_engine["docker"]["points"] == ["docker 20.10.24 @ alpha", "docker 24.0.9 @ alpha"]
    versions = {r["version"] for r in tables.history(results) if r["engine"] == "docker"}
    assert versions == {"20.10.24+dfsg1", "24.0.9"}


def test_versions_order_by_number_not_text():
    assert sorted(["4.9.1", "5.4.2", "4.10.0"], key=version_key) == ["4.9.1", "4.10.0", "5.4.2"]
    assert version_key("20.10.24") < version_key("26.1.5")


def test_labels_drop_packaging_suffix_and_vm_prefix():
    assert short_version("20.10.24+dfsg1") == "20.10.24"
    assert short_version("1:4.3.1~rc1") == "1:4.3.1"
    assert short_host("seatrial-debian13") == "debian13"
    assert short_host("ci-runner") == "ci-runner"
    assert point_label("reference", "", "seatrial-debian12") == "reference @ debian12"


def test_run_matrix_heads_each_engine_with_its_version_and_names_the_host():
    """`seatrial run`'s terminal matrix reads the versions from its own run_start record."""
    import io

    from rich.console import Console

    from seatrial.harness.console import ConsoleReporter
    from seatrial.harness.outcome import ItemResult, Outcome

    events = RESULTS / "debian13" / "events.jsonl"
    versions = {e["name"]: e["server_version"] for e in start_of(events)["engines"]}
    results = [ItemResult("shared-kernel", name, Outcome.PASSED) for name in versions]
    out = io.StringIO()
    ConsoleReporter(Console(file=out, width=160)).print_matrix(results, events)
    shown = out.getvalue()
    assert "scenario x engine on seatrial-debian13" in shown
    for name, version in versions.items():
        assert f"{name} {short_version(version)}" in shown
    plain = io.StringIO()
    ConsoleReporter(Console(file=plain, width=160)).print_matrix(results)
    assert "26.1.5" not in plain.getvalue() and "scenario x engine on" not in plain.getvalue()
