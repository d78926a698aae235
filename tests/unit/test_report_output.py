"""What people read off the reports: numbers to three significant figures, compare within 100
columns, the benchmark table at the end of a run, one JUnit flavour that CI tools count right,
claim titles with code, yes/no, and counts whose nouns agree."""

from __future__ import annotations

import io
import json
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from seatrial.harness.cli import Exit, main
from seatrial.harness.console import counts_line
from seatrial.reports import html, numbers
from seatrial.reports.results import load_results
from seatrial.reports.runsummary import benchmark_lines, run_summary
from seatrial.reports.text import render_junit, render_junit_all

RESULTS = Path(__file__).parent / "fixtures" / "results"


@pytest.mark.parametrize(
    "value, unit, text",
    [
        (0.05234, "", "0.0523"),
        (1.0, "", "1.00"),
        (6.0353, "", "6.04"),
        (301.24, "", "301"),
        (12345, "", "12300"),
        (9.996, "", "10.0"),
        (0.3012, "s", "301 ms"),
        (0.01234, "s", "12.3 ms"),
        (2.5, "s", "2.50 s"),
        (15.51, "s", "15.5 s"),
        (4.2 * 2**20, "bytes", "4.20 MiB"),
        (512 * 1024, "bytes", "512 KiB"),
    ],
)
def test_numbers_have_three_significant_figures_and_a_unit(value, unit, text):
    assert numbers.num(value, unit) == text


def test_a_small_ratio_keeps_its_figures():
    assert numbers.ratio(0.05234, 0.04981, 0.05512) == "0.0523 (0.0498–0.0551)"
    assert numbers.interval(0.3, 0.29, 0.31, "s") == "300 (290–310) ms"


def test_compare_fits_100_columns_with_three_figure_ratios():
    out = io.StringIO()
    main(["compare", str(RESULTS / "machine-a"), str(RESULTS / "machine-b")], out=out)
    lines = out.getvalue().splitlines()
    assert max(map(len, lines)) <= 100, max(lines, key=len)
    docker = next(line for line in lines if line.strip().startswith("docker"))
    assert "1.50 (1.40–1.59)" in docker and "REGRESSION" in docker and "ms" in docker


def test_compare_json_has_medians_intervals_ratio_and_verdict():
    out = io.StringIO()
    assert (
        main(["compare", "--json", str(RESULTS / "machine-a"), str(RESULTS / "machine-b")], out=out) == Exit.REGRESSION
    )
    document = json.loads(out.getvalue())
    assert document["gate"] == pytest.approx(0.10) and document["regressions"] == 1
    docker = next(r for r in document["rows"] if r["engine"] == "docker")
    assert docker["verdict"] == "REGRESSION" and docker["unit"] == "s"
    assert docker["old"]["low"] <= docker["old"]["median"] <= docker["old"]["high"]
    assert docker["ratio"]["estimate"] == pytest.approx(1.5, abs=0.01)


def test_benchmark_table_of_a_run_has_medians_intervals_and_ratios_within_100_columns():
    lines = benchmark_lines(load_results([RESULTS / "full"]))
    assert max(map(len, lines)) <= 100
    podman = lines[lines.index("start-to-exit/start-to-exit-none") + 2]
    assert podman.split()[:2] == ["podman", "10"]
    assert "241 (225–241) ms" in podman and "0.816 (0.752–0.867)" in podman
    assert any("ordering-ratio [docker]: 6.03 (5.38–6.39)" in line for line in lines)


def test_run_summary_json_lists_items_with_durations():
    summary = run_summary(load_results([RESULTS / "full"]), RESULTS / "full" / "events.jsonl")
    assert summary["run_id"] == "20261101-100000-aaaa0001" and summary["complete"] is True
    item = next(i for i in summary["items"] if i["scenario"] == "host-network" and i["engine"] == "podman")
    assert item["outcome"] == "diverged" and item["duration"] == pytest.approx(0.5)
    assert sum(summary["counts"].values()) == len(summary["items"])
    json.dumps(summary)


def _cases(xml: str) -> dict[str, ET.Element]:
    return {c.get("name"): c for c in ET.fromstring(xml).iter("testcase")}


