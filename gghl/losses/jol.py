"""GGHL joint-optimisation loss (JOL), docs/gghl.md#jol-loss (official ``modelR/loss/loss.py`` at a82e8a2).

Inputs per level ``k`` (stride ``s_k``, grid ``G_k``):

* ``raw[k]``: ``[B, 10 + C, G, G]`` raw head logits (channel order of docs/gghl.md#head-and-decode, decoded by
  ``gghl.structures.gghl_decode.decode_gghl_level``);
* ``maps[k]``: ``[B, G, G, 16 + C]`` OLA targets (docs/gghl.md#ola-label-assignment); cast to the logits'
  dtype and device.

Normalisation: every term sums over cells and classes of image ``b``, divides by that image's
``N_b = max(sum of objectness, 1)`` on that level, sums over images and divides by ``B`` — so a batch of
identical images gives the loss of one image. Terms are summed over levels.

Background cells carry all-zero label boxes; their IoU/ratio terms are multiplied by ``m = 0`` as in the
official code, but the label box there is replaced by a unit box first so that no ``0/0`` appears (a NaN
would survive the multiplication by zero, in the value and in the gradient). Values on positive cells are
unchanged, hence parity with the official numbers.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gghl.losses.focal import focal_bce_with_logits, safe_logit
from gghl.structures.gghl_decode import decode_gghl_level
from gghl.structures.hbb import aligned_iou_cxcywh

__all__ = ["JOLLoss", "LOSS_KEYS"]

LOSS_KEYS = ("loss_fg", "loss_bg", "loss_pos", "loss_neg", "loss_iou", "loss_s", "loss_r", "loss_l")
DELTA = 0.01  # label smoothing of objectness and class targets
SCALE_FACTOR = 2.0  # lambda_box = SCALE_FACTOR - w*h / S_img^2


class JOLLoss(nn.Module):
    """GGHL JOL loss.

    Args:
        num_classes: ``C``.
        strides: one stride per level, matching ``raw`` / ``maps`` order.
        iou_type: ``"giou"`` (official HEAD) or ``"ciou"`` (Nov-2021 configs) for ``E_iou``.
        detach_w_dyn: stop the gradient of the dynamic weight ``w_dyn`` (the official code does not,
            docs/gghl.md#quirk-undetached-dynamic-weight: regression losses then lower the class logits).
        nonfinite: what to do when an input holds NaN/inf or the total loss is not finite:
            ``"raise"`` (default) raises ``FloatingPointError`` naming the tensor and level;
            ``"flag"`` returns zero losses that keep the graph (zero gradients) plus ``"nonfinite": True``
            so a training step can be skipped; ``"ignore"`` computes as is (no device sync).

    Half / bfloat16 logits (AMP) are upcast to float32 before the decode; float64 stays float64.

    ``forward`` returns a dict with ``loss`` (= sum of the 8 terms), ``loss_fg, loss_bg, loss_pos, loss_neg,
    loss_iou, loss_s, loss_r, loss_l``, ``loss_cls`` (logged only, not in ``loss``) and ``num_pos`` (sum of
    objectness over the batch and levels, detached); with ``nonfinite="flag"`` also ``nonfinite``.
    """

    def __init__(
        self,
        num_classes: int,
        strides: tuple[int, ...] = (8, 16, 32),
        iou_type: str = "giou",
        detach_w_dyn: bool = False,
        nonfinite: str = "raise",
    ) -> None:
        super().__init__()
        if iou_type not in ("giou", "ciou"):
            raise ValueError(f"iou_type must be 'giou' or 'ciou', got {iou_type!r}")
        if nonfinite not in ("raise", "flag", "ignore"):
            raise ValueError(f"nonfinite must be 'raise', 'flag' or 'ignore', got {nonfinite!r}")
        self.num_classes = int(num_classes)
        self.strides = tuple(int(s) for s in strides)
        self.iou_type = iou_type
        self.detach_w_dyn = detach_w_dyn
        self.nonfinite = nonfinite

    def forward(self, raw: list[Tensor], maps: list[Tensor]) -> dict[str, Tensor]:
        if len(raw) != len(self.strides) or len(maps) != len(self.strides):
            raise ValueError(f"expected {len(self.strides)} levels, got {len(raw)} raw and {len(maps)} maps")
        bad = self._find_nonfinite(raw, maps) if self.nonfinite != "ignore" else None
        if bad is not None:
            if self.nonfinite == "raise":
                raise FloatingPointError(f"JOLLoss: non-finite values in {bad}")
            return self._flagged(raw)
        acc = torch.float32 if raw[0].dtype in (torch.float16, torch.bfloat16) else raw[0].dtype
        terms = {k: raw[0].new_zeros((), dtype=acc) for k in (*LOSS_KEYS, "loss_cls", "num_pos")}
        for k, (r, m) in enumerate(zip(raw, maps)):
            if r.dtype in (torch.float16, torch.bfloat16):  # AMP: exp(t_l) and the BCEs need float32 range
                r = r.float()
            level = self._level(r, m.to(device=r.device, dtype=r.dtype), self.strides[k])
            for key, val in level.items():
                terms[key] = terms[key] + val
        total = sum(terms[k] for k in LOSS_KEYS)
        if self.nonfinite != "ignore" and not bool(torch.isfinite(total)):
            detail = ", ".join(f"{k}={float(terms[k]):.4g}" for k in LOSS_KEYS)
            if self.nonfinite == "raise":
                raise FloatingPointError(f"JOLLoss: non-finite total loss from finite inputs ({detail})")
            return self._flagged(raw)
        out = {"loss": total, **terms}
        if self.nonfinite == "flag":
            out["nonfinite"] = torch.zeros((), dtype=torch.bool, device=total.device)
        return out

    @staticmethod
    def _find_nonfinite(raw: list[Tensor], maps: list[Tensor]) -> str | None:
        for name, tensors in (("raw", raw), ("maps", maps)):
            for k, t in enumerate(tensors):
                n_bad = int((~torch.isfinite(t)).sum())
                if n_bad:
                    return f"{name}[{k}] ({n_bad} of {t.numel()} entries, shape {tuple(t.shape)})"
        return None

    @staticmethod
    def _flagged(raw: list[Tensor]) -> dict[str, Tensor]:
        zero = sum(torch.nan_to_num(r, nan=0.0, posinf=0.0, neginf=0.0).sum() * 0 for r in raw)
        out = {k: zero.clone() for k in ("loss", *LOSS_KEYS, "loss_cls", "num_pos")}
        out["nonfinite"] = torch.ones((), dtype=torch.bool, device=zero.device)
        return out

    def _level(self, raw: Tensor, lab: Tensor, stride: int) -> dict[str, Tensor]:
        """All JOL terms of one level (already divided by B and the per-image N_b)."""
        B, _, G, _ = raw.shape
        C = self.num_classes
        if raw.shape[1] != 10 + C or lab.shape != (B, G, G, 16 + C):
            raise ValueError(f"level shapes {tuple(raw.shape)} / {tuple(lab.shape)} do not match C={C}")
        pd = decode_gghl_level(raw, stride)
        p = raw.permute(0, 2, 3, 1)
        t_conf, t_cls = p[..., 9], p[..., 10:]
        m, mix, aw = lab[..., 13], lab[..., 14], lab[..., 15]
        heat = lab[..., 16:]
        g_h = heat.amax(-1)
        P = (heat != 0).to(raw.dtype)
        y_conf = m * (1 - DELTA) + DELTA / 2
        y_c = P * (1 - DELTA) + DELTA / C
        aw2 = aw + (1 - m)
        s_img = stride * G
        lam = SCALE_FACTOR - lab[..., 2] * lab[..., 3] / s_img**2

        pos = (m > 0).unsqueeze(-1)
        unit = torch.tensor([0.0, 0.0, 1.0, 1.0], dtype=raw.dtype, device=raw.device)
        lab_box = torch.where(pos, lab[..., 0:4], unit)  # background: any finite box, weighted by m = 0
        e_iou = lam * (1 - aligned_iou_cxcywh(pd[..., 0:4], lab_box, self.iou_type))
        e_s = ((pd[..., 4:8] - lab[..., 8:12]) ** 2).sum(-1)
        e_r = (pd[..., 8] - lab[..., 12]) ** 2
        q_loc = torch.exp(-(e_iou + e_s + e_r))

        n_b = m.flatten(1).sum(1).clamp_min(1).view(B, 1, 1)
        w_img = mix / n_b / B  # per-cell weight: mix, 1/N_b, 1/B
        focal = focal_bce_with_logits(t_conf, y_conf)
        loss_fg = 2 * (m * focal * w_img * (g_h + q_loc.detach()) / 2).sum()
        loss_bg = 2 * ((1 - m) * focal * w_img).sum()

        cls_w = (m * w_img * aw2).unsqueeze(-1)
        q_cls = torch.sigmoid(t_cls) * q_loc.unsqueeze(-1)
        bce_q = F.binary_cross_entropy_with_logits(safe_logit(q_cls), y_c, reduction="none")
        bce_t = F.binary_cross_entropy_with_logits(t_cls, y_c, reduction="none")
        loss_pos = (P * bce_q * cls_w).sum()
        loss_neg = ((1 - P) * bce_t * cls_w).sum()
        loss_cls = (bce_t * cls_w).sum()

        w_dyn = ((P * torch.sigmoid(t_cls)).sum(-1) + g_h) / 2
        if self.detach_w_dyn:
            w_dyn = w_dyn.detach()
        reg_w = m * w_img * aw2 * w_dyn
        l1 = F.smooth_l1_loss(pd[..., 9:13] / stride, lab[..., 4:8] / stride, reduction="none", beta=1.0)
        return {
            "loss_fg": loss_fg,
            "loss_bg": loss_bg,
            "loss_pos": loss_pos,
            "loss_neg": loss_neg,
            "loss_iou": (e_iou * reg_w).sum(),
            "loss_s": (e_s * reg_w).sum(),
            "loss_r": 16 * (e_r * reg_w).sum(),
            "loss_l": 0.2 * (lam * l1.sum(-1) * reg_w).sum(),
            "loss_cls": loss_cls,
            "num_pos": m.detach().sum(),
        }
