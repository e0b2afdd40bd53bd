"""Run an exported model (ONNX through onnxruntime, or TorchScript) and turn its outputs into predictions.

``ExportedModel(path)`` reads the metadata written by :mod:`gghl.export.exporter`; ``predict_batch`` has the
same contract as the tasks' (``GGHLDetectionTask.predict_batch``): images ``[B,3,S,S]`` in ``[0,1]`` ->
per image ``{"polygons" [K,8], "scores" [K], "labels" [K]}`` in input pixels (classifier: ``{"probs" [C]}``),
so ``gghl.models.large_image.tile_detector`` and the predict command take either.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from gghl.export.exporter import META_KEY, TS_META_FILE, quiet_trace
from gghl.export.modules import OUTPUTS
from gghl.export.postprocess import gghl_detections, graph_detections, query_detections


class ExportedModelError(RuntimeError):
    """An exported file that cannot be used (unknown format, no gghl metadata); the message names it."""


def export_format(path: str | Path) -> str:
    """``onnx`` for ``*.onnx``, ``torchscript`` for ``*.pt`` / ``*.ts`` / ``*.torchscript``."""
    suffix = Path(path).suffix.lower()
    if suffix == ".onnx":
        return "onnx"
    if suffix in (".pt", ".ts", ".torchscript", ".jit"):
        return "torchscript"
    raise ExportedModelError(f"{path}: unknown exported-model suffix {suffix!r} (use .onnx, .pt or .ts)")


class ExportedModel:
    """An exported gghl model.

    Attributes:
        meta: the stored description (``kind``, ``class_names``, ``img_size``, ``batch``, ``dynamic_batch``,
            ``postprocess``). kind / class_names / img_size: shortcuts.
        score_thresh: GGHL: the candidate threshold (``meta["postprocess"]["score_thresh"]``); query: an
            optional extra threshold (``None`` keeps the whole top-k), settable by the caller.
    """

    def __init__(self, path: str | Path, threads: int | None = None) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"exported model not found: {self.path}")
        self.format = export_format(self.path)
        if self.format == "onnx":
            self.meta, self._session = self._load_onnx(threads)
        else:
            self.meta, self._module = self._load_torchscript()
        self.kind: str = self.meta["kind"]
        self.class_names: list[str] = list(self.meta["class_names"])
        self.img_size: int = int(self.meta["img_size"])
        self.post: dict[str, Any] = dict(self.meta.get("postprocess") or {})
        self.score_thresh: float | None = self.post.get("score_thresh")
        self.nms_in_graph: bool = bool(self.meta.get("nms", False))
        self.output_names = tuple(self.meta.get("outputs") or OUTPUTS[self.kind])

    def _load_onnx(self, threads: int | None) -> tuple[dict[str, Any], Any]:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
        try:
            sess = ort.InferenceSession(str(self.path), opts, providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own Fail / InvalidGraph types
            raise ExportedModelError(
                f"{self.path}: onnxruntime cannot load it ({type(e).__name__}: {e})"
            ) from e
        raw = sess.get_modelmeta().custom_metadata_map.get(META_KEY)
        if raw is None:
            raise ExportedModelError(f"{self.path}: no '{META_KEY}' metadata; not written by gghl-export")
        return json.loads(raw), sess

    def _load_torchscript(self) -> tuple[dict[str, Any], Any]:
        extra = {TS_META_FILE: ""}
        ctx = quiet_trace()
        try:
            module = torch.jit.load(str(self.path), map_location="cpu", _extra_files=extra)
        except Exception as e:  # RuntimeError for a non-TorchScript zip, ValueError etc.
            raise ExportedModelError(f"{self.path}: not a TorchScript file ({type(e).__name__}: {e})") from e
        finally:
            ctx.__exit__(None, None, None)
        if not extra[TS_META_FILE]:
            raise ExportedModelError(f"{self.path}: no {TS_META_FILE}; not written by gghl-export")
        return json.loads(extra[TS_META_FILE]), module.eval()

    # ------------------------------------------------------------------ raw outputs
    def run(self, images: Tensor) -> dict[str, Tensor]:
        """Raw graph outputs by name for ``images [B,3,S,S]`` float in ``[0,1]`` (``B`` any when the model
        has a dynamic batch axis, else chunks of the exported batch are run and concatenated)."""
        if images.ndim != 4 or images.shape[1] != 3 or tuple(images.shape[-2:]) != (self.img_size,) * 2:
            raise ValueError(
                f"{self.path}: expects images [B, 3, {self.img_size}, {self.img_size}], got {tuple(images.shape)}"
            )
        images = images.detach().float().cpu().contiguous()
        step = images.shape[0] if self.meta.get("dynamic_batch") else int(self.meta.get("batch", 1))
        parts = [self._run_chunk(images[i : i + step]) for i in range(0, images.shape[0], step)]
        return {k: torch.cat([p[k] for p in parts]) for k in self.output_names}

    def _run_chunk(self, images: Tensor) -> dict[str, Tensor]:
        if self.format == "onnx":
            outs = self._session.run(list(self.output_names), {"images": images.numpy()})
            return {k: torch.from_numpy(np.asarray(v)) for k, v in zip(self.output_names, outs)}
        with torch.no_grad():
            outs = self._module(images)
        return dict(zip(self.output_names, outs))

    # ------------------------------------------------------------------ predictions
    def predict_batch(self, images: Tensor, targets: Any = None) -> list[dict[str, Tensor]]:
        """Per-image predictions in input pixels (see module docstring); ``targets`` is ignored."""
        out = self.run(images)
        return outputs_to_predictions(self.kind, out, self.post, self.score_thresh, self.nms_in_graph)


def outputs_to_predictions(
    kind: str,
    out: dict[str, Tensor],
    post: dict[str, Any],
    score_thresh: float | None,
    nms_in_graph: bool = False,
) -> list[dict[str, Tensor]]:
    """Per-image predictions from a wrapper's named outputs (shared by the exported and PyTorch runs).

    ``nms_in_graph`` (GGHL exported with ``nms=true``): the outputs are already the kept detections; the
    first ``num_dets`` rows are taken and no NMS runs here again.
    """
    if kind == "gghl" and nms_in_graph:
        return [
            graph_detections(p, s, lab, n, score_thresh)
            for p, s, lab, n in zip(out["polygons"], out["scores"], out["labels"], out["num_dets"])
        ]
    if kind == "gghl":
        return [
            gghl_detections(
                p,
                s,
                lab,
                score_thresh if score_thresh is not None else post["score_thresh"],
                post["nms_thresh"],
                post["max_det"],
                post["pre_nms_topk"],
            )
            for p, s, lab in zip(out["polygons"], out["scores"], out["labels"])
        ]
    if kind == "query":
        return [
            query_detections(b, s, lab, score_thresh)
            for b, s, lab in zip(out["boxes"], out["scores"], out["labels"])
        ]
    return [{"probs": p, "logits": lg} for p, lg in zip(out["probs"], out["logits"])]
