"""Loaders on real small models built in tmp dirs; every failure is a ModelLoadError a user can act on.

Heavy loads (MiniLM, onnxruntime sessions, TorchScript) happen once per module in fixtures.
"""

from __future__ import annotations

import builtins
import operator
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

import modelplane.server.loaders as loaders
from modelplane.server.errors import ModelLoadError
from modelplane.server.loaders import FORMATS, load_model
from modelplane.server.model import Datatype, LoadRequest, Model, TensorSpec

ALL = frozenset({"label", "probabilities"})


def request(fmt: str, uri: str | Path | None, **kwargs: Any) -> LoadRequest:
    return LoadRequest(
        name=kwargs.pop("name", "m"),
        format=fmt,
        uri=None if uri is None else str(uri),
        version=None,
        **kwargs,
    )


def load_error(req: LoadRequest, *fragments: str) -> ModelLoadError:
    """Load `req`, expect a ModelLoadError naming the model, containing `fragments`, ending in advice."""
    with pytest.raises(ModelLoadError) as caught:
        load_model(req)
    message = str(caught.value)
    assert message.startswith(f"Model '{req.name}' failed to load"), message
    for fragment in fragments:
        assert fragment in message, message
    assert message.endswith((".", "'")), message  # a sentence, or a command to copy
    assert caught.value.model == req.name
    assert caught.value.uri == req.uri
    return caught.value


def specs(model: Model) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    return [s.as_json() for s in model.inputs], [s.as_json() for s in model.outputs]


def texts(*values: str) -> np.ndarray:
    return np.array([v.encode() for v in values], dtype=object)


# --------------------------------------------------------------------------------------------- models


@pytest.fixture(scope="module")
def iris() -> tuple[np.ndarray, np.ndarray]:
    x, y = load_iris(return_X_y=True)
    return x, y


@pytest.fixture(scope="module")
def iris_model(iris: tuple[np.ndarray, np.ndarray]) -> LogisticRegression:
    x, y = iris
    return LogisticRegression(max_iter=1000).fit(x, y)


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def iris_joblib(models_dir: Path, iris_model: LogisticRegression) -> Path:
    path = models_dir / "iris.joblib"
    joblib.dump(iris_model, path)
    return path


@pytest.fixture(scope="module")
def iris_skops(models_dir: Path, iris_model: LogisticRegression) -> Path:
    import skops.io

    path = models_dir / "iris.skops"
    skops.io.dump(iris_model, path)
    return path


@pytest.fixture(scope="module")
def iris_onnx(models_dir: Path, iris_model: LogisticRegression, iris: tuple[np.ndarray, np.ndarray]) -> Path:
    from skl2onnx import to_onnx

    path = models_dir / "iris.onnx"
    path.write_bytes(to_onnx(iris_model, iris[0][:1].astype(np.float32)).SerializeToString())
    return path


@pytest.fixture(scope="module")
def linear_torchscript(models_dir: Path) -> Path:
    import torch

    torch.manual_seed(0)
    path = models_dir / "linear.pt"
    with pytest.warns(DeprecationWarning):  # torch.jit is deprecated upstream; still the format served
        torch.jit.save(torch.jit.script(torch.nn.Linear(3, 2)), str(path))
    return path


@pytest.fixture(scope="module")
def minilm() -> Model:
    return load_model(request("sentence-transformers", None, name="embedder"))


# -------------------------------------------------------------------------------------------- sklearn


def test_sklearn_joblib_iris_serves_labels_and_probabilities(
    iris_joblib: Path, iris_model: LogisticRegression, iris: tuple[np.ndarray, np.ndarray]
) -> None:
    model = load_model(request("sklearn", iris_joblib))
    assert model.platform == "sklearn_joblib"
    assert specs(model) == (
        [{"name": "input0", "datatype": "FP64", "shape": [-1, 4]}],
        [
            {"name": "label", "datatype": "INT64", "shape": [-1]},
            {"name": "probabilities", "datatype": "FP64", "shape": [-1, 3]},
        ],
    )
    x = iris[0][[0, 60, 120]]
    out = model.predict({"input0": x}, ALL)
    assert out["label"].dtype == np.int64
    assert out["label"].tolist() == iris_model.predict(x).tolist()
    assert out["probabilities"].shape == (3, 3)
    np.testing.assert_allclose(out["probabilities"], iris_model.predict_proba(x))


