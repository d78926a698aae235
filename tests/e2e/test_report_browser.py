"""The HTML report in a real browser (Debian's chromium, headless): the matrix and the plots are
on the page, the page logs no errors and asks for nothing over the network; a screenshot is kept
under results/ for a person to look at."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from seatrial.reports.render import render_all

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "tests" / "unit" / "fixtures" / "results"
CHROMIUM = shutil.which("chromium")

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (vagrant/provision.sh installs it)")


def headless(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                f"--user-data-dir={profile}",
                "--enable-logging=stderr",
                "--v=0",
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
        )


def test_report_opens_in_chromium_with_matrix_and_plots_and_no_errors(tmp_path):
    render_all([RESULTS / "full", RESULTS / "partial"], tmp_path, generated="browser test")
    page = (tmp_path / "index.html").as_uri()
    dom = headless("--dump-dom", page)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert 'id="matrix"' in dom.stdout and 'class="diverged"' in dom.stdout and 'class="incomplete"' in dom.stdout
    assert len(re.findall(r"<svg", dom.stdout)) >= 4, "distribution, ratio, density and history plots"
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert console == [], console
    assert not re.search(r'(src|href)="https?://', (tmp_path / "index.html").read_text()), "no network needed"
    shot = ROOT / "results" / "report-screenshot.png"
    shot.parent.mkdir(exist_ok=True)
    taken = headless("--window-size=1280,2000", f"--screenshot={shot}", page)
    assert taken.returncode == 0 and shot.stat().st_size > 10_000, taken.stderr[-2000:]
