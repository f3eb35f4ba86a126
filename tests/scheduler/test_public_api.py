"""The package's one door: everything in __all__ exists, and the scheduler imports no higher layer."""

from __future__ import annotations

import ast
from pathlib import Path

import modelplane.scheduler as scheduler


def test_all_names_exist() -> None:
    missing = [name for name in scheduler.__all__ if not hasattr(scheduler, name)]
    assert missing == []
    assert len(set(scheduler.__all__)) == len(scheduler.__all__)


def test_scheduler_imports_only_spec_and_itself() -> None:
    package = Path(scheduler.__file__).parent
    imported = {
        node.module
        for path in package.glob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("modelplane")
    }
    assert {module.split(".")[1] for module in imported} <= {"spec", "scheduler"}
