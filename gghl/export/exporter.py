"""Write an export wrapper to ONNX (legacy TorchScript-based exporter, standard opset) or TorchScript (trace).

The model description (kind, class names, input size, output names, post-processing settings) travels
inside the file: ONNX ``metadata_props["gghl"]``, TorchScript extra file ``gghl_meta.json``, as JSON.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gghl.export.modules import OUTPUTS

META_KEY = "gghl"
TS_META_FILE = "gghl_meta.json"
FORMATS = ("onnx", "torchscript")


def quiet_trace() -> warnings.catch_warnings:
    """Tracer warnings about Python ints taken from shapes are expected: input sizes are fixed per export."""
    ctx = warnings.catch_warnings()
    ctx.__enter__()
    warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
    warnings.filterwarnings("ignore", message=".*(legacy|TorchScript-based ONNX|dynamo).*")
    # torch 2.9+ marks torch.jit deprecated in favour of torch.export; TorchScript files still load everywhere.
    warnings.filterwarnings("ignore", category=FutureWarning, message=".*torch.jit.*")
    return ctx


def export_onnx(
    module: nn.Module,
    example: torch.Tensor,
    path: str | Path,
    meta: dict[str, Any],
    dynamic_batch: bool = False,
    opset: int = 17,
) -> Path:
    """Export ``module`` (eval mode) traced on ``example [B,3,S,S]`` to ``path``; returns ``path``.

    Only standard ONNX operators are used (no custom op library is needed by onnxruntime).
    ``dynamic_batch`` makes the batch axis symbolic; the image side stays fixed at ``S``.
    """
    import onnx

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    names = list(meta.get("outputs") or OUTPUTS[meta["kind"]])
    axes = {n: {0: "batch"} for n in ["images", *names]} if dynamic_batch else None
    module.eval()
    ctx = quiet_trace()
    try:
        with torch.no_grad():
            torch.onnx.export(
                module,
                (example,),
                str(path),
                dynamo=False,
                opset_version=opset,
                input_names=["images"],
                output_names=names,
                dynamic_axes=axes,
                do_constant_folding=True,
            )
    finally:
        ctx.__exit__(None, None, None)
        module.eval()  # the exporter restores the *wrapper's* mode, which may flip submodules to train
    model = onnx.load(str(path))
    entry = model.metadata_props.add()
    entry.key, entry.value = META_KEY, json.dumps(meta)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def export_torchscript(
    module: nn.Module, example: torch.Tensor, path: str | Path, meta: dict[str, Any]
) -> Path:
    """``torch.jit.trace`` ``module`` on ``example`` and save it with the metadata; returns ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    module.eval()
    ctx = quiet_trace()
    try:
        with torch.no_grad():
            traced = torch.jit.trace(module, (example,), check_trace=False)
        torch.jit.save(traced, str(path), _extra_files={TS_META_FILE: json.dumps(meta)})
    finally:
        ctx.__exit__(None, None, None)
    return path
