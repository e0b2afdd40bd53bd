"""Box parameterisation of the AdaMixer / StageInteractor decoder (docs/stageinteractor.md#network).

``xyzr = (x, y, z, r)``: centre in pixels, ``z = log2(sqrt(w*h))`` (log scale), ``r = log2(h/w)``
(log aspect ratio). Hence ``w = 2^(z - r/2)`` and ``h = 2^(z + r/2)``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from gghl.structures.hbb import box_iof


def xyzr_to_xyxy(xyzr: Tensor) -> Tensor:
    """``[..., 4]`` (x, y, z, r) -> ``[..., 4]`` absolute xyxy."""
    x, y, z, r = xyzr.unbind(-1)
    w = torch.pow(2.0, z - r / 2)
    h = torch.pow(2.0, z + r / 2)
    return torch.stack([x - w / 2, y - h / 2, x + w / 2, y + h / 2], -1)


def xyxy_to_xyzr(boxes: Tensor) -> Tensor:
    """``[..., 4]`` xyxy (positive size) -> ``[..., 4]`` (x, y, z, r)."""
    w = (boxes[..., 2] - boxes[..., 0]).clamp(min=1e-6)
    h = (boxes[..., 3] - boxes[..., 1]).clamp(min=1e-6)
    x = (boxes[..., 0] + boxes[..., 2]) / 2
    y = (boxes[..., 1] + boxes[..., 3]) / 2
    return torch.stack([x, y, 0.5 * torch.log2(w * h), torch.log2(h / w)], -1)


def refine_xyzr(xyzr: Tensor, delta: Tensor, scale_xy_by_wh: bool = True) -> Tensor:
    """Apply predicted deltas ``[..., 4]`` (dx, dy, dz, dr).

    StageInteractor (``scale_xy_by_wh=True``): ``x += dx*w``, ``y += dy*h``; AdaMixer scales both by ``2^z``.
    """
    x, y, z, r = xyzr.unbind(-1)
    dx, dy, dz, dr = delta.unbind(-1)
    if scale_xy_by_wh:
        sx, sy = torch.pow(2.0, z - r / 2), torch.pow(2.0, z + r / 2)
    else:
        sx = sy = torch.pow(2.0, z)
    return torch.stack([x + dx * sx, y + dy * sy, z + dz, r + dr], -1)


def whole_image_xyzr(img_wh: Tensor, num_queries: int) -> Tensor:
    """Initial boxes covering the whole image: ``img_wh [B, 2]`` -> ``[B, N, 4]`` (not learnable; float32, or
    float64 for a float64 ``img_wh``)."""
    dtype = torch.promote_types(img_wh.dtype, torch.float32)
    w, h = img_wh[:, 0].to(dtype), img_wh[:, 1].to(dtype)
    xyzr = torch.stack([w / 2, h / 2, 0.5 * torch.log2(w * h), torch.log2(h / w)], -1)
    return xyzr[:, None, :].expand(-1, num_queries, -1).contiguous()


def position_embedding(xyzr: Tensor, dim: int, temperature: float = 10000.0) -> Tensor:
    """Sine/cosine embedding ``[B, N, 4]`` -> ``[B, N, dim]`` (``dim/4`` per coordinate).

    x and y are divided by 1000 (pixel scale), z and r are used as they are.
    """
    per = dim // 4
    scale = xyzr.new_tensor([1000.0, 1000.0, 1.0, 1.0])
    t = torch.arange(per, dtype=torch.float32, device=xyzr.device)
    t = temperature ** (2 * torch.div(t, 2, rounding_mode="floor") / per)
    pos = (xyzr / scale)[..., None] / t  # [B, N, 4, per]
    pos = torch.stack([pos[..., 0::2].sin(), pos[..., 1::2].cos()], -1).flatten(-2)
    return pos.flatten(-2)


def iof_attention_bias(xyxy: Tensor, tau: Tensor) -> Tensor:
    """Additive self-attention bias ``log(IoF(box_i, box_j) + 1e-7) * tau_h``.

    Args:
        xyxy: ``[B, N, 4]`` boxes; tau: ``[H]`` per-head temperature.
    Returns:
        ``[B*H, N, N]`` float mask for ``nn.MultiheadAttention(attn_mask=...)``.
    """
    b, n, _ = xyxy.shape
    bias = torch.log(box_iof(xyxy, xyxy) + 1e-7)  # [B, N, N]
    return (bias[:, None] * tau.view(1, -1, 1, 1)).reshape(b * tau.numel(), n, n)
