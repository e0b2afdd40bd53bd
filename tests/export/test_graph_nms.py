"""GGHL ``nms=true``: in-graph rotated IoU and greedy NMS (gghl.export.graph_nms) against gghl.ops and the
checkpoint, in PyTorch, TorchScript and ONNX Runtime."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import nn

from gghl.export import ExportedModel, export_checkpoint
from gghl.export.exporter import quiet_trace
from gghl.export.graph_nms import candidate_pairs, graph_nms, near_suppress, pairwise_box_iou, poly_to_obb
from gghl.export.postprocess import gghl_detections
from gghl.ops import box_iou_rotated
from gghl.structures import obb_to_poly
from gghl.structures import poly_to_obb as host_poly_to_obb
from gghl.tasks.restore import restore_task


def _special_boxes() -> torch.Tensor:
    return torch.tensor(
        [
            [20.0, 20, 10, 4, 0.3],
            [20.0, 20, 10, 4, 0.3],  # identical
            [20.0, 20, 5, 2, 0.3],  # contained
            [80.0, 80, 6, 3, -1.0],  # disjoint from the first ones
            [50.0, 50, 4, 4, 0.0],
            [54.0, 50, 4, 4, 0.0],  # touching along an edge
            [58.0, 54, 4, 4, 0.0],  # touching at a corner
            [50.0, 50, 4, 4, math.pi / 2],  # the same square, rotated by 90 deg
            [30.0, 30, 8, 0.0, 0.2],  # zero area -> IoU 0
            [30.0, 30, 8, 3, 0.2 + math.pi],  # a + pi: same box as row 10
            [30.0, 30, 3, 8, 0.2 + math.pi / 2],  # w < h
        ]
    )


def test_graph_iou_equals_gghl_ops() -> None:
    g = torch.Generator().manual_seed(0)
    n = 150
    rnd = torch.cat(
        [
            torch.rand(n, 2, generator=g) * 60,
            torch.rand(n, 2, generator=g) * 25 + 0.5,
            (torch.rand(n, 1, generator=g) - 0.5) * 2 * math.pi,
        ],
        1,
    )
    boxes = torch.cat([_special_boxes(), rnd])
    ref = box_iou_rotated(boxes, boxes)
    got = pairwise_box_iou(boxes[None], block=4096)[0]  # several row blocks
    diff = (got - ref).abs().max().item()
    print(
        f"in-graph IoU vs gghl.ops.box_iou_rotated: max abs diff {diff:.3g} over {boxes.shape[0] ** 2} pairs"
    )
    assert diff <= 1e-5
    assert got[0, 1] == pytest.approx(1.0, abs=1e-6) and got[0, 2] == pytest.approx(0.25, abs=1e-6)
    assert got[0, 3] == 0 and got[4, 5] == 0 and got[4, 6] == 0 and got[4, 7] == pytest.approx(1.0, abs=1e-6)
    assert (got[8] == 0).all() and (got[:, 8] == 0).all()
    assert got[9, 10] == pytest.approx(1.0, abs=1e-6)


def test_poly_to_obb_exports_to_onnx(tmp_path) -> None:
    """The graph uses gghl.structures.poly_to_obb itself; it must trace into plain ONNX and agree there."""
    import onnxruntime as ort

    class _P2O(nn.Module):
        def forward(self, polys: torch.Tensor) -> torch.Tensor:
            return poly_to_obb(polys)

    polys = obb_to_poly(_special_boxes())[None]
    path = tmp_path / "p2o.onnx"
    torch.onnx.export(_P2O(), (polys,), str(path), dynamo=False, opset_version=17, input_names=["p"])
    got = ort.InferenceSession(str(path)).run(None, {"p": polys.numpy()})[0]
    want = host_poly_to_obb(polys[0])
    assert torch.allclose(torch.from_numpy(got)[0], want, atol=1e-4, rtol=0)


class _NMS(nn.Module):
    def __init__(self, k: int, pairs: int = 4096) -> None:
        super().__init__()
        self.k = k
        self.pairs = pairs

    def forward(self, polys: torch.Tensor, scores: torch.Tensor, labels: torch.Tensor):  # noqa: ANN201
        return graph_nms(polys, scores, labels, 0.1, 0.3, 100, self.k, pairs=self.pairs)


def test_circumcircle_prefilter_keeps_every_overlapping_pair() -> None:
    """candidate_pairs may only drop pairs whose IoU is 0 (the in-graph IoU of every pair, special boxes incl.
    touching and contained ones); near_suppress on those pairs == the full matrix's decisions."""
    g = torch.Generator().manual_seed(1)
    n = 120
    rnd = torch.cat(
        [
            torch.rand(n, 2, generator=g) * 80,
            torch.rand(n, 2, generator=g) * 30 + 0.5,
            (torch.rand(n, 1, generator=g) - 0.5) * 2 * math.pi,
        ],
        1,
    )
    boxes = torch.cat([_special_boxes(), rnd])[None]
    k = boxes.shape[1]
    labels = torch.zeros(1, k, dtype=torch.long)
    cand = torch.ones(1, k, dtype=torch.bool)
    safe, todo = candidate_pairs(boxes, labels, cand)
    iou = pairwise_box_iou(boxes)
    later = torch.ones(k, k, dtype=torch.bool).triu(1)
    assert not ((iou > 0) & later & ~todo).any()
    assert todo.sum() < later.sum() // 4  # the filter removes most pairs
    for thresh in (0.0, 0.3):
        full = (iou > thresh) & later
        assert torch.equal(near_suppress(safe, todo, thresh), full)
        assert torch.equal(near_suppress(safe, todo, thresh, pairs=7), full)  # many rounds


