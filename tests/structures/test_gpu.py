"""CUDA parity of the box functions and the resampling transforms (run by the GPU check script)."""

from __future__ import annotations

import math

import pytest
import torch

from gghl.data.transforms import clip_to_image, letterbox, rotate
from gghl.structures import canonicalize_obb, obb_to_hbb, obb_to_poly, poly_area, poly_to_obb

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"),
]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_structures_cuda_match_cpu(dtype: torch.dtype) -> None:
    g = torch.Generator().manual_seed(0)
    obb = torch.rand(10000, 5, generator=g, dtype=torch.float64) * torch.tensor([4000, 4000, 300, 300, 20])
    obb = obb.to(dtype)
    poly = obb_to_poly(obb)
    torch.testing.assert_close(obb_to_hbb(obb.cuda()).cpu(), obb_to_hbb(obb), atol=1e-2, rtol=1e-5)
    c_cpu, c_gpu = canonicalize_obb(obb), canonicalize_obb(obb.cuda()).cpu()
    torch.testing.assert_close(c_gpu[:, :4], c_cpu[:, :4])
    # Angles agree modulo pi (an angle within an ulp of -pi/2 may wrap to the other end on one device).
    da = torch.remainder(c_gpu[:, 4] - c_cpu[:, 4] + math.pi / 2, math.pi) - math.pi / 2
    assert float(da.abs().max()) < (1e-5 if dtype == torch.float32 else 1e-12)
    tol = 1e-3 if dtype == torch.float32 else 1e-9
    cpu, gpu = poly_to_obb(poly), poly_to_obb(poly.cuda()).cpu()
    assert gpu.dtype == dtype
    # Corner sets agree (the angle may sit on the other side of a wrap for near-squares).
    d = (obb_to_poly(cpu).reshape(-1, 4, 1, 2) - obb_to_poly(gpu).reshape(-1, 1, 4, 2)).norm(dim=-1)
    assert float(d.amin(-1).amax()) < 50 * tol
    torch.testing.assert_close(poly_area(poly.cuda()).cpu(), poly_area(poly), atol=tol * 100, rtol=1e-5)


def test_transforms_on_cuda_sample() -> None:
    h, w = 96, 128
    img = torch.rand(3, h, w, generator=torch.Generator().manual_seed(1))
    polys = obb_to_poly(
        torch.tensor([[64.0, 48.0, 40.0, 20.0, 0.4], [120.0, 10.0, 30.0, 20.0, 0.0]], dtype=torch.float64)
    )
    base = {
        "image": img,
        "polygons": polys,
        "labels": torch.tensor([0, 1]),
        "difficult": torch.zeros(2, dtype=torch.bool),
        "weights": torch.ones(2),
        "affine": torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], dtype=torch.float64),
    }
    cuda = {k: (v.cuda() if isinstance(v, torch.Tensor) else v) for k, v in base.items()}
    for fn in (
        lambda s: rotate(s, math.radians(25), mode="nearest"),
        lambda s: letterbox(s, 160),
        clip_to_image,
    ):
        a, b = fn(base), fn(cuda)
        assert b["image"].is_cuda and b["polygons"].is_cuda
        torch.testing.assert_close(b["polygons"].cpu(), a["polygons"], atol=1e-6, rtol=0)
        torch.testing.assert_close(b["affine"].cpu(), a["affine"])
        torch.testing.assert_close(b["image"].cpu(), a["image"], atol=1e-4, rtol=0)
