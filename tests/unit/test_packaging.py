"""The wheel holds every module and the scenario library: the explicit package list in
pyproject.toml once missed seatrial.steps (now seatrial.harness.steps), and only the editable install hid it. (.ci/run also
builds the wheel, installs it in a fresh venv and runs a scenario from it.)"""

from __future__ import annotations

import tomllib
from pathlib import Path

from seatrial.harness.cli import default_scenarios

ROOT = Path(__file__).resolve().parents[2]


def setuptools_config() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def package_folder(package: str, package_dir: dict[str, str]) -> Path:
    """Where setuptools takes `package` from: its own mapping, or its parent's plus its name."""
    if package in package_dir:
        return ROOT / package_dir[package]
    parent, _, name = package.rpartition(".")
    return package_folder(parent, package_dir) / name


def test_every_python_package_folder_is_in_the_wheel():
    config = setuptools_config()
    listed = {package_folder(p, config["package-dir"]).resolve() for p in config["packages"]}
    python_folders = {
        init.parent.resolve() for top in ("harness", "engines", "reports") for init in (ROOT / top).rglob("__init__.py")
    }
    assert python_folders - listed == set()


def test_the_scenario_library_and_benchmarks_are_package_data():
    config = setuptools_config()
    for package, folder in (("seatrial.scenarios", "scenarios"), ("seatrial.benchmarks", "benchmarks")):
        assert package in config["packages"] and config["package-dir"][package] == folder
        assert "**/*.yaml" in config["package-data"][package]


def test_without_paths_run_finds_the_library_outside_the_project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    [found] = default_scenarios()
    assert Path(found).resolve() == (ROOT / "scenarios").resolve()
    (tmp_path / "scenarios").mkdir()
    assert default_scenarios() == ["scenarios"]
