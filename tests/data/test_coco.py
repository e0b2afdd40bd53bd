"""CocoDetection: HBB polygons, crowd regions kept aside, non-contiguous ids, empty images."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from gghl.data.coco import CocoDetection, read_coco_categories, xywh_to_polygons
from gghl.data.synthetic import SyntheticOrientedDataset
from gghl.data.synthetic_export import write_synthetic_coco

CAT_IDS = [3, 7, 11, 20, 42]


@pytest.fixture(scope="module")
def coco_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("coco")
    syn = SyntheticOrientedDataset(5, img_size=128, seed=11)
    data = write_synthetic_coco(
        syn, root / "val2017", root / "annotations" / "instances_val2017.json", category_ids=CAT_IDS
    )
    # add a crowd region, a degenerate box and an image without annotations
    data["annotations"].append(
        {
            "id": 999,
            "image_id": 1,
            "category_id": 7,
            "bbox": [5.0, 6.0, 30.0, 20.0],
            "area": 600.0,
            "iscrowd": 1,
            "segmentation": {"counts": [], "size": [128, 128]},
        }
    )
    data["annotations"].append(
        {
            "id": 1000,
            "image_id": 2,
            "category_id": 3,
            "bbox": [5.0, 6.0, 0.0, 20.0],
            "area": 0.0,
            "iscrowd": 0,
        }
    )
    data["images"].append(
        {"id": 77, "file_name": data["images"][0]["file_name"], "width": 128, "height": 128}
    )
    (root / "annotations" / "instances_val2017.json").write_text(json.dumps(data))
    return root, syn, data


def test_read_back_hbb_and_id_mapping(coco_files) -> None:
    root, syn, _ = coco_files
    ds = CocoDetection(root / "val2017", root / "annotations" / "instances_val2017.json")
    assert ds.class_names == syn.class_names and ds.num_classes == 5
    assert ds.contiguous_to_cat_id == CAT_IDS
    assert ds.cat_id_to_contiguous == {c: i for i, c in enumerate(CAT_IDS)}
    assert ds.image_ids == [1, 2, 3, 4, 5, 77] and ds.skipped["degenerate_box"] == 1
    for i in range(5):
        r = syn.render(i)
        s = ds[i]
        assert s["image_id"] == str(i + 1)
        xy = r.polygons.reshape(-1, 4, 2)
        hbb = np.concatenate([xy.min(1), xy.max(1)], 1)
        expect = xywh_to_polygons(np.concatenate([hbb[:, :2], hbb[:, 2:] - hbb[:, :2]], 1))
        np.testing.assert_allclose(s["polygons"].numpy(), expect, atol=1e-6, rtol=0)
        assert np.array_equal(s["labels"].numpy(), r.labels)  # contiguous index == synthetic label
        assert not bool(s["difficult"].any())
        assert torch.equal(
            (s["image"] * 255).round().to(torch.uint8).permute(1, 2, 0), torch.from_numpy(r.image)
        )
    # crowd region excluded from targets but kept for evaluation, in original pixels
    s0 = ds[0]
    assert len(s0["labels"]) == len(syn.render(0).labels)
    torch.testing.assert_close(s0["crowd_hbb"], torch.tensor([[5.0, 6.0, 35.0, 26.0]], dtype=torch.float64))
    assert ds[1]["crowd_hbb"].shape == (0, 4)
    empty = ds[5]
    assert empty["image_id"] == "77" and empty["polygons"].shape == (0, 8)


def test_categories_and_errors(coco_files, tmp_path) -> None:
    root, syn, _ = coco_files
    ann = root / "annotations" / "instances_val2017.json"
    assert read_coco_categories(ann) == (CAT_IDS, syn.class_names)
    with pytest.raises(ValueError, match="differ from the configured class_names"):
        CocoDetection(root / "val2017", ann, class_names=["a", "b", "c", "d", "e"])
    with pytest.raises(FileNotFoundError, match="nothere.json"):
        CocoDetection(root / "val2017", tmp_path / "nothere.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="bad.json"):
        CocoDetection(root / "val2017", bad)
