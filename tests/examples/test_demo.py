"""examples/demo.py against a stdlib stand-in for `modelplane serve` (fake_model_server.py).

The real server is tested by tests/server; here the demo's own logic is checked: it parses the port,
waits for readiness, sends well-formed requests, reads the answers, stops the server, and reports
failures with a non-zero exit code.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from types import ModuleType

import pytest

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parents[1] / "examples"
FAKE = HERE / "fake_model_server.py"


@pytest.fixture(scope="module")
def demo() -> ModuleType:
    spec = importlib.util.spec_from_file_location("examples_demo", EXAMPLES / "demo.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def use_fake(monkeypatch: pytest.MonkeyPatch, demo: ModuleType, *extra: str) -> None:
    monkeypatch.setattr(demo, "ensure_models", lambda: None)
    monkeypatch.setattr(demo, "server_argv", lambda spec, port: [sys.executable, str(FAKE), *extra])


def test_demo_runs_every_step(
    demo: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_fake(monkeypatch, demo)
    assert demo.main([]) == 0
    out = capsys.readouterr().out
    assert "DEMO OK" in out
    assert "embedding dimension: 384" in out
    assert "64/64 concurrent requests completed correctly" in out
    assert "server exited with code 0" in out
    assert "FAILED" not in out


def test_a_failing_model_fails_the_demo(
    demo: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_fake(monkeypatch, demo, "--fail-model", "intent")
    assert demo.main([]) == 1
    out = capsys.readouterr().out
    assert "HTTP 500: model 'intent' exploded" in out
    assert "DEMO FAILED: intent" in out
    assert "server exited with code 0" in out  # the server is still stopped


def test_a_server_that_exits_early_is_reported(
    demo: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_fake(monkeypatch, demo, "--exit-early")
    assert demo.main([]) == 1
    out = capsys.readouterr().out
    assert "exited with code 3 before listening" in out
    assert "the spec file is broken" in out  # its output is shown


def test_server_argv_is_the_documented_command(demo: ModuleType) -> None:
    argv = demo.server_argv(EXAMPLES / "nlp.yaml", 0)
    assert argv[1:] == ["-m", "modelplane.cli.main", "serve", "-f", str(EXAMPLES / "nlp.yaml"), "--port", "0"]


def test_listening_line_is_parsed(demo: ModuleType) -> None:
    match = demo.LISTENING.search("modelplane server listening on http://127.0.0.1:43121\n")
    assert match and match.group(1) == "http://127.0.0.1:43121" and match.group(2) == "43121"


def test_helpers(demo: ModuleType) -> None:
    assert demo.rows([1, 2, 3, 4, 5, 6], 2) == [[1, 2, 3], [4, 5, 6]]
    with pytest.raises(demo.DemoError):
        demo.rows([1, 2, 3], 2)
    assert math.isclose(demo.cosine([1.0, 0.0], [2.0, 0.0]), 1.0)
    assert math.isclose(demo.cosine([1.0, 0.0], [0.0, 3.0]), 0.0)
    body = demo.infer_body("input0", "FP64", [1, 4], [5.1, 3.5, 1.4, 0.2])
    assert body == {
        "inputs": [{"name": "input0", "shape": [1, 4], "datatype": "FP64", "data": [5.1, 3.5, 1.4, 0.2]}]
    }
    response = {"outputs": [{"name": "label", "shape": [2], "datatype": "BYTES", "data": ["a", "b"]}]}
    assert demo.output(response, "label", [2])["data"] == ["a", "b"]
    with pytest.raises(demo.DemoError):
        demo.output(response, "probabilities")
