"""Export a loaded checkpoint and check parity: what ``gghl-export`` runs."""

from __future__ import annotations

from pathlib import Path

from gghl.export.checkpoint_model import CheckpointModel
from gghl.export.exporter import FORMATS, export_onnx, export_torchscript
from gghl.export.graph_nms import GGHLNMSExportModule
from gghl.export.modules import GGHL_NMS_OUTPUTS, OUTPUTS
from gghl.export.parity import ParityReport, assert_parity, check_parity, synthetic_images
from gghl.export.runtime import ExportedModel
from gghl.export.wrapper import export_module
from gghl.tasks.restore import RestoredTask

SUFFIX = {"onnx": ".onnx", "torchscript": ".pt"}


def export_checkpoint(
    loaded: RestoredTask,
    fmt: str,
    output: str | Path,
    img_size: int | None = None,
    dynamic_batch: bool = False,
    nms: bool = False,
    nms_pre: int = 1000,
    opset: int = 17,
    parity_images: int = 3,
    tol: float = 1e-4,
    check: bool = True,
) -> tuple[Path, ParityReport | None]:
    """Export ``loaded`` to ``output`` in ``fmt`` and run the parity check on synthetic images.

    Args:
        img_size: fixed input side ``S`` (default: the training size); a multiple of 32 for detectors.
        dynamic_batch: symbolic batch axis (ONNX; the traced TorchScript graph follows the input batch too).
        nms: GGHL only. ``False`` (default): the graph returns decoded candidates for every anchor and the
            host runs rotated NMS (:mod:`gghl.export.postprocess`). ``True``: the graph also runs the threshold,
            top-``nms_pre`` and class-wise greedy rotated NMS (:mod:`gghl.export.graph_nms`, standard ONNX
            operators) and returns the kept detections padded to ``max_det`` plus ``num_dets``; this equals
            the checkpoint with ``pre_nms_topk = min(pre_nms_topk, nms_pre)`` (the parity reference then uses
            that value). The query detector and the classifier have no NMS (ignored).
        nms_pre: ``nms=true``: candidates kept before the in-graph NMS (a static size ``K``; the IoU matrix
            is ``K x K``).

    Returns:
        ``(path, report)``; ``report`` is ``None`` when ``check`` is false.

    Raises:
        ValueError: unknown format, bad size, ``nms_pre < 1``.
        ParityError: the exported model does not match PyTorch.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    graph_nms = bool(nms) and loaded.kind == "gghl"
    if graph_nms and int(nms_pre) < 1:
        raise ValueError(f"nms_pre must be >= 1 for nms=true, got {nms_pre}")
    size = int(img_size or loaded.img_size or 0)
    if size <= 0:
        raise ValueError("no input size: the checkpoint's data config has no img_size; pass img_size=")
    if loaded.kind in ("gghl", "query") and size % 32:
        raise ValueError(f"img_size must be a multiple of 32 for a detector (strides up to 32), got {size}")
    module, post = export_module(loaded)
    outputs = list(OUTPUTS[loaded.kind])
    if graph_nms:
        post = {**post, "nms_pre": int(nms_pre), "pre_nms_topk": min(int(post["pre_nms_topk"]), int(nms_pre))}
        module = GGHLNMSExportModule(
            module, post["score_thresh"], post["nms_thresh"], post["max_det"], post["pre_nms_topk"]
        ).eval()
        outputs = list(GGHL_NMS_OUTPUTS)
    meta = {
        "format_version": 1,
        "kind": loaded.kind,
        "class_names": loaded.class_names,
        "img_size": size,
        "batch": 1,
        "dynamic_batch": bool(dynamic_batch),
        "nms": graph_nms,
        "input": "images float32 [B,3,S,S] RGB in [0,1]",
        "outputs": outputs,
        "postprocess": post,
    }
    images = synthetic_images(max(parity_images, 1), size)
    out = Path(output)
    if fmt == "onnx":
        export_onnx(module, images[:1], out, meta, dynamic_batch=dynamic_batch, opset=opset)
    else:
        export_torchscript(module, images[:1], out, meta)
    if not check:
        return out, None
    exported = ExportedModel(out)
    reference = CheckpointModel(loaded, img_size=size, post=post)
    report = check_parity(module, reference, exported, images[:parity_images], tol)
    assert_parity(report)
    return out, report