def test_sklearn_computes_only_the_requested_outputs(
    iris_joblib: Path, iris: tuple[np.ndarray, np.ndarray]
) -> None:
    model = load_model(request("sklearn", iris_joblib))
    assert set(model.predict({"input0": iris[0][:2]}, frozenset({"label"}))) == {"label"}
    assert set(model.predict({"input0": iris[0][:2]}, frozenset({"probabilities"}))) == {"probabilities"}


def test_sklearn_skops_gives_the_same_answers(
    iris_skops: Path, iris_model: LogisticRegression, iris: tuple[np.ndarray, np.ndarray]
) -> None:
    model = load_model(request("sklearn", iris_skops))
    assert model.platform == "sklearn_skops"
    out = model.predict({"input0": iris[0][:5]}, ALL)
    assert out["label"].tolist() == iris_model.predict(iris[0][:5]).tolist()


@pytest.mark.parametrize("filename", ["model.joblib", "model.pkl"])
def test_sklearn_directory_with_one_model_file(
    tmp_path: Path, iris_model: LogisticRegression, filename: str
) -> None:
    joblib.dump(iris_model, tmp_path / filename)
    (tmp_path / "README.md").write_text("not a model")
    assert load_model(request("sklearn", tmp_path)).platform == "sklearn_joblib"


