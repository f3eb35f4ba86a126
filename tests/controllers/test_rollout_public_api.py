"""The rollout package's one door: everything in __all__ exists, and what the controllers rely on is there."""

from __future__ import annotations

import ast
from pathlib import Path

import modelplane.controllers.rollout as rollout


def test_all_names_exist_once() -> None:
    missing = [name for name in rollout.__all__ if not hasattr(rollout, name)]
    assert missing == []
    assert len(set(rollout.__all__)) == len(rollout.__all__)


def test_names_the_deployment_controller_and_the_api_use() -> None:
    assert {
        "plan_rollout",
        "plan_rolling",
        "plan_recreate",
        "resolve_fenceposts",
        "RolloutSpec",
        "RolloutStatus",
        "RevisionState",
        "Condition",
        "ConditionType",
        "ConditionStatus",
        "undo_target",
    } <= set(rollout.__all__)


def test_code_outside_the_package_uses_the_door() -> None:
    package = Path(rollout.__file__).parent
    for module in package.parent.parent.rglob("*.py"):
        if package in module.parents:
            continue
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith("modelplane.controllers.rollout."), (
                    f"{module} imports {node.module}: import from modelplane.controllers.rollout"
                )