def test_junit_counts_diverged_as_skipped_with_the_reason_and_has_durations():
    podman = render_junit(load_results([RESULTS / "full"]))["podman"]
    root = ET.fromstring(podman)
    [suite] = root.findall("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped"), suite.get("errors")) == (
        "8",
        "1",
        "1",
        "0",
    )
    assert float(suite.get("time")) > 0 and root.get("time") == suite.get("time")
    cases = _cases(podman)
    [skipped] = cases["host-network"].findall("skipped")
    assert skipped.get("message") == "diverged: podman keeps the host's /etc/hosts"
    assert cases["bind-mount"].find("failure") is not None
    assert all(float(c.get("time")) > 0 for c in cases.values())


def test_junit_of_an_incomplete_item_is_an_error_not_a_pass():
    podman = render_junit(load_results([RESULTS / "partial"]))["podman"]
    assert _cases(podman)["bind-mount"].find("error") is not None


def test_run_junitxml_has_the_same_structure_as_the_report_junit():
    results = load_results([RESULTS / "full"])
    whole = ET.fromstring(render_junit_all(results))
    per_engine = {c: ET.fromstring(x) for c, x in render_junit(results).items()}
    assert [s.get("name") for s in whole.findall("testsuite")] == ["seatrial.docker", "seatrial.podman"]
    for suite in whole.findall("testsuite"):
        [alone] = per_engine[suite.get("name").split(".", 1)[1]].findall("testsuite")
        suite.tail = alone.tail = None
        assert ET.tostring(suite) == ET.tostring(alone)
    assert int(whole.get("tests")) == sum(int(s.get("tests")) for s in whole.findall("testsuite"))


def test_claim_titles_show_code_spans_as_code_in_html():
    assert (
        html._code_spans("`CMD` is a default; `ENTRYPOINT` <stays>")
        == "<code>CMD</code> is a default; <code>ENTRYPOINT</code> &lt;stays&gt;"
    )


def test_environment_shows_booleans_as_yes_or_no():
    page = html.section_environment(load_results([RESULTS / "full"]), None)
    assert "False" not in page and "True" not in page and "<td>no</td>" in page


def test_counts_and_nouns_agree():
    assert counts_line(["passed"]) == "1 item: 1 held"
    assert counts_line(["passed", "failed", "passed", "diverged"]) == "4 items: 2 held, 1 FAILED, 1 diverged"


def test_verbose_matrix_lists_every_item_and_very_verbose_every_check():
    from rich.console import Console

    from seatrial.harness.check import Check
    from seatrial.harness.console import ConsoleReporter
    from seatrial.harness.outcome import ItemResult, Outcome

    result = ItemResult("echo", "docker", Outcome.PASSED, checks=[Check(0, "exit code", "0", "0", True)], duration=0.31)

    def shown(verbosity: int) -> str:
        out = io.StringIO()
        ConsoleReporter(Console(file=out, width=100), verbosity=verbosity).print_matrix([result])
        return out.getvalue()

    assert "echo on docker" not in shown(0)
    assert "  echo on docker: held (0.31 s, 1 check)" in shown(1) and "ok: step 1" not in shown(1)
    assert "    ok: step 1: exit code: expected 0, got 0" in shown(2)


def test_plural_agrees_with_its_count():
    from seatrial.harness.words import plural

    assert [plural(1, "item"), plural(2, "item"), plural(0, "resource")] == ["1 item", "2 items", "0 resources"]
    assert [plural(1, "cache entry"), plural(3, "cache entry")] == ["1 cache entry", "3 cache entries"]


def test_report_appends_its_markdown_summary_to_the_github_step_summary(tmp_path, monkeypatch):
    summary = tmp_path / "step-summary.md"
    summary.write_text("## an earlier step's summary\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    out = io.StringIO()
    assert main(["report", str(RESULTS / "machine-a"), "-o", str(tmp_path / "report")], out=out) == 0
    written = (tmp_path / "report" / "summary.md").read_text()
    assert summary.read_text() == "## an earlier step's summary\n" + written
    assert "GitHub step summary" in out.getvalue()


def test_github_summary_flag_outside_actions_is_a_usage_error(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    code = main(
        ["report", "--github-summary", str(RESULTS / "machine-a"), "-o", str(tmp_path / "r")], out=io.StringIO()
    )
    assert code == Exit.BAD_INPUT and "GITHUB_STEP_SUMMARY" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
