"""CSV and ImageFolder datamodules, including errors that name the file and line."""

import numpy as np
import pytest
from PIL import Image

from gghl.data.classification import CSVDataModule, ImageFolderDataModule


def _img(path, value):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((10, 12, 3), value, dtype=np.uint8)).save(path)


@pytest.fixture
def tree(tmp_path):
    for c in ("cat", "dog"):
        for i in range(6):
            _img(tmp_path / "imgs" / c / f"{i}.png", 40 * i)
    return tmp_path


def test_imagefolder_random_split(tree):
    dm = ImageFolderDataModule(
        str(tree / "imgs"), image_size=16, batch_size=4, val_fraction=0.25, test_fraction=0.25
    )
    assert dm.class_names == ["cat", "dog"] and dm.num_classes == 2
    dm.setup()
    assert sum(len(d) for d in dm.datasets.values()) == 12
    b = next(iter(dm.val_dataloader()))
    assert b["image"].shape[1:] == (3, 16, 16)


def test_imagefolder_explicit_splits_unknown_class(tree):
    for s in ("train", "val"):
        for c in ("a", "b"):
            _img(tree / "split" / s / c / "x.png", 1)
    dm = ImageFolderDataModule(str(tree / "split"), image_size=8, test_fraction=0.5)
    assert dm.class_names == ["a", "b"]
    _img(tree / "split" / "val" / "zebra" / "x.png", 1)
    with pytest.raises(ValueError, match="zebra"):
        ImageFolderDataModule(str(tree / "split"))


def test_csv_multi_annotator(tree):
    rows = (
        ["path,label"]
        + [f"imgs/cat/{i}.png,cat|cat|dog" for i in range(6)]
        + [f"imgs/dog/{i}.png,dog" for i in range(6)]
    )
    (tree / "train.csv").write_text("\n".join(rows) + "\n")
    dm = CSVDataModule(
        str(tree / "train.csv"), image_size=8, aggregation="empirical", val_fraction=0.25, test_fraction=0.25
    )
    assert dm.class_names == ["cat", "dog"]
    dm.setup()
    all_ann = np.concatenate([s.annotations for s in dm.splits.values()])
    assert all_ann.shape[1] == 3 and (all_ann[:, 1] == -1).sum() == 6  # single-label rows are padded
    tr = dm.splits["train"]
    cat = tr.labels == 0
    np.testing.assert_allclose(tr.targets[cat], [[2 / 3, 1 / 3]] * int(cat.sum()), rtol=1e-6)


@pytest.mark.parametrize(
    "line, match",
    [
        ("imgs/cat/0.png,cat,extra", r"train.csv:2: expected 2 columns"),
        ("imgs/cat/99.png,cat", r"train.csv:2: image not found"),
        ("imgs/cat/0.png,cat||dog", r"train.csv:2: empty label"),
        ("imgs/cat/0.png,horse", r"train.csv:2: unknown label 'horse'"),
    ],
)
def test_csv_errors_name_file_and_line(tree, line, match):
    (tree / "train.csv").write_text(f"imgs/dog/0.png,dog\n{line}\n")
    with pytest.raises((ValueError, FileNotFoundError), match=match):
        CSVDataModule(str(tree / "train.csv"), class_names=["cat", "dog"])


def test_missing_image_at_load_names_file(tree):
    (tree / "train.csv").write_text("imgs/cat/0.png,cat\nimgs/dog/0.png,dog\n" * 3)
    dm = CSVDataModule(
        str(tree / "train.csv"),
        image_size=8,
        val_fraction=0.0,
        test_fraction=0.0,
        val_csv=str(tree / "train.csv"),
        test_csv=str(tree / "train.csv"),
    )
    dm.setup()
    (tree / "imgs" / "cat" / "0.png").unlink()
    with pytest.raises(OSError, match="0.png"):
        dm.datasets["train"][0]
