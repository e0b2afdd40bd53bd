"""The C++ CPU kernel against the reference and exact geometry; fallback; torch.compile; Triton logic."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from ops_cases import TOL, adversarial_pairs, clustered_boxes, oracle_box_iou, random_boxes, stress_pairs

import gghl.ops as ops
from gghl.ops import _cpu
from gghl.ops._nms_reference import batched_nms_rotated_ref
from gghl.ops._reference import box_iou_rotated_ref, poly_iou_ref
from gghl.structures import obb_to_poly

needs_cpp = pytest.mark.skipif(_cpu.get_lib() is None, reason="no C++ compiler: fast CPU path unavailable")


@needs_cpp
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_cpp_matches_oracle_and_reference(dtype):
    a1, a2 = (b.to(dtype) for b in adversarial_pairs())
    got = _cpu.pairwise_iou("box", a1, a2, aligned=True)
    assert (got.double() - oracle_box_iou(a1, a2, aligned=True)).abs().max() <= TOL[dtype]
    s1, s2 = (b.to(dtype) for b in stress_pairs(1200, seed=8))
    got = _cpu.pairwise_iou("box", s1, s2, aligned=True)
    assert (got.double() - oracle_box_iou(s1, s2, aligned=True)).abs().max() <= TOL[dtype]
    b1 = random_boxes(150, 8, img=300.0).to(dtype)
    b2 = random_boxes(100, 9, img=300.0).to(dtype)
    fast = _cpu.pairwise_iou("box", b1, b2, aligned=False)
    assert (fast.double() - oracle_box_iou(b1, b2)).abs().max() <= TOL[dtype]
    # Fast path equals the reference (the C++ kernel works in double, so f32 differs by f32 rounding).
    assert (fast.double() - box_iou_rotated_ref(b1, b2).double()).abs().max() <= {
        torch.float64: 1e-12,
        torch.float32: 1e-4,
    }[dtype]


@needs_cpp
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_cpp_poly_matches_reference(dtype):
    p1 = obb_to_poly(random_boxes(80, 10, img=250.0)).reshape(-1, 4, 2)
    p2 = obb_to_poly(random_boxes(70, 11, img=250.0)).reshape(-1, 4, 2).flip(1).roll(1, dims=1)  # clockwise
    p1, p2 = p1.reshape(-1, 8).to(dtype), p2.reshape(-1, 8).to(dtype)
    fast = _cpu.pairwise_iou("poly", p1, p2, aligned=False)
    assert (fast.double() - poly_iou_ref(p1, p2).double()).abs().max() <= TOL[dtype] / 10
    fast_al = _cpu.pairwise_iou("poly", p1[:70], p2, aligned=True)
    assert torch.equal(fast_al, fast[:70].diagonal())


@needs_cpp
def test_cpp_nms_matches_reference():
    boxes, scores = clustered_boxes(250, seed=21)
    idxs = torch.randint(0, 3, (250,), generator=torch.Generator().manual_seed(1))
    for thr in (0.1, 0.5):
        assert (
            ops.nms_rotated(boxes, scores, thr).tolist()
            == batched_nms_rotated_ref(boxes, scores, None, thr).tolist()
        )
        want = batched_nms_rotated_ref(boxes, scores, idxs, thr).tolist()
        assert ops.batched_nms_rotated(boxes, scores, idxs, thr).tolist() == want


def test_fallback_without_compiler(monkeypatch):
    monkeypatch.setattr(_cpu, "get_lib", lambda: None)
    b1, b2 = random_boxes(30, 4, img=150.0), random_boxes(20, 5, img=150.0)
    assert (ops.box_iou_rotated(b1, b2) - oracle_box_iou(b1, b2)).abs().max() <= 1e-6
    boxes, scores = clustered_boxes(100, seed=2)
    assert (
        ops.nms_rotated(boxes, scores, 0.3).tolist()
        == batched_nms_rotated_ref(boxes, scores, None, 0.3).tolist()
    )


def test_broken_compiler_warns_and_falls_back(tmp_path):
    code = (
        "import warnings, torch\n"
        "from gghl.ops import box_iou_rotated, _cpu\n"
        "b = torch.tensor([[0.0, 0, 10, 10, 0], [5.0, 0, 10, 10, 0]])\n"
        "with warnings.catch_warnings(record=True) as w:\n"
        "    warnings.simplefilter('always')\n"
        "    iou = box_iou_rotated(b, b)\n"
        "assert _cpu.get_lib() is None\n"
        "assert any('pure-torch reference' in str(x.message) for x in w), [str(x.message) for x in w]\n"
        "assert abs(iou[0, 1].item() - 1 / 3) < 1e-6\n"
        "print('ok')\n"
    )
    env = dict(os.environ, CXX=str(tmp_path / "no-such-c++"), GGHL_OPS_CACHE=str(tmp_path / "cache"))
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "ok" in res.stdout, res.stdout + res.stderr


def test_torch_compile_aot_eager():
    # fullgraph: the custom ops must be captured (fake impls), not cause graph breaks.
    def f(a, b):
        return ops.box_iou_rotated(a, b).amax(dim=1) * 2 + ops.poly_iou(
            obb_to_poly(a), obb_to_poly(a), aligned=True
        )

    b1, b2 = random_boxes(20, 6, img=150.0).float(), random_boxes(15, 7, img=150.0).float()
    got = torch.compile(f, backend="aot_eager", fullgraph=True)(b1, b2)
    assert torch.allclose(got, f(b1, b2))


@pytest.mark.slow
def test_torch_compile_inductor():
    def f(a, b, s):
        keep = ops.nms_rotated(a, s, 0.3)
        return ops.box_iou_rotated(a, b).amax(dim=1).sum() + keep.numel()

    b1, b2 = random_boxes(20, 6, img=150.0).float(), random_boxes(15, 7, img=150.0).float()
    s = torch.rand(20)
    torch._dynamo.config.capture_dynamic_output_shape_ops = True
    got = torch.compile(f)(b1, b2, s)
    assert torch.allclose(got, f(b1, b2, s))


def test_triton_kernel_interpreted():
    """The Triton kernel's logic on CPU (TRITON_INTERPRET=1 must be set before importing triton)."""
    pytest.importorskip("triton")
    code = textwrap.dedent(
        """
        import sys, torch
        sys.path.insert(0, sys.argv[1])
        from ops_cases import adversarial_pairs, oracle_box_iou, random_boxes, stress_pairs
        from gghl.ops import _triton
        from gghl.structures import obb_to_poly
        assert _triton.available(interpret=True)
        a1, a2 = adversarial_pairs()
        s1, s2 = stress_pairs(24, seed=3)
        a1, a2 = torch.cat([a1[::7], s1]), torch.cat([a2[::7], s2])
        for sort in (True, False):  # tl.sort/tl.gather kernel and the rank-counting fallback
            _triton._SORT = sort
            for dt, tol in ((torch.float64, 1e-6), (torch.float32, 2e-3)):
                got = _triton.pairwise_iou("box", a1.to(dt), a2.to(dt), True)
                err = (got.double() - oracle_box_iou(a1.to(dt), a2.to(dt), True)).abs().max().item()
                assert err <= tol, (sort, dt, err)
            assert _triton._SORT == sort  # no silent fallback
        _triton._SORT = True
        b1, b2 = random_boxes(9, 1, img=120.0), random_boxes(7, 2, img=120.0)
        got = _triton.pairwise_iou("box", b1, b2, False)
        assert (got - oracle_box_iou(b1, b2)).abs().max().item() <= 1e-6
        p1, p2 = obb_to_poly(b1), obb_to_poly(b2).reshape(-1, 4, 2).flip(1).reshape(-1, 8)
        got = _triton.pairwise_iou("poly", p1, p2, False)
        assert (got - oracle_box_iou(b1, b2)).abs().max().item() <= 1e-6
        print("ok")
        """
    )
    env = dict(os.environ, TRITON_INTERPRET="1")
    here = Path(__file__).parent
    res = subprocess.run(
        [sys.executable, "-c", code, str(here)], env=env, capture_output=True, text=True, timeout=300
    )
    assert res.returncode == 0 and "ok" in res.stdout, res.stdout + res.stderr
