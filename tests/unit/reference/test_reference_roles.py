"""The reference runtime by role: no module reaches into another's private (_underscore) names,
and each opens with a docstring naming the kernel facilities (or saying it has none)."""

from __future__ import annotations

import ast
from pathlib import Path

REFERENCE = Path(__file__).resolve().parents[3] / "engines" / "reference"


def test_no_module_imports_private_names_of_another():
    borrowed = []
    for module in sorted(REFERENCE.glob("*.py")):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.ImportFrom):
                borrowed += [
                    f"{module.name}: from {node.module} import {alias.name}"
                    for alias in node.names
                    if alias.name.startswith("_")
                ]
    assert borrowed == []


def _names_its_kernel_use(docstring: str) -> bool:
    return "kernel facilit" in docstring.lower() or "no kernel call" in docstring.lower()


def test_every_module_names_its_kernel_facilities():
    silent = [
        module.name
        for module in sorted(REFERENCE.glob("*.py"))
        if module.name != "__init__.py"
        and not _names_its_kernel_use(ast.get_docstring(ast.parse(module.read_text())) or "")
    ]
    assert silent == []
