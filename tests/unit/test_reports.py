"""Every renderer against golden files, from fixture results: a full run, a partial run (no
run_end: reported incomplete) and two runs from two machines merged. Plots are replaced by
markers here (their SVG is tested apart), so the golden files stay readable.

Regenerate after an intended change: SEATRIAL_UPDATE_GOLDEN=1 pytest tests/unit/test_reports.py
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import jsonschema
import pytest

from seatrial.harness.cli import Exit, main
from seatrial.reports import plots
from seatrial.reports.render import render_all

RESULTS = Path(__file__).parent / "fixtures" / "results"
GOLDEN = Path(__file__).parent / "fixtures" / "golden"
SCHEMA = Path(__file__).resolve().parents[2] / "reports" / "summary.schema.json"
CASES = {
    "full": ["full"],
    "partial": ["partial"],
    "merged": ["machine-a", "machine-b"],
    "versions": ["debian12", "debian13"],
}


@pytest.fixture
def no_plots(monkeypatch):
    monkeypatch.setattr(plots, "distributions", lambda results: {"d": "<svg><!-- distributions --></svg>"})
    monkeypatch.setattr(plots, "ratios", lambda rows, title, key: f"<svg><!-- {title} --></svg>" if rows else "")
    monkeypatch.setattr(plots, "density_curve", lambda rows: "<svg><!-- density --></svg>" if rows else "")
    monkeypatch.setattr(plots, "history", lambda rows: "<svg><!-- history --></svg>" if rows else "")


@pytest.mark.parametrize("case", sorted(CASES))
def test_renderers_match_golden_files(case, tmp_path, no_plots):
    written = render_all([RESULTS / p for p in CASES[case]], tmp_path, generated="golden")
    for path in written:
        golden = GOLDEN / case / path.name
        text = path.read_text(encoding="utf-8")
        if os.environ.get("SEATRIAL_UPDATE_GOLDEN"):
            golden.parent.mkdir(parents=True, exist_ok=True)
            golden.write_text(text, encoding="utf-8")
        assert golden.exists(), f"{golden} is missing: run with SEATRIAL_UPDATE_GOLDEN=1"
        assert text == golden.read_text(encoding="utf-8"), f"{path.name} differs from {golden}"
    assert sorted(p.name for p in written) == sorted(p.name for p in (GOLDEN / case).iterdir())


@pytest.mark.parametrize("case", sorted(CASES))
def test_json_summary_follows_its_schema(case, tmp_path, no_plots):
    render_all([RESULTS / p for p in CASES[case]], tmp_path, generated="")
    document = json.loads((tmp_path / "summary.json").read_text())
    jsonschema.Draft7Validator(json.loads(SCHEMA.read_text())).validate(document)


def test_partial_run_is_reported_incomplete(tmp_path, no_plots):
    render_all([RESULTS / "partial"], tmp_path, generated="")
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["runs"][0]["complete"] is False
    cell = next(r for r in summary["matrix"] if r["scenario"] == "bind-mount")["cells"]["podman"]
    assert cell["outcome"] == "incomplete"
    assert "is incomplete" in (tmp_path / "index.html").read_text()


def test_merged_machines_stay_apart_as_columns(tmp_path, no_plots):
    render_all([RESULTS / "machine-a", RESULTS / "machine-b"], tmp_path, generated="")
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["columns"] == ["docker@alpha", "podman@alpha", "docker@beta", "podman@beta"]
    assert {r["host"] for r in summary["environment"]} == {"alpha", "beta"}


def test_divergences_show_each_engines_outcome_and_reason(tmp_path, no_plots):
    render_all([RESULTS / "full"], tmp_path, generated="")
    found = {r["scenario"]: r for r in json.loads((tmp_path / "summary.json").read_text())["divergences"]}
    assert set(found) == {"host-network", "bind-mount"}
    assert found["host-network"]["cells"]["podman"]["reason"] == "podman keeps the host's /etc/hosts"
    assert found["bind-mount"]["cells"]["podman"]["failed_checks"] == ["step 1 (run): exit code: expected 0, got 1"]


def test_plots_are_inline_svg_and_reproducible(tmp_path):
    from seatrial.reports.results import load_results

    results = load_results([RESULTS / "full"])
    first, second = plots.distributions(results), plots.distributions(results)
    assert first == second and all(svg.startswith("<svg") for svg in first.values())
    assert "start-to-exit/start-to-exit-none" in first


def test_compare_exits_4_past_the_gate_and_0_within(capsys):
    old, new = str(RESULTS / "machine-a"), str(RESULTS / "machine-b")  # docker 0.30 s -> 0.45 s
    out = io.StringIO()
    assert main(["compare", old, new, "--fail-over", "10%"], out=out) == Exit.REGRESSION
    assert "REGRESSION" in out.getvalue() and "start-to-exit-none" in out.getvalue()
    assert main(["compare", old, new, "--fail-over", "60%"], out=io.StringIO()) == Exit.OK
    assert main(["compare", old, new, "--fail-over", "ten"], out=io.StringIO()) == Exit.BAD_INPUT


def test_report_without_results_is_bad_input(tmp_path):
    out = io.StringIO()
    assert main(["report", str(tmp_path / "nothing"), "-o", str(tmp_path / "out")], out=out) == Exit.BAD_INPUT
    assert "no such file or folder" in out.getvalue()
