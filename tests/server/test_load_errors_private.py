"""A model file that cannot be read is named in the error, with the cause, but its contents are never
quoted: with `model.uri` pointing at a text file (a config, a key), the error must not show its lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelplane.server.errors import ModelLoadError
from modelplane.server.loaders import load_model
from modelplane.server.model import LoadRequest

SECRET = "password: hunter2-SECRET\nroot:x:0:0:root:/root:/bin/bash\n"


@pytest.mark.parametrize(
    ("format", "name"),
    [
        ("sklearn", "model.joblib"),
        ("sklearn", "model.pkl"),
        ("sklearn", "model.pickle"),
        ("sklearn", "model.skops"),
        ("onnx", "model.onnx"),
    ],
)
def test_an_unreadable_model_file_is_named_but_not_quoted(tmp_path: Path, format: str, name: str) -> None:
    path = tmp_path / name
    for text in (SECRET, "c" + SECRET, "p" + SECRET, "x" + SECRET):  # pickle opcodes that echo lines
        path.write_text(text)
        with pytest.raises(ModelLoadError) as caught:
            load_model(LoadRequest(name="m", format=format, uri=str(path), version="v1"))
        message = str(caught.value)
        assert str(path) in message
        assert "hunter2" not in message and "root:" not in message and "assword" not in message, message
