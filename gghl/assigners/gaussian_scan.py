"""Exact segmented scans over 1-D tensors sorted by segment key (used by the batched OLA).

Both run on any device without a Python loop over elements: the max scan is a Hillis-Steele doubling scan
(``ceil(log2(longest segment))`` vectorised steps), the sum scan is a global cumsum minus its value at the
segment start. No value offsets are added, so float comparisons stay bit-exact.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["segment_starts", "segmented_exclusive_cummax", "segmented_exclusive_cumsum"]


def segment_starts(keys: Tensor) -> Tensor:
    """For sorted ``keys`` ``[P]`` int64, the index of the first element of each element's segment ``[P]``."""
    idx = torch.arange(keys.numel(), device=keys.device)
    new = torch.ones_like(keys, dtype=torch.bool)
    new[1:] = keys[1:] != keys[:-1]
    return torch.cummax(torch.where(new, idx, torch.zeros_like(idx)), dim=0).values


def segmented_exclusive_cummax(values: Tensor, starts: Tensor, fill: float) -> Tensor:
    """``out[k] = max(values[starts[k]:k])`` (``fill`` for a segment's first element), shape ``[P]``."""
    n = values.numel()
    if n == 0:
        return values.clone()
    idx = torch.arange(n, device=values.device)
    longest = int((idx - starts).max()) + 1
    inc = values.clone()
    d = 1
    while d < longest:
        shifted = torch.full_like(inc, fill)
        shifted[d:] = inc[:-d]
        inc = torch.where(idx - d >= starts, torch.maximum(inc, shifted), inc)
        d *= 2
    out = torch.full_like(inc, fill)
    out[1:] = inc[:-1]
    return torch.where(idx > starts, out, torch.full_like(out, fill))


def segmented_exclusive_cumsum(values: Tensor, starts: Tensor) -> Tensor:
    """``out[k] = sum(values[starts[k]:k])`` for integer ``values`` ``[P]`` (exact, int64)."""
    v = values.to(torch.long)
    cs = torch.cumsum(v, dim=0)
    before_segment = cs[starts] - v[starts]
    return cs - v - before_segment
