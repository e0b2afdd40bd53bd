"""detection_collate: shapes, dtypes, canonical OBB, HBB, pass-through keys, size mismatch error."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gghl.data.collate import detection_collate, make_sample
from gghl.structures import obb_to_poly


def _sample(obbs: list[list[float]], image_id: str, size: int = 64) -> dict:
    polys = obb_to_poly(torch.tensor(obbs, dtype=torch.float64).reshape(-1, 5))
    img = np.zeros((size, size, 3), dtype=np.uint8)
    return make_sample(img, polys, np.arange(len(obbs)) % 3, np.zeros(len(obbs), bool), image_id)


def test_collate_shapes_and_derived_boxes() -> None:
    # second box given with w < h and a = 2.0 rad: collate must return the canonical le90 form
    s1 = _sample([[20.0, 30.0, 16.0, 6.0, 0.3], [40.0, 40.0, 5.0, 12.0, 2.0]], "a")
    s2 = _sample([], "b")
    s2["extra"] = "kept"
    images, targets = detection_collate([s1, s2])
    assert images.shape == (2, 3, 64, 64) and images.dtype == torch.float32
    t1, t2 = targets
    assert set(t1) == {
        "polygons",
        "labels",
        "difficult",
        "weights",
        "image_id",
        "orig_size",
        "affine",
        "obb",
        "hbb",
    }
    assert t1["obb"].dtype == torch.float32 and t1["obb"].shape == (2, 5)
    assert t1["polygons"].dtype == torch.float32 and t1["hbb"].dtype == torch.float32
    expect = torch.tensor([[20.0, 30.0, 16.0, 6.0, 0.3], [40.0, 40.0, 12.0, 5.0, 2.0 - math.pi / 2]])
    torch.testing.assert_close(t1["obb"], expect, atol=1e-4, rtol=0)
    assert bool((t1["obb"][:, 2] >= t1["obb"][:, 3]).all())
    assert bool(((t1["obb"][:, 4] >= -math.pi / 2) & (t1["obb"][:, 4] < math.pi / 2)).all())
    xy = t1["polygons"].reshape(-1, 4, 2)
    torch.testing.assert_close(t1["hbb"], torch.cat([xy.amin(1), xy.amax(1)], 1))
    assert t2["obb"].shape == (0, 5) and t2["hbb"].shape == (0, 4) and t2["extra"] == "kept"
    assert t1["labels"].dtype == torch.int64 and t1["difficult"].dtype == torch.bool
    assert t1["weights"].dtype == torch.float32 and t1["affine"].dtype == torch.float64
    assert t1["image_id"] == "a" and t1["orig_size"] == (64, 64)


def test_collate_rejects_mixed_sizes_and_empty() -> None:
    with pytest.raises(ValueError, match=r"a:\(3, 64, 64\).*b:\(3, 32, 32\)"):
        detection_collate([_sample([], "a"), _sample([], "b", size=32)])
    with pytest.raises(ValueError, match="empty batch"):
        detection_collate([])


def test_make_sample_validates_counts() -> None:
    with pytest.raises(ValueError, match="inconsistent object counts"):
        make_sample(np.zeros((4, 4, 3), np.uint8), np.zeros((2, 8)), np.zeros(3), None, "x")
    with pytest.raises(ValueError, match="expected an RGB image"):
        make_sample(np.zeros((4, 4), np.uint8), np.zeros((0, 8)), np.zeros(0), None, "x")
