"""TorchScript models (`torch.jit.save` files), run on the CPU in inference mode.

TorchScript records no tensor shapes, so the metadata comes from `params.inputs` / `params.outputs`
(lists of {name, datatype, shape}); without them the model takes `input0` FP32 [-1, -1] and returns
`output0` FP32 [-1, -1]. The inputs are passed positionally in the declared order; a tensor result is
the first output, a tuple of tensors the outputs in order (output0, output1, ... by default).
`params.threads` (default 1) sets torch's intra-op threads — a process-wide setting, fine for a
replica that serves one model.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from modelplane.server.loaders._errors import describe, load_error, needs
from modelplane.server.loaders._params import model_path, specs_param, threads
from modelplane.server.model import NUMPY_DTYPES, Array, Datatype, LoadRequest, Model, TensorSpec

DEFAULT_INPUTS = (TensorSpec("input0", Datatype.FP32, (-1, -1)),)
DEFAULT_OUTPUTS = (TensorSpec("output0", Datatype.FP32, (-1, -1)),)


@dataclass(frozen=True)
class TorchScriptModel:
    module: Any
    inputs: Sequence[TensorSpec]
    outputs: Sequence[TensorSpec]
    platform: str = "pytorch_torchscript"

    def predict(self, inputs: Mapping[str, Array], outputs: frozenset[str]) -> Mapping[str, Array]:
        import torch

        tensors = [torch.from_numpy(np.ascontiguousarray(inputs[spec.name])) for spec in self.inputs]
        with torch.inference_mode():
            result = self.module(*tensors)
        results = tuple(result) if isinstance(result, (tuple, list)) else (result,)
        if len(results) != len(self.outputs):
            names = ", ".join(spec.name for spec in self.outputs)
            raise ValueError(
                f"the model returned {len(results)} tensors but {len(self.outputs)} outputs are "
                f"declared ({names}); fix spec.model.params.outputs"
            )
        return {
            spec.name: _array(value, spec)
            for spec, value in zip(self.outputs, results, strict=True)
            if spec.name in outputs
        }


def load(request: LoadRequest) -> Model:
    path = model_path(request, expected="a path to a TorchScript file saved with torch.jit.save")
    if path.is_dir():
        raise load_error(
            request,
            "the path is a directory, not a TorchScript file",
            "Point spec.model.uri at the file saved with torch.jit.save.",
        )
    inputs = specs_param(request, "inputs", DEFAULT_INPUTS)
    outputs = specs_param(request, "outputs", DEFAULT_OUTPUTS)
    for spec in (*inputs, *outputs):
        if spec.datatype == Datatype.BYTES:
            raise load_error(
                request,
                f"'{spec.name}' is declared BYTES, but torch tensors hold only numbers and booleans",
                "Fix the datatype in spec.model.params.inputs / outputs.",
            )
    n_threads = threads(request)
    with needs(request, "torch", extra="torch"):
        import torch

    torch.set_num_threads(n_threads)
    try:
        with warnings.catch_warnings():  # TorchScript is deprecated upstream but is the format asked for
            warnings.filterwarnings("ignore", category=DeprecationWarning, message=r".*torch\.jit")
            jit: Any = torch.jit  # untyped in torch's stubs
            module = jit.load(str(path), map_location="cpu")
    except Exception as exc:
        raise load_error(
            request,
            f"torch.jit.load could not read the file ({describe(exc)})",
            "Check that it is a TorchScript file saved with torch.jit.save (not torch.save).",
        ) from exc
    module.eval()
    return TorchScriptModel(module=module, inputs=inputs, outputs=outputs)


def _array(value: Any, spec: TensorSpec) -> Array:
    import torch

    if not isinstance(value, torch.Tensor):
        raise ValueError(f"the model returned {type(value).__name__} for '{spec.name}', not a tensor")
    return value.detach().cpu().numpy().astype(NUMPY_DTYPES[spec.datatype], copy=False)