def test_sklearn_string_classes_are_bytes_labels(tmp_path: Path, iris: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = iris
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    joblib.dump(LogisticRegression(max_iter=1000).fit(x, names), tmp_path / "m.pkl")
    model = load_model(request("sklearn", tmp_path / "m.pkl"))
    assert model.outputs[0] == TensorSpec("label", Datatype.BYTES, (-1,))
    assert model.predict({"input0": x[[0, 149]]}, ALL)["label"].tolist() == ["setosa", "virginica"]


def test_sklearn_regressor_has_fp64_label_and_no_probabilities(
    tmp_path: Path, iris: tuple[np.ndarray, np.ndarray]
) -> None:
    x, _ = iris
    joblib.dump(Ridge().fit(x[:, :3], x[:, 3]), tmp_path / "r.joblib")
    model = load_model(request("sklearn", tmp_path / "r.joblib"))
    assert specs(model)[1] == [{"name": "label", "datatype": "FP64", "shape": [-1]}]
    out = model.predict({"input0": x[:4, :3]}, ALL)
    assert set(out) == {"label"} and out["label"].dtype == np.float64 and out["label"].shape == (4,)


def test_sklearn_text_pipeline_takes_bytes(tmp_path: Path) -> None:
    pipeline = make_pipeline(TfidfVectorizer(), LogisticRegression())
    pipeline.fit(
        ["great film", "loved it", "wonderful acting", "awful film", "hated it", "terrible acting"],
        ["pos", "pos", "pos", "neg", "neg", "neg"],
    )
    joblib.dump(pipeline, tmp_path / "sentiment.joblib")
    model = load_model(request("sklearn", tmp_path / "sentiment.joblib"))
    assert specs(model) == (
        [{"name": "input0", "datatype": "BYTES", "shape": [-1]}],
        [
            {"name": "label", "datatype": "BYTES", "shape": [-1]},
            {"name": "probabilities", "datatype": "FP64", "shape": [-1, 2]},
        ],
    )
    rows = np.array([b"loved the film", "awful, hated it", "caf\u00e9 wonderful".encode()], dtype=object)
    out = model.predict({"input0": rows}, ALL)
    assert out["label"].tolist() == ["pos", "neg", "pos"]
    assert out["probabilities"].shape == (3, 2)


def test_skops_refuses_unknown_types_until_the_user_trusts_them(
    tmp_path: Path, iris: tuple[np.ndarray, np.ndarray]
) -> None:
    import skops.io

    x, y = iris
    pipeline = make_pipeline(FunctionTransformer(func=operator.pos), LogisticRegression(max_iter=1000))
    skops.io.dump(pipeline.fit(x, y), tmp_path / "m.skops")
    load_error(
        request("sklearn", tmp_path / "m.skops"),
        "not trusted: _operator.pos",
        "If you trust this file, add them to spec.model.params.trustedTypes.",
    )
    model = load_model(request("sklearn", tmp_path / "m.skops", params={"trustedTypes": ["_operator.pos"]}))
    assert model.predict({"input0": x[:1]}, ALL)["label"].tolist() == [0]


def test_skops_never_trusts_builtin_functions_by_default(tmp_path: Path) -> None:
    import skops.io

    skops.io.dump(FunctionTransformer(func=builtins.exec), tmp_path / "evil.skops")
    load_error(request("sklearn", tmp_path / "evil.skops"), "builtins.exec", "trustedTypes")


def test_sklearn_load_errors(tmp_path: Path, iris_model: LogisticRegression) -> None:
    load_error(request("sklearn", tmp_path / "missing.joblib"), "file not found. Check spec.model.uri.")
    load_error(request("sklearn", tmp_path), "no recognised model file", "model.joblib")
    joblib.dump(iris_model, tmp_path / "model.joblib")
    joblib.dump(iris_model, tmp_path / "model.pkl")
    load_error(request("sklearn", tmp_path), "several model files", "Keep exactly one")
    (tmp_path / "m.txt").write_text("x")
    load_error(request("sklearn", tmp_path / "m.txt"), "'.txt' is not a scikit-learn model file")
    (tmp_path / "broken.joblib").write_bytes(b"not a pickle")
    load_error(
        request("sklearn", tmp_path / "broken.joblib"), "joblib could not read the file (", "joblib.dump"
    )
    (tmp_path / "broken.skops").write_bytes(b"not a zip")
    load_error(request("sklearn", tmp_path / "broken.skops"), "skops could not read the file (")
    joblib.dump({"not": "a model"}, tmp_path / "dict.pkl")
    load_error(request("sklearn", tmp_path / "dict.pkl"), "holds a dict, which has no predict method")
    load_error(request("sklearn", None), "needs spec.model.uri", "Set spec.model.uri.")


# ----------------------------------------------------------------------------------------------- onnx


def test_onnx_iris_metadata_and_zipmap_probabilities(
    iris_onnx: Path, iris_model: LogisticRegression, iris: tuple[np.ndarray, np.ndarray]
) -> None:
    model = load_model(request("onnx", iris_onnx, params={"threads": 2}))
    assert model.platform == "onnx_onnxv1"
    assert specs(model) == (
        [{"name": "X", "datatype": "FP32", "shape": [-1, 4]}],
        [
            {"name": "output_label", "datatype": "INT64", "shape": [-1]},
            {"name": "output_probability", "datatype": "FP32", "shape": [-1, -1]},
        ],
    )
    x = iris[0][[0, 60, 120]]  # float64: cast to the graph's float32
    out = model.predict({"X": x}, frozenset({"output_label", "output_probability"}))
    assert out["output_label"].tolist() == iris_model.predict(x).tolist()
    assert out["output_probability"].dtype == np.float32 and out["output_probability"].shape == (3, 3)
    np.testing.assert_allclose(out["output_probability"], iris_model.predict_proba(x), atol=1e-4)


def test_onnx_runs_only_the_requested_outputs(iris_onnx: Path, iris: tuple[np.ndarray, np.ndarray]) -> None:
    model = load_model(request("onnx", iris_onnx))
    assert set(model.predict({"X": iris[0][:2]}, frozenset({"output_label"}))) == {"output_label"}


def test_onnx_load_errors(tmp_path: Path) -> None:
    load_error(
        request("onnx", tmp_path / "s.onnx", name="sentiment"), "file not found. Check spec.model.uri."
    )
    (tmp_path / "bad.onnx").write_bytes(b"garbage")
    load_error(request("onnx", tmp_path / "bad.onnx"), "onnxruntime could not load the file (", "valid ONNX")
    (tmp_path / "empty").mkdir()
    load_error(request("onnx", tmp_path / "empty"), "the directory holds no .onnx file")
    load_error(
        request("onnx", tmp_path / "bad.onnx", params={"threads": 0}),
        "spec.model.params.threads must be a positive integer, got 0",
    )


def test_onnx_error_message_reads_as_a_sentence(tmp_path: Path) -> None:
    uri = tmp_path / "models" / "s.onnx"
    error = load_error(request("onnx", uri, name="sentiment"))
    assert str(error) == f"Model 'sentiment' failed to load from {uri}: file not found. Check spec.model.uri."


# ---------------------------------------------------------------------------------------------- torch


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:DeprecationWarning")
def test_torchscript_defaults(linear_torchscript: Path) -> None:
    import torch

    model = load_model(request("torch", linear_torchscript))
    assert model.platform == "pytorch_torchscript"
    assert specs(model) == (
        [{"name": "input0", "datatype": "FP32", "shape": [-1, -1]}],
        [{"name": "output0", "datatype": "FP32", "shape": [-1, -1]}],
    )
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    out = model.predict({"input0": x}, frozenset({"output0"}))
    expected = torch.jit.load(str(linear_torchscript))(torch.from_numpy(x)).detach().numpy()
    assert out["output0"].shape == (4, 2)
    np.testing.assert_allclose(out["output0"], expected, rtol=1e-6)


def test_torchscript_declared_tensors_and_tuple_outputs(tmp_path: Path) -> None:
    import torch

    class TwoHeads(torch.nn.Module):
        def forward(self, features: torch.Tensor, scale: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            return features.sum(dim=1) * scale[:, 0], features.max(dim=1).values

    path = tmp_path / "heads.pt"
    with pytest.warns(DeprecationWarning):
        torch.jit.save(torch.jit.script(TwoHeads()), str(path))
    params = {
        "inputs": [
            {"name": "features", "datatype": "FP32", "shape": [-1, 3]},
            {"name": "scale", "datatype": "FP32", "shape": [-1, 1]},
        ],
        "outputs": [
            {"name": "total", "datatype": "FP64", "shape": [-1]},
            {"name": "largest", "datatype": "FP32", "shape": [-1]},
        ],
    }
    model = load_model(request("torch", path, params=params))
    assert [s.name for s in model.inputs] == ["features", "scale"]
    x = np.array([[1, 2, 3], [4, 5, 6]], dtype=np.float32)
    out = model.predict(
        {"features": x, "scale": np.array([[1], [2]], dtype=np.float32)}, frozenset({"total"})
    )
    assert set(out) == {"total"}
    assert out["total"].dtype == np.float64 and out["total"].tolist() == [6.0, 30.0]


def test_torch_load_errors(tmp_path: Path, linear_torchscript: Path) -> None:
    import torch

    torch.save(torch.nn.Linear(3, 2).state_dict(), tmp_path / "weights.pt")
    load_error(
        request("torch", tmp_path / "weights.pt"),
        "torch.jit.load could not read the file (",
        "torch.jit.save",
    )
    load_error(request("torch", tmp_path), "is a directory, not a TorchScript file")
    load_error(
        request(
            "torch", linear_torchscript, params={"inputs": [{"name": "x", "datatype": "FP99", "shape": [-1]}]}
        ),
        "spec.model.params.inputs[0].datatype must be one of",
        "Fix spec.model.params.inputs.",
    )
    load_error(
        request(
            "torch",
            linear_torchscript,
            params={"outputs": [{"name": "y", "datatype": "BYTES", "shape": [-1]}]},
        ),
        "'y' is declared BYTES",
    )


# ------------------------------------------------------------------------------ sentence-transformers


def test_packaged_minilm_embeds_similar_sentences_closer(minilm: Model) -> None:
    assert minilm.platform == "sentence-transformers_pytorch"
    assert specs(minilm) == (
        [{"name": "text", "datatype": "BYTES", "shape": [-1]}],
        [{"name": "embedding", "datatype": "FP32", "shape": [-1, 384]}],
    )
    rows = texts(
        "A cat sits on the mat.", "A kitten is sitting on a rug.", "Stock markets fell sharply today."
    )
    embedding = minilm.predict({"text": rows}, frozenset({"embedding"}))["embedding"]
    assert embedding.shape == (3, 384) and embedding.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(embedding, axis=1), 1.0, rtol=1e-5)
    similar, unrelated = embedding[0] @ embedding[1], embedding[0] @ embedding[2]
    assert similar > unrelated + 0.2


def test_minilm_empty_batch(minilm: Model) -> None:
    empty = np.array([], dtype=object)
    assert minilm.predict({"text": empty}, frozenset({"embedding"}))["embedding"].shape == (0, 384)


def test_sentence_transformers_load_errors(tmp_path: Path) -> None:
    (tmp_path / "model.bin").write_bytes(b"x")
    load_error(
        request("sentence-transformers", tmp_path / "model.bin"),
        "sentence-transformers loads a model directory",
    )
    load_error(request("sentence-transformers", tmp_path / "nowhere"), "file not found")
    load_error(
        request("sentence-transformers", None, params={"normalize": "yes"}),
        "spec.model.params.normalize must be true or false",
    )


# --------------------------------------------------------------------------------------------- python

CLASSIFIER = """
    import numpy as np

    class Doubler:
        inputs = [{"name": "x", "datatype": "FP32", "shape": [-1, 2]}]
        outputs = [{"name": "doubled", "datatype": "FP32", "shape": [-1, 2]},
                   {"name": "total", "datatype": "FP64", "shape": [-1]}]

        def __init__(self, factor=2):
            self.factor = factor
            self.loaded = False

        def load(self):
            self.loaded = True

        def predict(self, inputs):
            assert self.loaded
            x = inputs["x"]
            return {"doubled": x * self.factor, "total": x.sum(axis=1)}

    class Bare:
        def predict(self, inputs):
            return np.array([len(v) for v in inputs["words"]])

    class Broken:
        def load(self):
            raise RuntimeError("weights are missing")

        def predict(self, inputs):
            return inputs

    class WrongRows:
        def predict(self, inputs):
            return np.zeros(1)

    class BadSpecs:
        inputs = [{"name": "x", "datatype": "FP32"}]

        def predict(self, inputs):
            return inputs
"""


@pytest.fixture
def user_file(tmp_path: Path) -> Path:
    path = tmp_path / "custom.py"
    path.write_text(textwrap.dedent(CLASSIFIER))
    return path


def test_python_class_with_declared_tensors(user_file: Path) -> None:
    model = load_model(request("python", f"{user_file}:Doubler", params={"factor": 3}))
    assert model.platform == "python_custom"
    assert [s.name for s in model.inputs] == ["x"]
    assert [s.name for s in model.outputs] == ["doubled", "total"]
    out = model.predict({"x": np.array([[1, 2], [3, 4]], dtype=np.float32)}, frozenset({"doubled"}))
    assert out["doubled"].tolist() == [[3, 6], [9, 12]]
    assert out["total"].dtype == np.float64  # cast to the declared datatype


def test_python_bare_array_becomes_output0_and_outputs_are_discovered(user_file: Path) -> None:
    model = load_model(request("python", "custom.py:Bare", base_dir=user_file.parent))
    assert tuple(model.inputs) == () and tuple(model.outputs) == ()
    out = model.predict({"words": texts("a", "bc")}, frozenset({"output0"}))
    assert out["output0"].tolist() == [1, 2]
    assert model.outputs == (TensorSpec("output0", Datatype.INT64, (-1,)),)


def test_python_package_module_form(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "mymodels"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "echo.py").write_text(
        "class Echo:\n    def predict(self, inputs):\n        return dict(inputs)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "mymodels", raising=False)
    model = load_model(request("python", "mymodels.echo:Echo"))
    x = np.ones((2, 2))
    assert model.predict({"x": x}, frozenset({"x"}))["x"] is x


def test_python_predict_must_answer_every_row(user_file: Path) -> None:
    model = load_model(request("python", f"{user_file}:WrongRows"))
    with pytest.raises(ValueError, match="returned 1 rows for 'output0' but the batch has 3 rows"):
        model.predict({"x": np.zeros((3, 2))}, frozenset({"output0"}))


def test_python_load_errors(user_file: Path, tmp_path: Path) -> None:
    error = load_error(
        request("python", f"{user_file}:Broken"),
        "the model's code raised RuntimeError: weights are missing at ",
        f"{user_file}:",
        "(in load)",
        "Fix the model's code",
    )
    assert isinstance(error.__cause__, RuntimeError)
    load_error(request("python", f"{user_file}:Nope"), "defines no class 'Nope'", "BadSpecs, Bare, Broken")
    load_error(request("python", f"{tmp_path}/absent.py:Model"), "file not found")
    load_error(request("python", "no_such_package_xyz.models:Model"), "no module named", "PYTHONPATH")
    load_error(request("python", "just-a-path"), "path/to/file.py:ClassName")
    load_error(request("python", None), "path/to/file.py:ClassName", "Set spec.model.uri.")
    load_error(request("python", f"{user_file}:BadSpecs"), "BadSpecs.inputs[0].shape", "'inputs' attribute")
    load_error(
        request("python", f"{user_file}:Doubler", params={"scale": 2}),
        "TypeError",
        "unexpected keyword argument 'scale'",
        "spec.model.params",
    )
    (tmp_path / "syntax.py").write_text("class Model:\n    def predict(self, inputs)\n")
    load_error(request("python", f"{tmp_path}/syntax.py:Model"), "SyntaxError")
    (tmp_path / "raises.py").write_text("import json\n\nraise ImportError('needs a GPU')\n")
    load_error(request("python", f"{tmp_path}/raises.py:Model"), "ImportError: needs a GPU", "raises.py:3")


# ------------------------------------------------------------------------------------------ simulated


def test_simulated_device_sums_rows() -> None:
    model = load_model(request("simulated", None, params={"latencyMs": 0}, max_batch_size=8))
    assert model.platform == "simulated_device"
    assert specs(model) == (
        [{"name": "input0", "datatype": "FP32", "shape": [-1, -1]}],
        [{"name": "output0", "datatype": "FP64", "shape": [-1]}],
    )
    out = model.predict(
        {"input0": np.array([[1, 2, 3], [4, 5, 6]], dtype=np.float32)}, frozenset({"output0"})
    )
    assert out["output0"].dtype == np.float64 and out["output0"].tolist() == [6.0, 15.0]
    ints = model.predict({"input0": np.array([[1, 1], [2, 2]], dtype=np.int64)}, frozenset({"output0"}))
    assert ints["output0"].tolist() == [2.0, 4.0]


def test_simulated_call_takes_at_least_the_latency_whatever_the_batch() -> None:
    model = load_model(request("simulated", "ignored", params={"latencyMs": 50}, max_batch_size=4))
    for rows in (1, 4):
        started = time.perf_counter()
        model.predict({"input0": np.ones((rows, 2), dtype=np.float32)}, frozenset({"output0"}))
        assert time.perf_counter() - started >= 0.05 * 0.99


def test_simulated_default_latency_is_20ms() -> None:
    model = load_model(request("simulated", None))
    started = time.perf_counter()
    model.predict({"input0": np.ones((1, 1), dtype=np.float32)}, frozenset({"output0"}))
    assert time.perf_counter() - started >= 0.02 * 0.99


def test_simulated_refuses_oversize_batches() -> None:
    model = load_model(request("simulated", None, params={"latencyMs": 0}, max_batch_size=2))
    with pytest.raises(ValueError, match="the simulated device takes at most 2 rows per call; got 3"):
        model.predict({"input0": np.ones((3, 2), dtype=np.float32)}, frozenset({"output0"}))


@pytest.mark.parametrize("latency", [-1, "fast", True, float("nan"), None])
def test_simulated_latency_must_be_a_non_negative_number(latency: Any) -> None:
    load_error(
        request("simulated", None, params={"latencyMs": latency}),
        "spec.model.params.latencyMs must be a non-negative number",
        "Fix spec.model.params.latencyMs.",
    )


# ----------------------------------------------------------------------------------------- dispatcher


def test_public_names() -> None:
    assert loaders.__all__ == ["FORMATS", "load_model"]
    assert set(FORMATS) == {"sklearn", "onnx", "torch", "sentence-transformers", "python", "simulated"}


def test_importing_the_loaders_imports_no_model_library() -> None:
    heavy = {"torch", "sklearn", "onnxruntime", "sentence_transformers", "skops"}
    code = f"import sys, modelplane.server.loaders; print(sorted({heavy!r} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_unknown_format_lists_the_known_ones() -> None:
    load_error(
        request("tensorflow", "/m"),
        "unknown format 'tensorflow'",
        "'sklearn', 'onnx', 'torch', 'sentence-transformers', 'python', 'simulated'",
    )


@pytest.mark.parametrize("fmt", ["sklearn", "onnx", "torch", "sentence-transformers", "python"])
@pytest.mark.parametrize("uri", ["s3://bucket/model.joblib", "http://example.com/m.pkl", "gs://b/m.onnx"])
def test_remote_uris_are_refused(fmt: str, uri: str) -> None:
    load_error(
        request(fmt, uri),
        "only local paths are supported; pickle-based files are never loaded from remote locations",
    )


@pytest.mark.parametrize(
    ("fmt", "missing", "extra"),
    [
        ("onnx", "onnxruntime", "onnx"),
        ("torch", "torch", "torch"),
        ("sentence-transformers", "sentence_transformers", "nlp"),
    ],
)
def test_missing_library_names_the_extra(
    fmt: str, missing: str, extra: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = tmp_path / "model.bin"
    if fmt == "sentence-transformers":
        uri.mkdir()
    else:
        uri.write_bytes(b"x")
    monkeypatch.setitem(sys.modules, missing, None)  # makes `import <missing>` fail as if not installed
    load_error(
        request(fmt, uri),
        f"needs {missing}, which is not installed",
        f"Install it with: pip install 'modelplane[{extra}]'",
    )


def test_missing_skops_names_the_extra(iris_skops: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "skops", None)
    monkeypatch.setitem(sys.modules, "skops.io", None)
    load_error(
        request("sklearn", iris_skops),
        "needs skops, which is not installed",
        "Install it with: pip install 'modelplane[skops]'",
    )


def test_unexpected_library_failures_still_name_the_model(
    iris_joblib: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import modelplane.server.loaders.sklearn as sklearn_loader

    def explode(request: LoadRequest, path: Path) -> Path:
        raise OSError("disk on fire")

    monkeypatch.setattr(sklearn_loader, "_model_file", explode)
    load_error(request("sklearn", iris_joblib), "the sklearn loader failed (OSError: disk on fire)")


def test_skops_refuses_numpy_functions_that_run_code(
    tmp_path: Path, iris: tuple[np.ndarray, np.ndarray]
) -> None:
    # numpy.testing's runstring calls exec: a pipeline built from it used to load as "trusted" because
    # its name starts with "numpy.", then ran the request's data as code at the first predict.
    import numpy.testing._private.utils as numpy_testing_utils
    import skops.io

    x, y = iris
    pipeline = make_pipeline(
        FunctionTransformer(func=numpy_testing_utils.runstring), LogisticRegression(max_iter=1000)
    )
    pipeline.steps[-1] = ("logisticregression", LogisticRegression(max_iter=1000).fit(x, y))
    skops.io.dump(pipeline, tmp_path / "evil.skops")
    error = load_error(
        request("sklearn", tmp_path / "evil.skops"),
        "not trusted: numpy.testing._private.utils.runstring",
        "trustedTypes",
    )
    assert str(tmp_path / "evil.skops") in str(error)


def test_skops_loads_tree_and_neighbour_models_through_the_allow_list(
    tmp_path: Path, iris: tuple[np.ndarray, np.ndarray]
) -> None:
    import skops.io
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.neighbors import KNeighborsClassifier

    x, y = iris
    for name, estimator in {
        "forest": RandomForestClassifier(n_estimators=3, random_state=0),
        "boosting": HistGradientBoostingClassifier(max_iter=3),
        "neighbours": KNeighborsClassifier(algorithm="kd_tree"),
    }.items():
        fitted = estimator.fit(x, y)
        skops.io.dump(fitted, tmp_path / f"{name}.skops")
        assert skops.io.get_untrusted_types(file=tmp_path / f"{name}.skops")  # skops alone refuses them
        model = load_model(request("sklearn", tmp_path / f"{name}.skops"))
        assert model.predict({"input0": x[:5]}, ALL)["label"].tolist() == fitted.predict(x[:5]).tolist()


def test_the_skops_allow_list_names_only_classes_of_the_installed_scikit_learn() -> None:
    import importlib

    from modelplane.server.loaders.sklearn import SKOPS_ALLOWED_CLASSES

    for name in SKOPS_ALLOWED_CLASSES:
        module, _, attribute = name.rpartition(".")
        assert isinstance(getattr(importlib.import_module(module), attribute), type), name
