"""The core imports nothing but the standard library, the contract and itself.

import-linter enforces the forbidden list (kubernetes, requests, kopf, adapters); this test is
stricter and needs no configuration: any third-party import in ``sidecar/core`` fails it.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "sidecar" / "core"
ALLOWED = {"spot_common.contract", "sidecar.core"}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", sorted(CORE.glob("*.py")), ids=lambda p: p.name)
def test_a_core_module_imports_only_the_standard_library_and_the_contract(path: Path) -> None:
    for name in imported_modules(path):
        top = name.split(".")[0]
        if top in sys.stdlib_module_names or top == "__future__":
            continue
        if name == "spot_common":  # ``from spot_common import contract``
            continue
        assert any(name == a or name.startswith(a + ".") for a in ALLOWED), (
            f"{path.name} imports {name}"
        )
