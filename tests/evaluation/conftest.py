"""Evaluation tests: use ``gghl.ops.poly_iou`` when present, else the shapely stand-in."""

from __future__ import annotations

import pytest

import gghl.ops


@pytest.fixture(autouse=True)
def _poly_iou_available(monkeypatch: pytest.MonkeyPatch) -> None:
    if getattr(gghl.ops, "poly_iou", None) is None:
        from gghl.testing.dota_reference import shapely_poly_iou

        monkeypatch.setattr(gghl.ops, "poly_iou", shapely_poly_iou, raising=False)


@pytest.fixture
def write_dota(tmp_path):
    """Writer of a tiny DOTA layout: ``labelTxt/<img>.txt``, ``dets/Task1_<cls>.txt``, ``imageset.txt``.

    Call as ``write_dota(gt={img: [lines]}, dets={cls: [lines] or None})``; a ``None`` class gets no
    file. Returns ``(ann_dir, det_dir, imageset_path)``.
    """

    def _write(gt: dict[str, list[str]], dets: dict[str, list[str] | None]):
        ann, det = tmp_path / "labelTxt", tmp_path / "dets"
        ann.mkdir(exist_ok=True)
        det.mkdir(exist_ok=True)
        for img, lines in gt.items():
            (ann / f"{img}.txt").write_text("".join(line + "\n" for line in lines))
        for cls, lines in dets.items():
            if lines is not None:
                (det / f"Task1_{cls}.txt").write_text("".join(line + "\n" for line in lines))
        imageset = tmp_path / "imageset.txt"
        imageset.write_text("".join(f"{img}\n" for img in gt))
        return ann, det, imageset

    return _write
