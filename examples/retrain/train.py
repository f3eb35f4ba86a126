"""Train a new version of the `sentiment` model: the training job of examples/retrain/.

    python train.py --out ../models/sentiment-v2 [--version v2] [--min-accuracy 0.75]

Run by the Job in job.yaml (a replica like any other: scheduled, resource-limited, logged). It trains
on the corpus shipped in the repository (examples/data/sentiment.csv; nothing is downloaded) a model
that looks at character n-grams as well as words, so misspelt and unseen word forms still carry
signal; compares it with the v1 recipe on the same held-out split; refuses to publish a model below
`--min-accuracy` (the Job then fails and nothing is rolled out); and writes `model.skops` and
`metrics.json` atomically into `--out`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

EXAMPLES_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(EXAMPLES_DIR))

import build_models  # noqa: E402  (the v1 recipe, the corpus reader and the atomic skops writer)


def v2_pipeline() -> Any:
    """Word uni/bigrams and character 2-5-grams side by side, then a logistic regression."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, Pipeline

    features = FeatureUnion(
        [
            ("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2)),
            ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2)),
        ]
    )
    return Pipeline([("features", features), ("clf", LogisticRegression(max_iter=2000, C=10.0))])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, required=True, help="folder of the new model version")
    parser.add_argument("--version", default="v2", help="the version recorded in metrics.json")
    parser.add_argument("--min-accuracy", type=float, default=0.75, help="publish only above this")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    texts, labels = build_models.read_labelled_csv(build_models.DATA_DIR / "sentiment.csv")
    print(f"corpus: {len(texts)} labelled sentences from {build_models.DATA_DIR / 'sentiment.csv'}")
    _, baseline = build_models.holdout_then_refit(
        lambda: build_models.text_pipeline(min_df=2, c=10.0), texts, labels
    )
    model, accuracy = build_models.holdout_then_refit(v2_pipeline, texts, labels)
    print(f"held-out accuracy: v1 recipe {baseline:.3f}, {args.version} recipe {accuracy:.3f}")
    if accuracy < args.min_accuracy:
        refusal = f"refusing to publish: accuracy {accuracy:.3f} < --min-accuracy {args.min_accuracy}"
        print(refusal, file=sys.stderr)
        return 1
    path = args.out / "model.skops"
    build_models.save_skops(model, path)
    metrics = {
        "version": args.version,
        "heldOutAccuracy": round(accuracy, 4),
        "baselineAccuracy": round(baseline, 4),
        "samples": len(texts),
        "trainedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(f"wrote {path} ({path.stat().st_size} bytes) in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
