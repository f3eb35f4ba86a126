"""The import contracts of pyproject.toml hold: planners are pure, the CLI uses no controller code.

`make check` runs every contract; this runs the ones about the controllers from the test suite too, so a
planner that starts reading the store fails a test with the chain of imports that did it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import modelplane.controllers

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = (
    "pure-decisions",
    "pure-probing",
    "independent-planners",
    "cli-without-controllers",
    "autoscaler-only-spec",
)


def test_controllers_is_a_package_the_linter_sees() -> None:
    # without an __init__ it was a namespace package, and lint-imports checked nothing in it
    assert modelplane.controllers.__file__ is not None
    assert Path(modelplane.controllers.__file__).name == "__init__.py"


def test_controller_contracts_are_kept() -> None:
    lint = Path(sys.executable).parent / "lint-imports"
    args = [str(lint), "--no-cache"] + [f"--contract={contract}" for contract in CONTRACTS]
    result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert result.stdout.count(" KEPT") == len(CONTRACTS), result.stdout[-2000:]


def test_a_new_decision_package_is_named_in_the_purity_contract() -> None:
    # `modelplane.autoscaler.**` covers the package's modules before it exists, not its __init__:
    # once the package is there, the contract must name it (a missing module would be an error before)
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contract = next(c for c in config["tool"]["importlinter"]["contracts"] if c.get("id") == "pure-decisions")
    for package in ("autoscaler", "kube"):
        if (ROOT / "modelplane" / package / "__init__.py").exists():
            assert f"modelplane.{package}" in contract["source_modules"], f"add modelplane.{package}"
        assert f"modelplane.{package}.**" in contract["source_modules"]
