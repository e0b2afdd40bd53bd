"""Mixup of two samples with per-object loss weights, as GGHL does (docs/gghl.md#quirk-mixup-probability)."""

from __future__ import annotations

import numpy as np
import torch

from gghl.data.transforms._sample import PER_OBJECT_KEYS, Sample, check_sample, uniform

__all__ = ["mixup", "RandomMixup", "sample_beta"]


def _weights(sample: Sample) -> torch.Tensor:
    w = sample.get("weights")
    if w is None:
        return torch.ones(sample["polygons"].shape[0], dtype=torch.float32, device=sample["polygons"].device)
    return w.to(torch.float32)


def mixup(sample_a: Sample, sample_b: Sample, lam: float) -> Sample:
    """Blend ``lam * a + (1 - lam) * b`` and keep the objects of both.

    Images must have the same shape (letterbox both first). Objects are concatenated ``a`` then
    ``b``; ``weights`` become ``lam * w_a`` and ``(1 - lam) * w_b`` (GGHL's mix weight, 1.0 by
    default, so exactly ``lam`` / ``1 - lam``). ``image_id``, ``orig_size`` and ``affine`` are ``a``'s:
    ``b``'s polygons are already in the shared current pixel frame.
    """
    check_sample(sample_a)
    check_sample(sample_b)
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"lam must be in [0, 1], got {lam}")
    ia, ib = sample_a["image"], sample_b["image"]
    if ia.shape != ib.shape:
        raise ValueError(f"mixup needs images of the same shape, got {tuple(ia.shape)} and {tuple(ib.shape)}")
    out = dict(sample_a)
    out["image"] = lam * ia + (1.0 - lam) * ib.to(ia.dtype)
    for key in PER_OBJECT_KEYS:
        if key == "weights":
            continue
        if key in sample_a or key in sample_b:
            if key not in sample_a or key not in sample_b:
                raise KeyError(f"mixup: {key!r} present in only one of the two samples")
            out[key] = torch.cat([sample_a[key], sample_b[key].to(sample_a[key].dtype)])
    out["weights"] = torch.cat([_weights(sample_a) * lam, _weights(sample_b) * (1.0 - lam)])
    for key in ("obb", "hbb"):
        out.pop(key, None)
    return out


def sample_beta(alpha: float, beta: float, generator: torch.Generator | None = None) -> float:
    """One draw from ``Beta(alpha, beta)``, reproducible from ``generator`` (numpy seeded from it)."""
    seed = int(torch.randint(0, 2**62, (), generator=generator))
    return float(np.random.default_rng(seed).beta(alpha, beta))


class RandomMixup:
    """GGHL's mixup policy: with probability ``p`` (0.7) mix with ``lam ~ Beta(alpha, alpha)``
    (alpha 1.5); otherwise return ``sample_a`` with its weights untouched (mix weight 1)."""

    def __init__(self, p: float = 0.7, alpha: float = 1.5) -> None:
        if alpha <= 0:
            raise ValueError(f"alpha must be > 0, got {alpha}")
        self.p, self.alpha = float(p), float(alpha)

    def __call__(
        self, sample_a: Sample, sample_b: Sample, generator: torch.Generator | None = None
    ) -> Sample:
        if uniform(generator) >= self.p:
            out = dict(sample_a)
            out["weights"] = _weights(sample_a)
            return out
        return mixup(sample_a, sample_b, sample_beta(self.alpha, self.alpha, generator))
