"""scikit-learn estimators from a joblib/pickle file or a skops file.

`spec.model.uri` is a `.joblib`/`.pkl`/`.pickle` file (read with joblib: it runs code, so only trusted
local files), a `.skops` file (read with skops.io, which refuses types it does not know), or a directory
holding exactly one of model.joblib / model.skops / model.pkl.

Tensors: one input `input0` — FP64 [-1, n_features] when the estimator knows its feature count, else
BYTES [-1] of utf-8 texts (a text pipeline such as TF-IDF + classifier). Outputs `label` [-1] (BYTES
for string classes, INT64 for integer classes, FP64 for a regressor) and, for estimators with
predict_proba, `probabilities` FP64 [-1, n_classes] in `classes_` order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np

from modelplane.server.errors import ModelLoadError
from modelplane.server.loaders._convert import as_text
from modelplane.server.loaders._errors import describe, describe_unreadable, load_error, needs
from modelplane.server.loaders._params import model_path
from modelplane.server.model import Array, Datatype, LoadRequest, Model, TensorSpec

PICKLE_SUFFIXES = (".joblib", ".pkl", ".pickle")
DIRECTORY_FILES = ("model.joblib", "model.skops", "model.pkl")
EXPECTED = "a .joblib, .pkl, .pickle or .skops file, or a directory holding one of " + ", ".join(
    DIRECTORY_FILES
)
# Classes a skops file may hold beyond what skops itself trusts (`skops.io.get_untrusted_types` lists
# everything else), without the user naming them in params.trustedTypes. Each is a data-only internal
# class of a common scikit-learn model (tree nodes, neighbour indexes, distance metrics, optimiser
# state, calibration wrappers); none is a function. Trust is by exact name, never by module prefix:
# a prefix such as "numpy." admits functions like numpy.testing._private.utils.runstring (it calls
# exec), which a FunctionTransformer would run on the request data. PyFuncDistance (wraps a Python
# function) is deliberately absent.
_DISTANCE_METRICS = (
    "BrayCurtis", "Canberra", "Chebyshev", "Dice", "Euclidean", "Hamming", "Haversine", "Jaccard",
    "Mahalanobis", "Manhattan", "Matching", "Minkowski", "RogersTanimoto", "RussellRao", "SEuclidean",
    "SokalMichener", "SokalSneath",
)  # fmt: skip
SKOPS_ALLOWED_CLASSES = frozenset(
    {
        "sklearn.tree._tree.Tree",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.neighbors._kd_tree.KDTree",
        "sklearn.neighbors._ball_tree.BallTree",
        "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
        "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
        "sklearn.calibration._CalibratedClassifier",
        "sklearn.calibration._SigmoidCalibration",
        *(f"sklearn.metrics._dist_metrics.{m}Distance{bits}" for m in _DISTANCE_METRICS for bits in (32, 64)),
    }
)


@dataclass(frozen=True)
class SklearnModel:
    estimator: Any
    platform: str
    inputs: Sequence[TensorSpec]
    outputs: Sequence[TensorSpec]

    def predict(self, inputs: Mapping[str, Array], outputs: frozenset[str]) -> Mapping[str, Array]:
        x = inputs["input0"]
        rows = _texts(x) if self.inputs[0].datatype is Datatype.BYTES else np.asarray(x, dtype=np.float64)
        result: dict[str, Array] = {}
        if "label" in outputs:
            result["label"] = _labels(self.estimator.predict(rows), self.outputs[0].datatype)
        if "probabilities" in outputs and len(self.outputs) > 1:
            result["probabilities"] = np.asarray(self.estimator.predict_proba(rows), dtype=np.float64)
        return result


def load(request: LoadRequest) -> Model:
    path = _model_file(request, model_path(request, expected=EXPECTED))
    if path.suffix == ".skops":
        estimator = _load_skops(request, path)
        platform = "sklearn_skops"
    else:
        try:
            estimator = joblib.load(path)
        except Exception as exc:
            raise load_error(
                request,
                f"joblib could not read the file ({describe_unreadable(exc, path)})",
                "Check that it was saved with joblib.dump and a compatible scikit-learn version.",
            ) from exc
        platform = "sklearn_joblib"
    if not callable(getattr(estimator, "predict", None)):
        raise load_error(
            request,
            f"the file holds a {type(estimator).__name__}, which has no predict method",
            "Save a fitted scikit-learn estimator or pipeline.",
        )
    return SklearnModel(
        estimator=estimator,
        platform=platform,
        inputs=(_input_spec(estimator),),
        outputs=_output_specs(estimator),
    )


def _model_file(request: LoadRequest, path: Path) -> Path:
    if path.is_dir():
        found = [path / name for name in DIRECTORY_FILES if (path / name).is_file()]
        if not found:
            raise load_error(
                request,
                f"the directory holds no recognised model file (looked for {', '.join(DIRECTORY_FILES)})",
                "Put the model in one of those files, or point spec.model.uri at the file.",
            )
        if len(found) > 1:
            raise load_error(
                request,
                f"the directory holds several model files ({', '.join(p.name for p in found)})",
                "Keep exactly one, or point spec.model.uri at the file to serve.",
            )
        return found[0]
    if path.suffix not in (*PICKLE_SUFFIXES, ".skops"):
        raise load_error(
            request,
            f"'{path.suffix or path.name}' is not a scikit-learn model file",
            f"Point spec.model.uri at {EXPECTED}.",
        )
    return path


def _load_skops(request: LoadRequest, path: Path) -> Any:
    with needs(request, "skops", extra="skops"):
        import skops.io

    listed = request.params.get("trustedTypes", [])
    if isinstance(listed, str) or not isinstance(listed, Sequence):
        raise load_error(
            request,
            f"spec.model.params.trustedTypes must be a list of type names, got {listed!r}",
            "Fix spec.model.params.trustedTypes.",
        )
    try:
        found = skops.io.get_untrusted_types(file=path)
        untrusted = [t for t in found if t not in SKOPS_ALLOWED_CLASSES and t not in listed]
        if untrusted:
            raise load_error(
                request,
                f"the skops file contains types that are not trusted: {', '.join(untrusted)}",
                "skops does not trust them and they are not on modelplane's allow-list (docs/server.md); "
                "a function among them would run on request data. "
                "If you trust this file, add them to spec.model.params.trustedTypes.",
            )
        return skops.io.load(path, trusted=list(found))
    except ModelLoadError:
        raise
    except Exception as exc:
        raise load_error(
            request,
            f"skops could not read the file ({describe(exc)})",
            "Check that it was saved with skops.io.dump and a compatible scikit-learn version.",
        ) from exc


def _input_spec(estimator: Any) -> TensorSpec:
    try:
        n_features = int(estimator.n_features_in_)
    except (AttributeError, TypeError):  # e.g. a pipeline starting with a text vectorizer
        return TensorSpec("input0", Datatype.BYTES, (-1,))
    return TensorSpec("input0", Datatype.FP64, (-1, n_features))


def _output_specs(estimator: Any) -> tuple[TensorSpec, ...]:
    classes = getattr(estimator, "classes_", None)
    if classes is None:
        return (TensorSpec("label", Datatype.FP64, (-1,)),)
    label = TensorSpec("label", _label_datatype(np.asarray(classes)), (-1,))
    if not callable(getattr(estimator, "predict_proba", None)):
        return (label,)
    return (label, TensorSpec("probabilities", Datatype.FP64, (-1, len(classes))))


def _label_datatype(classes: Array) -> Datatype:
    kind = classes.dtype.kind
    if kind in ("U", "S", "O"):
        return Datatype.BYTES
    if kind in ("i", "u"):
        return Datatype.INT64
    if kind == "b":
        return Datatype.BOOL
    return Datatype.FP64


def _labels(predicted: Any, datatype: Datatype) -> Array:
    """Predictions in the declared datatype; BYTES labels are an object array of str."""
    labels = np.asarray(predicted)
    if datatype is Datatype.BYTES:
        return np.array([as_text(value) for value in labels.ravel()], dtype=object)
    # `is`, not a dict keyed by Datatype: an enum's hash is a Python call, and this runs per request
    dtype = np.int64 if datatype is Datatype.INT64 else np.bool_ if datatype is Datatype.BOOL else np.float64
    return labels.astype(dtype, copy=False)


def _texts(x: Array) -> Array:
    """BYTES rows (bytes or str) as a 1-D array of str, the way text vectorizers want them."""
    rows = x.reshape(x.shape[0]) if x.ndim == 2 and x.shape[1] == 1 else x
    if rows.ndim != 1:
        raise ValueError(f"input0 must be a 1-D list of texts, got shape {list(x.shape)}")
    return np.array([as_text(value) for value in rows], dtype=str)
