"""Parity of an exported model with PyTorch on the same (synthetic) images.

Two levels, both required:

1. raw outputs: the export wrapper run in PyTorch vs the exported graph, max abs difference of scores <= ``tol``
   and of boxes (GGHL polygons of the valid candidates, query boxes; in pixels) <= ``tol`` x the image side,
   i.e. ``tol`` in normalised coordinates (classifier logits: <= ``tol``); the query detector's top-K rows are
   paired per image by label and nearest values before comparing (:func:`paired_row_diff`), because two
   scores one float32 ulp apart swap ranks between runtimes;
   With ``nms=true`` (GGHL) the raw outputs are the graph's kept detections (padded, score ``-1``), so
   level 1 already compares the in-graph NMS with the same NMS run by the wrapper in PyTorch;
2. kept detections: the checkpoint's own inference path (:class:`~gghl.export.checkpoint_model.CheckpointModel`)
   vs the exported model + host post-processing (:class:`~gghl.export.runtime.ExportedModel`): the same number
   of detections with the same labels, scores within ``tol`` and coordinates within ``tol`` x the image side
   (classifier: the same arg-max class).

Why normalised boxes: a trained 3-stage query decoder refines boxes multiplicatively (log-scale deltas), and
eager PyTorch itself moves its 256-px boxes by 2.3e-4 px between a batch of 3 and three batches of 1 (float32
summation order); 1e-4 *pixels* is below the model's own noise, 1e-4 of the image side (DETR-style boxes) is
not. Both numbers are printed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import Tensor, nn

from gghl.export.checkpoint_model import CheckpointModel
from gghl.export.runtime import ExportedModel

SCORE_KEY = {"gghl": "scores", "query": "scores", "classifier": "probs"}
BOX_KEY = {"gghl": "polygons", "query": "boxes", "classifier": "logits"}


class ParityError(AssertionError):
    """The exported model does not reproduce PyTorch within tolerance; the message has the numbers."""


@dataclass
class ParityReport:
    """Numbers of one parity check (printed by ``gghl-export``)."""

    kind: str
    format: str
    images: int
    max_abs_scores: float
    max_abs_boxes: float
    kept_same: bool
    kept_torch: int
    kept_export: int
    max_abs_kept: float
    tol: float
    box_scale: float = 1.0  # image side in pixels for detectors (boxes compared in units of it), 1 otherwise
    nms_in_graph: bool = False  # GGHL exported with nms=true: kept detections come from the graph's NMS

    @property
    def max_norm_boxes(self) -> float:
        """``max_abs_boxes`` in units of the image side (normalised coordinates)."""
        return self.max_abs_boxes / self.box_scale

    @property
    def ok(self) -> bool:
        return self.kept_same and self.max_abs_scores <= self.tol and self.max_norm_boxes <= self.tol

    def line(self) -> str:
        """One summary line, e.g. ``parity gghl/onnx images=3 max_abs_scores=1.2e-07 ... kept_same=True``."""
        boxes = (
            f"max_abs_logits={self.max_abs_boxes:.3g} "
            if self.kind == "classifier"
            else f"max_abs_boxes={self.max_abs_boxes:.3g} (px; {self.max_norm_boxes:.3g} of the image side) "
        )
        return (
            f"parity {self.kind}/{self.format}{' nms=true' if self.nms_in_graph else ''} images={self.images} "
            f"max_abs_scores={self.max_abs_scores:.3g} "
            f"{boxes}"
            f"kept_torch={self.kept_torch} kept_export={self.kept_export} "
            f"max_abs_kept={self.max_abs_kept:.3g} kept_same={self.kept_same} tol={self.tol:g}"
        )

    def as_dict(self) -> dict:
        return {**asdict(self), "max_norm_boxes": self.max_norm_boxes, "ok": self.ok}


def synthetic_images(n: int, size: int, seed: int = 0) -> Tensor:
    """``n`` synthetic oriented-object scenes ``[n, 3, size, size]`` float32 in ``[0, 1]``."""
    from gghl.data.synthetic import SyntheticOrientedDataset

    ds = SyntheticOrientedDataset(n, img_size=size, seed=seed)
    arrays = [ds.render(i).image for i in range(n)]
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float().div(255.0).contiguous()


def _max_abs(a: Tensor, b: Tensor) -> float:
    if a.shape != b.shape:
        return float("inf")
    if a.numel() == 0:
        return 0.0
    return float((a.double() - b.double()).abs().max())


def paired_row_diff(
    ref: dict[str, Tensor], exp: dict[str, Tensor], tol: float, box_tol: float
) -> tuple[float, float]:
    """``(max |score diff|, max |box diff|)`` of two ranked query outputs (``scores [B, K]``, ``boxes [B, K, 4]``,
    ``labels [B, K]``), each reference row paired with the closest free exported row of the same label and image
    (closeness in units of ``tol`` / ``box_tol``). Rank order is ignored: the same top-K with two near-equal
    scores swapped compares equal. ``inf`` for other shapes or a row without a partner of its label.
    """
    rs, es, rb, eb = (
        ref["scores"].double(),
        exp["scores"].double(),
        ref["boxes"].double(),
        exp["boxes"].double(),
    )
    if rs.shape != es.shape or rb.shape != eb.shape:
        return float("inf"), float("inf")
    d_s = d_b = 0.0
    for i in range(rs.shape[0]):
        cost = torch.maximum(
            (rs[i][:, None] - es[i][None]).abs() / tol,
            (rb[i][:, None] - eb[i][None]).abs().amax(-1) / box_tol,
        )
        cost[ref["labels"][i].long()[:, None] != exp["labels"][i].long()[None]] = float("inf")
        used = torch.zeros(cost.shape[1], dtype=torch.bool)
        for k in range(cost.shape[0]):
            row = cost[k].masked_fill(used, float("inf"))
            j = int(row.argmin())
            if not torch.isfinite(row[j]):  # the label sets differ
                return float("inf"), float("inf")
            used[j] = True
            d_s = max(d_s, float((rs[i, k] - es[i, j]).abs()))
            d_b = max(d_b, float((rb[i, k] - eb[i, j]).abs().max()))
    return d_s, d_b


def match_detections(
    ref: dict[str, Tensor], exp: dict[str, Tensor], tol: float, box_tol: float | None = None
) -> tuple[bool, float]:
    """One-to-one match of two detection sets (label equal, score within ``tol``, polygon within ``box_tol``,
    default ``tol``).

    Order-free on purpose: near-equal scores (1e-9 apart) may swap places between runtimes without changing
    the kept set. Returns ``(matched, max abs difference over the matched pairs)``; ``inf`` when unmatched.
    """
    n = len(ref["scores"])
    if n != len(exp["scores"]):
        return False, float("inf")
    if n == 0:
        return True, 0.0
    # Coordinates are divided by box_tol / tol so one threshold (tol) tests both.
    k = 1.0 if box_tol is None else tol / box_tol
    a = torch.cat([ref["polygons"].double() * k, ref["scores"].double()[:, None]], 1)  # [K, 9]
    b = torch.cat([exp["polygons"].double() * k, exp["scores"].double()[:, None]], 1)
    diff = (a[:, None] - b[None]).abs().amax(-1)  # [K, K]
    diff[ref["labels"].long()[:, None] != exp["labels"].long()[None]] = float("inf")
    used = torch.zeros(n, dtype=torch.bool)
    worst = 0.0
    for i in range(n):  # greedy on the closest free partner; exact when detections are tol-separated
        row = diff[i].masked_fill(used, float("inf"))
        j = int(row.argmin())
        if not row[j] <= tol:
            return False, float(diff[i].min())
        used[j] = True
        worst = max(worst, float(row[j]))
    return True, worst


def check_parity(
    module: nn.Module, reference: CheckpointModel, exported: ExportedModel, images: Tensor, tol: float = 1e-4
) -> ParityReport:
    """Compare ``exported`` with ``module`` (raw outputs) and ``reference`` (detections) on ``images``.

    Returns the report; the caller decides to raise (:func:`assert_parity`).
    """
    kind = exported.kind
    with torch.no_grad():
        ref_raw = dict(zip(exported.output_names, module.eval()(images)))
    exp_raw = exported.run(images)
    sk, bk = SCORE_KEY[kind], BOX_KEY[kind]
    d_scores = _max_abs(ref_raw[sk], exp_raw[sk])
    box_scale = 1.0 if kind == "classifier" else float(images.shape[-1])
    if kind == "query":
        d_scores, d_boxes = paired_row_diff(ref_raw, exp_raw, tol, tol * box_scale)
    elif kind == "gghl":  # polygons of invalid candidates (score -1) may be inf/NaN on both sides
        valid = ref_raw["scores"] > -1
        same_valid = bool(torch.equal(valid, exp_raw["scores"] > -1))
        d_boxes = _max_abs(ref_raw[bk][valid], exp_raw[bk][valid]) if same_valid else float("inf")
    else:
        d_boxes = _max_abs(ref_raw[bk], exp_raw[bk])
    ref_pred = reference.predict_batch(images)
    exp_pred = exported.predict_batch(images)
    same, n_ref, n_exp, d_kept = True, 0, 0, 0.0
    for r, e in zip(ref_pred, exp_pred):
        if kind == "classifier":
            n_ref, n_exp = n_ref + 1, n_exp + 1
            same &= int(r["probs"].argmax()) == int(e["probs"].argmax())
            d_kept = max(d_kept, _max_abs(r["probs"], e["probs"]))
            continue
        n_ref, n_exp = n_ref + len(r["scores"]), n_exp + len(e["scores"])
        ok, d = match_detections(r, e, tol, tol * box_scale)
        same &= ok
        d_kept = max(d_kept, d)
    return ParityReport(
        kind,
        exported.format,
        int(images.shape[0]),
        d_scores,
        d_boxes,
        bool(same),
        n_ref,
        n_exp,
        d_kept,
        tol,
        box_scale,
        bool(getattr(exported, "nms_in_graph", False)),
    )


def assert_parity(report: ParityReport) -> None:
    """Raise :class:`ParityError` naming every failed criterion."""
    if report.ok:
        return
    why = []
    if report.max_abs_scores > report.tol:
        why.append(f"scores differ by {report.max_abs_scores:.3g} > {report.tol:g}")
    if report.max_norm_boxes > report.tol:
        why.append(
            f"boxes differ by {report.max_abs_boxes:.3g} px = {report.max_norm_boxes:.3g} of the image side > {report.tol:g}"
        )
    if not report.kept_same:
        why.append(
            f"kept detections differ ({report.kept_torch} PyTorch vs {report.kept_export} exported, "
            f"max abs {report.max_abs_kept:.3g})"
        )
    raise ParityError(
        f"export parity failed ({report.kind}/{report.format}): " + "; ".join(why) + "\n" + report.line()
    )
