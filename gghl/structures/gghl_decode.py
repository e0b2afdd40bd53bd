"""GGHL box decoding (docs/gghl.md#head-and-decode): raw head logits -> ORC boxes (HBB, ratios ``s``, area ratio ``r``, distances, scores).

One function for the JOL loss (``gghl.losses.jol``), inference (``gghl.models.gghl_postprocess``) and the
exported graph (``gghl.export.modules``), so training and inference decode identically. It lives in
``structures`` rather than beside the head (``gghl.models.heads.gghl_head``, whose output layout it reads)
because it is a pure function of tensors that the losses need too, and losses sit below models: the box
coder is the lowest layer both may import, as ``orc.py`` is for the ORC polygons it produces.

Raw head output per level: ``[B, 10 + C, G, G]`` with channels ``[0:4] t_l (top, right, bottom, left),
[4:8] t_s, [8] t_r, [9] t_conf, [10:] t_cls``. Cell ``(i, j)`` = (col, row) has centre
``(i*s + s/2, j*s + s/2)`` in input-image pixels (x right, y down).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["decode_gghl_level", "decode_gghl", "decoded_to_polygons", "DECODED_CHANNELS"]

#: Names of the decoded channels before the ``C`` class probabilities.
DECODED_CHANNELS = ("cx", "cy", "w", "h", "s1", "s2", "s3", "s4", "r", "l1", "l2", "l3", "l4", "conf")


def decode_gghl_level(raw_level: Tensor, stride: int) -> Tensor:
    """Decode one level's raw logits.

    Args:
        raw_level: ``[B, 10 + C, G_y, G_x]`` raw head output (any float dtype, any device).
        stride: the level's stride ``s`` in pixels.

    Returns:
        ``[B, G_y, G_x, 14 + C]`` = ``[cx, cy, w, h (HBB, px), s1..s4, r, l1..l4 (px), conf, prob(C)]`` with
        ``l = exp(t_l)*s``, ``s_hat = (clamp(sigmoid(t_s), .01, 1) - .01)/.99``, ``r_hat = ReLU6(t_r + 3)/6``,
        ``s_hat := 0`` where ``r_hat > 0.9`` (docs/gghl.md#quirk-rectangularity-switch),
        ``conf = sigmoid(t_conf)``, ``prob = sigmoid(t_cls)``.
    """
    if raw_level.ndim != 4 or raw_level.shape[1] < 10:
        raise ValueError(f"raw level must be [B, 10+C, G, G], got {tuple(raw_level.shape)}")
    p = raw_level.permute(0, 2, 3, 1)
    _, gy, gx, _ = p.shape
    ys = torch.arange(gy, device=p.device, dtype=p.dtype)
    xs = torch.arange(gx, device=p.device, dtype=p.dtype)
    cy = (ys * stride + stride / 2)[None, :, None]
    cx = (xs * stride + stride / 2)[None, None, :]
    l = torch.exp(p[..., 0:4]) * stride
    xmin = cx - l[..., 3]
    ymin = cy - l[..., 0]
    xmax = cx + l[..., 1]
    ymax = cy + l[..., 2]
    xywh = torch.stack([(xmin + xmax) / 2, (ymin + ymax) / 2, xmax - xmin, ymax - ymin], dim=-1)
    s_hat = (torch.sigmoid(p[..., 4:8]).clamp(0.01, 1.0) - 0.01) / 0.99
    r_hat = F.relu6(p[..., 8:9] + 3) / 6
    s_hat = torch.where(r_hat > 0.9, torch.zeros_like(s_hat), s_hat)
    conf = torch.sigmoid(p[..., 9:10])
    prob = torch.sigmoid(p[..., 10:])
    return torch.cat([xywh, s_hat, r_hat, l, conf, prob], dim=-1)


def decode_gghl(raw: list[Tensor], strides: tuple[int, ...] | list[int]) -> Tensor:
    """Decode every level and concatenate them, row-major per level: ``[B, sum_k G_k^2, 14 + C]``.

    The evaluation layout of docs/gghl.md#head-and-decode (official code: batch 1 only; any ``B`` works here).
    """
    if len(raw) != len(strides):
        raise ValueError(f"{len(raw)} levels but {len(strides)} strides")
    return torch.cat([decode_gghl_level(r, s).flatten(1, 2) for r, s in zip(raw, strides)], dim=1)


def decoded_to_polygons(decoded: Tensor) -> Tensor:
    """ORC polygons ``[..., 8]`` (top, right, bottom, left vertex; image pixels) of decoded predictions.

    ``p1 = (xmin + s1 w, ymin), p2 = (xmax, ymin + s2 h), p3 = (xmax - s3 w, ymax), p4 = (xmin, ymax - s4 h)``
    (docs/gghl.md#orc); ``s`` is already 0 where ``r_hat > 0.9``, which yields the HBB corners.
    """
    cx, cy, w, h = decoded[..., 0], decoded[..., 1], decoded[..., 2], decoded[..., 3]
    xmin, ymin, xmax, ymax = cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
    s1, s2, s3, s4 = decoded[..., 4:8].unbind(-1)
    return torch.stack(
        [xmin + s1 * w, ymin, xmax, ymin + s2 * h, xmax - s3 * w, ymax, xmin, ymax - s4 * h], dim=-1
    )
