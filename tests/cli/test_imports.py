"""The command's pure modules import only the standard library, the sidecar's contract and
pure core, the webhook's pure modules (what it provisions and injects), cryptography, and each
other: the Kubernetes client stays in ``spot_failover.kube`` and ``spot_failover.check_reads``."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "spot_failover"
PURE = [
    "ages.py",
    "status.py",
    "render.py",
    "errors.py",
    "checks.py",
    "install_checks.py",
    "certificate_checks.py",
    "workload_checks.py",
]
ALLOWED = (
    "spot_common.contract",
    "sidecar.core",
    "spot_failover.ages",
    "spot_failover.status",
    "spot_failover.checks",
    "webhook.core.rbac",
    "webhook.core.injection",
    "webhook.core.owners",
    "cryptography",
)


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("name", PURE)
def test_a_pure_module_of_the_command_does_no_io_imports(name: str) -> None:
    for module in imported_modules(PACKAGE / name):
        top = module.split(".")[0]
        if top in sys.stdlib_module_names or top == "__future__":
            continue
        assert module.startswith(ALLOWED), f"{name} imports {module}"


def test_the_listed_pure_modules_are_every_module_but_the_shell() -> None:
    shell = {"__init__.py", "__main__.py", "cli.py", "kube.py", "check_reads.py", "check_run.py"}
    assert {p.name for p in PACKAGE.glob("*.py")} == set(PURE) | shell
