"""The layout rule of DESIGN.md: an import names its file. `seatrial.<a>.<b>` is the folder a/b of
the checkout, for every package, so a reader (and mypy) finds the file behind any import in one
look; and no two modules share a name, so a traceback's file name is never ambiguous."""

from __future__ import annotations

import collections
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CODE = ("harness", "engines", "reports", "benchmarks")


def test_every_package_maps_to_the_folder_its_name_spells():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    wrong = {
        package: folder
        for package, folder in config["package-dir"].items()
        if package != "seatrial." + folder.replace("/", ".")
    }
    assert wrong == {}


def test_no_two_modules_share_a_name():
    by_name = collections.defaultdict(list)
    for top in CODE:
        for module in (ROOT / top).rglob("*.py"):
            if module.name != "__init__.py":
                by_name[module.stem].append(str(module.relative_to(ROOT)))
    assert {name: files for name, files in by_name.items() if len(files) > 1} == {}
