"""Detection label audit: hand-made cases per issue type (oriented and axis-aligned), empty images, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gghl.evaluation.detection_label_issues import rank_issues
from gghl.evaluation.detection_label_quality import audit_detection_labels, boxes_to_obb

C = 3  # classes


def _clean_image(rng: np.random.Generator, n: int = 3) -> tuple[dict, dict]:
    """``n`` well-separated elongated boxes, each detected with a small offset and a high score."""
    boxes, preds = [], []
    for j in range(n):
        b = np.array([60.0 + 120 * j, 60.0, 60.0, 20.0, rng.uniform(-1.2, 1.2)])
        boxes.append(b)
        preds.append(
            b
            + np.array(
                [
                    rng.normal(0, 1.0),
                    rng.normal(0, 1.0),
                    rng.normal(0, 1.5),
                    rng.normal(0, 0.8),
                    rng.normal(0, 0.02),
                ]
            )
        )
    labels = np.arange(n) % C
    return (
        {"boxes": np.array(boxes), "labels": labels},
        {"boxes": np.array(preds), "scores": np.full(n, 0.9), "labels": labels.copy()},
    )


def _dataset(oriented: bool = True):
    """8 clean images (references) + one image per error type; returns annotations, predictions, kinds.

    ``kinds[(image, object)]`` names the injected error of an annotation; ``("overlooked", image)`` marks the
    image whose only detection has no annotation.
    """
    rng = np.random.default_rng(0)
    anns, preds = [], []
    for _ in range(8):
        a, p = _clean_image(rng)
        anns.append(a)
        preds.append(p)
    box = np.array([100.0, 100.0, 80.0, 20.0, 0.3])
    det = {"boxes": box[None], "scores": np.array([0.9]), "labels": np.array([0])}
    # swapped: annotated as class 2, detected confidently as class 0 at the same place
    anns.append({"boxes": box[None], "labels": np.array([2])})
    preds.append(det)
    # badly located: shifted by 35 % of its length along its long axis
    shifted = box.copy()
    shifted[0] += 0.35 * 80 * math.cos(0.3)
    shifted[1] += 0.35 * 80 * math.sin(0.3)
    anns.append({"boxes": shifted[None], "labels": np.array([0])})
    preds.append(det)
    # rotated by 25 degrees (only meaningful for oriented boxes)
    turned = box.copy()
    turned[4] += math.radians(25)
    anns.append({"boxes": turned[None], "labels": np.array([0])})
    preds.append(det)
    # spurious: an annotation far from every detection
    anns.append({"boxes": np.vstack([box, [300.0, 300.0, 40.0, 30.0, 0.0]]), "labels": np.array([0, 1])})
    preds.append(det)
    # overlooked: a confident detection, nothing annotated there
    anns.append({"boxes": box[None], "labels": np.array([0])})
    preds.append(
        {
            "boxes": np.vstack([box, [300.0, 100.0, 50.0, 20.0, 0.0]]),
            "scores": np.array([0.9, 0.85]),
            "labels": np.array([0, 1]),
        }
    )
    if not oriented:  # the axis-aligned extents of the same boxes
        import torch

        from gghl.structures import obb_to_hbb

        hbb = lambda b: obb_to_hbb(torch.from_numpy(np.asarray(b, dtype=np.float64))).numpy()  # noqa: E731
        anns = [{**a, "boxes": hbb(a["boxes"])} for a in anns]
        preds = [{**p, "boxes": hbb(p["boxes"])} for p in preds]
    return anns, preds


def _row(audit, image: int, obj: int) -> int:
    return int(np.flatnonzero((audit.ann_image == image) & (audit.ann_object == obj))[0])


def test_each_issue_type_oriented():
    anns, preds = _dataset()
    a = audit_detection_labels(anns, preds, C)
    assert a.oriented
    clean = a.ann_image < 8
    assert a.p_issue[clean].max() < 0.2, a.p_issue[clean]
    sw, bl, rot, sp = _row(a, 8, 0), _row(a, 9, 0), _row(a, 10, 0), _row(a, 11, 1)
    assert a.issue[sw] == "swapped" and a.p_swapped[sw] > 0.8 and a.suggested_label[sw] == 0
    assert a.issue[bl] == "badly_located" and a.p_location[bl] > 0.3
    assert a.issue[rot] == "rotated" and a.p_rotated[rot] > 0.3
    assert a.turn_deg[rot] == pytest.approx(-25.0, abs=0.5)  # turning back by 25 degrees fixes it
    assert a.iou_rot[rot] > 0.99 and a.match_iou[rot] < 0.6
    assert a.issue[sp] == "spurious" and a.p_spurious[sp] == pytest.approx(1.0)
    # the shifted box is not called rotated, the rotated one not a class swap
    assert a.p_rotated[bl] < 0.05 and a.p_swapped[rot] == 0
    over = (a.pred_image == 12) & (a.pred_index == 1)
    assert a.p_overlooked[over][0] == pytest.approx(0.85)
    assert a.p_overlooked[~over].max() < 0.3
    # every error image is less clean than every clean image
    assert a.image_quality[8:].max() < a.image_quality[:8].min()


def test_each_issue_type_axis_aligned():
    anns, preds = _dataset(oriented=False)
    a = audit_detection_labels(anns, preds, C)
    assert not a.oriented
    assert np.isnan(a.turn_deg).all() and (a.p_rotated == 0).all()  # no angle in xyxy boxes
    sw, bl, sp = _row(a, 8, 0), _row(a, 9, 0), _row(a, 11, 1)
    assert a.issue[sw] == "swapped" and a.suggested_label[sw] == 0
    assert a.issue[bl] == "badly_located" and a.p_location[bl] > 0.3
    assert a.issue[sp] == "spurious"
    over = (a.pred_image == 12) & (a.pred_index == 1)
    assert a.p_overlooked[over][0] == pytest.approx(0.85)


def test_polygons_and_obb_give_the_same_audit():
    import torch

    from gghl.structures import obb_to_poly

    anns, preds = _dataset()
    poly = lambda b: obb_to_poly(torch.from_numpy(np.asarray(b, dtype=np.float64))).numpy()  # noqa: E731
    a = audit_detection_labels(anns, preds, C)
    b = audit_detection_labels(
        [{**x, "boxes": poly(x["boxes"])} for x in anns], [{**x, "boxes": poly(x["boxes"])} for x in preds], C
    )
    np.testing.assert_allclose(a.p_issue, b.p_issue, atol=1e-9)
    np.testing.assert_allclose(a.p_overlooked, b.p_overlooked, atol=1e-9)
    assert list(a.issue) == list(b.issue)


def test_empty_images_and_images_without_predictions():
    none = {"boxes": np.zeros((0, 8)), "labels": np.zeros(0, dtype=np.int64)}
    no_pred = {"boxes": np.zeros((0, 8)), "scores": np.zeros(0), "labels": np.zeros(0, dtype=np.int64)}
    box = np.array([[10.0, 10, 50, 10, 50, 30, 10, 30]])
    anns = [none, {"boxes": box, "labels": np.array([1])}, none]
    preds = [no_pred, no_pred, {"boxes": box, "scores": np.array([0.7]), "labels": np.array([2])}]
    a = audit_detection_labels(anns, preds, C)
    assert a.image_quality[0] == 1.0  # nothing annotated, nothing detected
    assert a.issue[0] == "spurious" and a.p_spurious[0] == 1.0 and a.image_quality[1] == 0.0
    assert a.p_overlooked[0] == pytest.approx(0.7) and a.image_quality[2] == pytest.approx(0.3)
    empty = audit_detection_labels([], [], C)
    assert len(empty.image_quality) == 0 and len(empty.p_issue) == 0
    assert rank_issues(empty, [], [], ["a", "b", "c"]) == []


def test_bad_input_names_the_image_and_field():
    box = {"boxes": np.zeros((1, 5)) + [10, 10, 5, 3, 0], "labels": np.array([0])}
    pred = {"boxes": np.zeros((1, 5)) + [10, 10, 5, 3, 0], "scores": np.array([0.5]), "labels": np.array([0])}
    with pytest.raises(ValueError, match="2 annotated images but 1"):
        audit_detection_labels([box, box], [pred], C)
    with pytest.raises(ValueError, match=r"annotations\[0\].labels"):
        audit_detection_labels([{**box, "labels": np.array([5])}], [pred], C)
    with pytest.raises(ValueError, match=r"predictions\[0\].scores"):
        audit_detection_labels([box], [{**pred, "scores": np.array([1.5])}], C)
    with pytest.raises(ValueError, match=r"predictions\[1\].boxes"):
        audit_detection_labels([box, box], [pred, {**pred, "boxes": np.zeros((1, 6))}], C)
    with pytest.raises(ValueError, match="x2 >= x1"):
        boxes_to_obb(np.array([[10.0, 10, 5, 20]]))
    with pytest.raises(ValueError, match="non-finite"):
        boxes_to_obb(np.array([[np.nan, 10, 5, 20, 0]]))


def test_rank_issues_rows_fixes_and_overlooked_dedup():
    anns, preds = _dataset()
    # the missed object of image 12 is detected once more as class 2 (class-wise NMS keeps both)
    p12 = preds[12]
    preds[12] = {
        "boxes": np.vstack([p12["boxes"], p12["boxes"][1] + [1, 0, 0, 0, 0]]),
        "scores": np.append(p12["scores"], 0.4),
        "labels": np.append(p12["labels"], 2),
    }
    a = audit_detection_labels(anns, preds, C)
    rows = rank_issues(a, anns, preds, ["plane", "ship", "car"], min_p=0.2)
    assert [r["rank"] for r in rows] == list(range(1, len(rows) + 1))
    assert all(x["p"] >= y["p"] for x, y in zip(rows, rows[1:]))
    by = {(r["image"], r["issue"]): r for r in rows}
    assert by[(8, "swapped")]["fix"] == "relabel car -> plane"
    assert by[(8, "swapped")]["pred_score"] == pytest.approx(0.9)  # the disagreeing detection, drawn with it
    assert by[(8, "swapped")]["predicted_box"] == by[(8, "swapped")]["box"]
    assert by[(11, "spurious")]["predicted_box"] == ""
    assert by[(10, "rotated")]["fix"].startswith("rotate by -25.0 deg")
    assert by[(11, "spurious")]["object"] == 1
    over = [r for r in rows if r["issue"] == "overlooked"]
    assert len(over) == 1 and over[0]["image"] == 12 and over[0]["suggested_class"] == "ship"
    assert len(over[0]["predicted_box"].split()) == 8 and over[0]["object"] == -1


def test_injected_errors_are_what_they_say():
    from gghl.data.synthetic import SyntheticOrientedDataset
    from gghl.evaluation.detection_label_quality import rotated_iou
    from gghl.testing.detection_label_noise import KINDS, inject_detection_errors

    ds = SyntheticOrientedDataset(24, img_size=256, seed=3)
    anns = []
    for i in range(len(ds)):
        r = ds.render(i)
        anns.append({"polygons": r.polygons, "labels": r.labels, "difficult": r.difficult})
    noisy, errors = inject_detection_errors(anns, [(256, 256)] * len(anns), 5, rate=0.1, seed=1)
    again, errors2 = inject_detection_errors(anns, [(256, 256)] * len(anns), 5, rate=0.1, seed=1)
    assert [e.to_json() for e in errors] == [e.to_json() for e in errors2]  # a function of the seed
    assert {e.kind for e in errors} == set(KINDS)
    touched = {e.image for e in errors}
    assert len(touched) == 12  # half of the images, each with at least one error
    for i in set(range(24)) - touched:
        np.testing.assert_array_equal(noisy[i]["polygons"], anns[i]["polygons"])
        np.testing.assert_array_equal(noisy[i]["labels"], anns[i]["labels"])
    for e in errors:
        n = noisy[e.image]
        if e.kind == "overlooked":
            assert e.object == -1 and not any(np.allclose(p, e.true_polygon) for p in n["polygons"])
            continue
        given = n["polygons"][e.object]
        np.testing.assert_allclose(given, e.given_polygon)
        assert n["labels"][e.object] == e.given_label
        g, _ = boxes_to_obb(given[None])
        if e.kind == "swapped":
            assert e.given_label != e.true_label and np.allclose(given, e.true_polygon)
        elif e.kind == "badly_located":
            t, _ = boxes_to_obb(e.true_polygon[None])
            assert 0.3 < rotated_iou(g, t)[0, 0] < 0.7
        elif e.kind == "rotated":
            t, _ = boxes_to_obb(e.true_polygon[None])
            assert 10 <= abs(e.detail) <= 30 and t[0, 2] / t[0, 3] >= 1.5
            np.testing.assert_allclose(g[0, :4], t[0, :4], atol=1e-6)  # same centre and size
        elif e.kind == "spurious":
            others = np.delete(n["polygons"], e.object, axis=0)
            t, _ = boxes_to_obb(anns[e.image]["polygons"])
            assert e.source == -1 and (len(t) == 0 or rotated_iou(g, t).max() < 0.05)
            assert len(n["polygons"]) == len(others) + 1
    with pytest.raises(ValueError, match="rate"):
        inject_detection_errors(anns, [(256, 256)] * len(anns), 5, rate=0.5)
