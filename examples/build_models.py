"""Build the scikit-learn model files that the example specs (examples/nlp.yaml) serve.

    python examples/build_models.py [--force] [--out examples/models]

Writes three models, each trained in well under a second on data shipped in the repository
(nothing is downloaded):

- ``iris/model.joblib``: LogisticRegression on scikit-learn's bundled iris data (4 FP64 features in,
  class index 0/1/2 out), saved with joblib.
- ``sentiment/model.skops``: TF-IDF + LogisticRegression pipeline trained on ``data/sentiment.csv``
  (raw text in, ``positive`` / ``negative`` out), saved with skops (a format that does not run code on
  load).
- ``intent/model.joblib``: the same kind of pipeline trained on ``data/intent.csv`` (six intents of a
  banking assistant), saved with joblib.

For each model it prints the accuracy on a stratified held-out split (fixed random_state), then refits
on all the data before saving. Files that already exist are skipped unless ``--force`` is given.
Everything is deterministic: the same data gives the same models.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EXAMPLES_DIR = Path(__file__).resolve().parent
DATA_DIR = EXAMPLES_DIR / "data"
DEFAULT_OUT = EXAMPLES_DIR / "models"

# Relative paths (under --out) of the files this script writes; examples/nlp.yaml points at them.
MODEL_FILES = {
    "iris": Path("iris/model.joblib"),
    "sentiment": Path("sentiment/model.skops"),
    "intent": Path("intent/model.joblib"),
}

RANDOM_STATE = 0
TEST_SIZE = 0.25


@dataclass(frozen=True)
class BuildResult:
    name: str
    path: Path
    built: bool  # False when the file existed and was kept
    accuracy: float | None = None  # held-out accuracy; None when skipped
    n_samples: int | None = None


def read_labelled_csv(path: Path) -> tuple[list[str], list[str]]:
    """Read a ``text,label`` CSV into two parallel lists."""
    texts: list[str] = []
    labels: list[str] = []
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames != ["text", "label"]:
            raise ValueError(f"{path}: expected header 'text,label', got {reader.fieldnames}")
        for line_no, row in enumerate(reader, start=2):
            text, label = (row["text"] or "").strip(), (row["label"] or "").strip()
            if not text or not label:
                raise ValueError(f"{path}:{line_no}: empty text or label")
            texts.append(text)
            labels.append(label)
    return texts, labels


def text_pipeline(min_df: int = 1, c: float = 10.0) -> Any:
    """TF-IDF over word uni- and bigrams followed by a logistic regression."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    return Pipeline(
        [
            ("tfidf", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=min_df)),
            ("clf", LogisticRegression(max_iter=1000, C=c)),
        ]
    )


def holdout_then_refit(
    make_model: Callable[[], Any], x: Sequence[Any], y: Sequence[Any]
) -> tuple[Any, float]:
    """Score a fresh model on a stratified held-out split, then return one refit on all the data."""
    from sklearn.model_selection import train_test_split

    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=TEST_SIZE, stratify=y, random_state=RANDOM_STATE
    )
    accuracy = float(make_model().fit(x_train, y_train).score(x_test, y_test))
    return make_model().fit(x, y), accuracy


def train_iris() -> tuple[Any, float, int]:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    data = load_iris()  # bundled with scikit-learn: no download
    model, accuracy = holdout_then_refit(lambda: LogisticRegression(max_iter=1000), data.data, data.target)
    return model, accuracy, len(data.target)


def train_sentiment(data_dir: Path = DATA_DIR) -> tuple[Any, float, int]:
    texts, labels = read_labelled_csv(data_dir / "sentiment.csv")
    # min_df=2 drops words seen once: on a corpus this small they only add noise.
    model, accuracy = holdout_then_refit(lambda: text_pipeline(min_df=2, c=10.0), texts, labels)
    return model, accuracy, len(texts)


def train_intent(data_dir: Path = DATA_DIR) -> tuple[Any, float, int]:
    texts, labels = read_labelled_csv(data_dir / "intent.csv")
    model, accuracy = holdout_then_refit(lambda: text_pipeline(min_df=1, c=10.0), texts, labels)
    return model, accuracy, len(texts)


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Write through a temporary file in the same folder, so a crash never leaves half a model."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; model files are not secrets
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def save_joblib(model: Any, path: Path) -> None:
    import joblib

    _atomic_write(path, lambda p: joblib.dump(model, p))


def save_skops(model: Any, path: Path) -> None:
    import zipfile

    import skops.io

    _atomic_write(path, lambda p: skops.io.dump(model, p, compression=zipfile.ZIP_DEFLATED))


TRAINERS: dict[str, tuple[Callable[[], tuple[Any, float, int]], Callable[[Any, Path], None]]] = {
    "iris": (train_iris, save_joblib),
    "sentiment": (train_sentiment, save_skops),
    "intent": (train_intent, save_joblib),
}


def missing_models(out: Path = DEFAULT_OUT) -> list[str]:
    """Names of the models whose file is not under ``out`` yet."""
    return [name for name, rel in MODEL_FILES.items() if not (out / rel).is_file()]


def build_all(
    out: Path = DEFAULT_OUT, force: bool = False, log: Callable[[str], None] = print
) -> list[BuildResult]:
    """Train and save every model missing under ``out`` (all of them with ``force``)."""
    results: list[BuildResult] = []
    for name, rel in MODEL_FILES.items():
        path = out / rel
        if path.is_file() and not force:
            log(f"{name:<10} exists, skipped: {path}  (--force rebuilds)")
            results.append(BuildResult(name=name, path=path, built=False))
            continue
        train, save = TRAINERS[name]
        started = time.perf_counter()
        model, accuracy, n = train()
        save(model, path)
        elapsed = time.perf_counter() - started
        log(f"{name:<10} held-out accuracy {accuracy:.3f} ({n} samples, {TEST_SIZE:.0%} held out)")
        log(f"{'':<10} refit on all data, wrote {path} in {elapsed:.2f}s")
        results.append(BuildResult(name=name, path=path, built=True, accuracy=accuracy, n_samples=n))
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: %(default)s)")
    parser.add_argument("--force", action="store_true", help="rebuild models that already exist")
    args = parser.parse_args(argv)
    build_all(args.out, force=args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
