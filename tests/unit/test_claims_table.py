"""The claims table from fixture events: every status, merging runs, and the CLI around it."""

import io
import json
from pathlib import Path

from seatrial.harness.cli import main
from seatrial.reports.claimstable import Status, claims_table, to_markdown
from seatrial.reports.eventfiles import Runs, event_files, read_records

FIXTURE = Path(__file__).parent / "fixtures" / "claims" / "events.jsonl"


def table():
    return claims_table(read_records([FIXTURE]))


def test_each_claim_gets_a_status_per_engine_with_the_reason():
    t = table()
    assert t.engines == ("docker", "podman")
    assert t.cell("C17", "docker").status is Status.HELD
    assert t.cell("C17", "podman").status is Status.FAILED
    assert "expected 'x', got 'y'" in t.cell("C17", "podman").reason
    assert t.cell("C18", "podman").status is Status.DIVERGED
    assert "netavark" in t.cell("C18", "podman").reason
    assert t.cell("C29", "docker").status is Status.SKIPPED
    assert t.cell("C29", "podman").status is Status.NOT_CHECKED
    assert t.cell("C01", "docker").status is Status.NOT_CHECKED


def test_an_inconclusive_scenario_outweighs_a_passing_one_for_the_same_claim():
    cell = table().cell("C31", "docker")
    assert cell.status is Status.ERROR and cell.scenarios == ("masked-paths",)
    assert table().cell("C31", "podman").status is Status.HELD


def test_benchmark_claims_are_never_pass_or_fail():
    assert table().cell("C05", "docker").status is Status.BENCHMARK
    records = read_records([FIXTURE]) + [
        {"type": "item_start", "scenario": "image-size", "engine": "docker", "claims": ["C05"]},
        {"type": "sample", "scenario": "image-size", "engine": "docker", "metric": "image-size", "value": 2e6},
    ]
    measured = claims_table(records)
    assert measured.cell("C05", "docker").status is Status.MEASURED
    assert measured.cell("C05", "podman").status is Status.BENCHMARK


def test_a_later_run_replaces_the_same_scenario_on_the_same_engine():
    records = read_records([FIXTURE]) + [
        {"type": "item_start", "scenario": "user-network-names", "engine": "podman", "claims": ["C17"]},
        {"type": "item_end", "scenario": "user-network-names", "engine": "podman", "outcome": "passed"},
    ]
    assert claims_table(records).cell("C17", "podman").status is Status.HELD


def test_markdown_puts_reasons_in_numbered_notes():
    text = to_markdown(table())
    assert "| C17 " in text and "failed [1]" in text
    assert "1. C17 on podman (failed): user-network-names: step 4" in text


def test_newest_run_of_a_results_folder_is_read(tmp_path):
    for name, mtime in (("old", 1000), ("new", 2000)):
        path = tmp_path / name / "events.jsonl"
        path.parent.mkdir()
        path.write_text(json.dumps({"type": "run_start", "engines": [{"name": name}]}) + "\n")
        import os

        os.utime(path, (mtime, mtime))
    assert event_files([tmp_path], Runs.NEWEST) == [tmp_path / "new" / "events.jsonl"]
    assert event_files([tmp_path], Runs.ALL) == [tmp_path / n / "events.jsonl" for n in ("new", "old")]


def test_rootful_sockets_of_the_engines_are_stated():
    assert table().sockets_line() == "C30 rootful sockets: docker /var/run/docker.sock; podman none"
    assert "C30 rootful sockets" in to_markdown(table())


def test_cli_prints_the_table_and_refuses_an_empty_folder(tmp_path):
    out = io.StringIO()
    assert main(["claims", str(FIXTURE)], out) == 0
    assert "C17" in out.getvalue() and "failed" in out.getvalue() and "netavark" in out.getvalue()
    assert main(["claims", "--results-dir", str(tmp_path)], io.StringIO()) == 2
