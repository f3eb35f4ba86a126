"""The package's one door: everything in __all__ exists, and the names other parts rely on are there."""

from __future__ import annotations

import modelplane.spec as spec


def test_all_names_exist() -> None:
    missing = [name for name in spec.__all__ if not hasattr(spec, name)]
    assert missing == []
    assert len(set(spec.__all__)) == len(spec.__all__)


def test_names_the_model_server_uses() -> None:
    from modelplane.spec import ModelDeployment, ModelFormat, load_path  # noqa: F401

    assert {format.value for format in ModelFormat} == {
        "sklearn",
        "onnx",
        "torch",
        "sentence-transformers",
        "python",
        "simulated",
    }


def test_spec_imports_nothing_else_of_modelplane() -> None:
    import ast
    from pathlib import Path

    for module in Path(spec.__file__).parent.glob("*.py"):
        tree = ast.parse(module.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("modelplane"):
                assert node.module.startswith("modelplane.spec"), f"{module.name} imports {node.module}"