def _dense(b: int = 2, a: int = 90) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One tight cluster per image: every pair of one class meets (~a^2 / 6 pairs per class)."""
    g = torch.Generator().manual_seed(5)
    c = 50 + torch.randn(b, a, 2, generator=g) * 2
    wh = torch.rand(b, a, 2, generator=g) * 10 + 12
    ang = (torch.rand(b, a, 1, generator=g) - 0.5) * 3
    polys = obb_to_poly(torch.cat([c, wh, ang], -1))
    scores = torch.rand(b, a, generator=g)
    labels = torch.randint(0, 3, (b, a), generator=g)
    return polys, scores, labels


def test_graph_nms_more_pairs_than_one_round(tmp_path: Path) -> None:
    """A dense cluster with far more overlapping same-class pairs than pair slots per round: the in-graph
    ``while`` runs several rounds (eager, TorchScript, ONNX Runtime) and still equals host NMS."""
    polys, scores, labels = _dense()
    k = polys.shape[1]
    safe, todo = candidate_pairs(poly_to_obb(polys), labels, scores > 0.1)
    assert int(todo.flatten(1).sum(1).min()) > 8 * 100  # > 8 rounds of 100 slots per image
    module = _NMS(k, pairs=100).eval()
    with torch.no_grad():
        _check_same(module(polys, scores, labels), polys, scores, labels, k)
    traced, sess = _trace_and_export(module, polys, scores, labels, tmp_path / "dense.onnx")
    _check_same(traced(polys, scores, labels), polys, scores, labels, k)
    _check_same(_run_onnx(sess, polys, scores, labels), polys, scores, labels, k)


ONNX_OUTPUTS = ["polygons", "scores", "labels", "num_dets"]


def _trace_and_export(
    module: nn.Module, polys: torch.Tensor, scores: torch.Tensor, labels: torch.Tensor, path: Path
):  # noqa: ANN202
    """TorchScript trace of ``module`` and an onnxruntime session of its ONNX export at ``path``."""
    import onnxruntime as ort

    ctx = quiet_trace()
    try:
        traced = torch.jit.trace(module, (polys, scores, labels), check_trace=False)
        torch.onnx.export(
            module,
            (polys, scores, labels),
            str(path),
            dynamo=False,
            opset_version=17,
            input_names=["p", "s", "l"],
            output_names=ONNX_OUTPUTS,
        )
    finally:
        ctx.__exit__(None, None, None)
    return traced, ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _run_onnx(sess, polys: torch.Tensor, scores: torch.Tensor, labels: torch.Tensor) -> tuple:  # noqa: ANN001
    outs = sess.run(ONNX_OUTPUTS, {"p": polys.numpy(), "s": scores.numpy(), "l": labels.numpy()})
    return tuple(torch.from_numpy(o) for o in outs)


def _clustered(b: int = 2, a: int = 160) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(3)
    centres = torch.rand(b, 12, 2, generator=g) * 100  # 12 clusters of overlapping boxes
    pick = torch.randint(0, 12, (b, a), generator=g)
    c = centres.gather(1, pick[..., None].expand(-1, -1, 2)) + torch.randn(b, a, 2, generator=g) * 3
    wh = torch.rand(b, a, 2, generator=g) * 15 + 5
    ang = (torch.rand(b, a, 1, generator=g) - 0.5) * 3
    polys = obb_to_poly(torch.cat([c, wh, ang], -1))
    scores = torch.rand(b, a, generator=g)
    scores[:, 40:80] = scores[:, 0:40]  # exact ties (same and different clusters / classes)
    scores[:, 5] = -1.0  # invalid candidate
    labels = torch.randint(0, 3, (b, a), generator=g)
    return polys, scores, labels


def _check_same(out: tuple, polys: torch.Tensor, scores: torch.Tensor, labels: torch.Tensor, k: int) -> None:
    for i in range(polys.shape[0]):
        ref = gghl_detections(
            polys[i], scores[i], labels[i], 0.1, 0.3, 100, k
        )  # gghl.ops.batched_nms_rotated
        n = int(out[3][i])
        assert n == len(ref["scores"]) > 0
        assert torch.equal(out[2][i][:n].long(), ref["labels"])
        torch.testing.assert_close(out[1][i][:n], ref["scores"], atol=0, rtol=0)
        torch.testing.assert_close(out[0][i][:n], ref["polygons"], atol=1e-4, rtol=0)
        assert (out[1][i][n:] == -1).all() and (out[2][i][n:] == -1).all()
        assert n < int((scores[i] > 0.1).sum()) and n < 100  # NMS suppressed some, max_det did not cut


def test_graph_greedy_equals_batched_nms_rotated(tmp_path: Path) -> None:
    """Clustered boxes, 3 classes, tied scores: eager, TorchScript and ONNX Runtime == host NMS."""
    polys, scores, labels = _clustered()
    k = polys.shape[1]  # every candidate enters: the host orders ties by index, as the graph
    module = _NMS(k).eval()
    with torch.no_grad():
        _check_same(module(polys, scores, labels), polys, scores, labels, k)
    path = tmp_path / "nms.onnx"
    traced, sess = _trace_and_export(module, polys, scores, labels, path)
    _check_same(traced(polys, scores, labels), polys, scores, labels, k)
    import onnx

    model = onnx.load(str(path))
    assert {n.domain for n in model.graph.node} <= {"", "ai.onnx"} and "Loop" in {
        n.op_type for n in model.graph.node
    }
    _check_same(_run_onnx(sess, polys, scores, labels), polys, scores, labels, k)
    # other data through the same graphs: the rounds are not baked in by the trace
    polys2, scores2, labels2 = polys.flip(1) * 1.5, scores.flip(1), (labels + 1) % 3
    _check_same(traced(polys2, scores2, labels2), polys2, scores2, labels2, k)
    _check_same(_run_onnx(sess, polys2, scores2, labels2), polys2, scores2, labels2, k)


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_export_nms_true_parity(checkpoints: dict[str, Path], tmp_path: Path, fmt: str) -> None:
    """The exported graph's own NMS gives the checkpoint's kept detections on 3 synthetic images."""
    loaded = restore_task(checkpoints["gghl"])
    suffix = ".onnx" if fmt == "onnx" else ".pt"
    path, report = export_checkpoint(loaded, fmt, tmp_path / f"m{suffix}", nms=True, nms_pre=200)
    print(report.line())
    assert report.ok and report.kept_same and report.nms_in_graph
    assert report.kept_torch == report.kept_export > 0
    model = ExportedModel(path)
    assert model.nms_in_graph and model.output_names == ("polygons", "scores", "labels", "num_dets")
    assert model.meta["nms"] is True and model.post["nms_pre"] == 200 and model.post["pre_nms_topk"] == 200
    out = model.run(torch.rand(1, 3, model.img_size, model.img_size))
    assert out["polygons"].shape == (1, min(loaded.task.postprocess.max_det, 200), 8)
    # a caller's higher threshold filters the graph's detections
    model.score_thresh = 0.5
    preds = model.predict_batch(torch.rand(1, 3, model.img_size, model.img_size))
    assert (preds[0]["scores"] > 0.5).all() and preds[0]["obb"].shape[1] == 5


def test_host_pre_nms_cut_keeps_lower_index_among_tied_scores() -> None:
    """The host's pre-NMS cut is a stable sort (topk's tie order is unspecified), as in the graph."""
    from gghl.export.postprocess import gghl_detections

    # 10 disjoint unit squares, all with the same score: a cut at 4 keeps candidates 0..3.
    polys = torch.tensor([[10.0 * i, 0, 10.0 * i + 4, 0, 10.0 * i + 4, 4, 10.0 * i, 4] for i in range(10)])
    out = gghl_detections(polys, torch.full((10,), 0.5), torch.zeros(10, dtype=torch.long), 0.1, 0.45, 100, 4)
    assert sorted(out["polygons"][:, 0].tolist()) == [0.0, 10.0, 20.0, 30.0]
