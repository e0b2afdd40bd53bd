"""`gghl-eval` and `gghl-predict` on the same images and checkpoint: the same detections (issue 13, deliverable
3), the same output-name rule, and unreadable images skipped and listed by both (deliverable 6)."""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from gghl.config import CONFIG_DIR
from gghl.data.output_names import ImageNameError

_spec = importlib.util.spec_from_file_location(
    "export_tiny_checkpoints", Path(__file__).parents[1] / "export" / "tiny_checkpoints.py"
)
tiny = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tiny)

CLASSES = ["plane", "vehicle", "ship", "storage-tank", "court"]


def _cli(name: str, overrides: list[str]) -> dict:
    run = importlib.import_module(f"gghl.cli.{name}").run
    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        return run(compose(name, overrides=overrides))


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny.make_checkpoint("gghl", tmp_path_factory.mktemp("ckpt"))


def _dota(root: Path, n: int = 3, seed: int = 11, size: tuple[int, int] = (192, 256)) -> Path:
    from gghl.data.synthetic import SyntheticOrientedDataset
    from gghl.data.synthetic_export import write_synthetic_dota

    return write_synthetic_dota(SyntheticOrientedDataset(n, img_size=size, seed=seed), root, "val")


def _task1_lines(folder: Path) -> dict[str, list[str]]:
    return {p.name: p.read_text().splitlines() for p in sorted(folder.glob("Task1_*.txt"))}


def test_eval_and_predict_give_the_same_detections(ckpt: Path, tmp_path: Path) -> None:
    """3 images of 192 x 256, tiled with the checkpoint's 128-px windows, defaults of both commands."""
    base = _dota(tmp_path / "dota")
    common = ["score_thresh=0.2", "paths.output_dir=" + str(tmp_path / "run")]
    ev = _cli(
        "eval",
        [
            f"ckpt_path={ckpt}",
            "data=dota",
            f"data.root={tmp_path / 'dota'}",
            "split=val",
            *common[:1],
            f"paths.output_dir={tmp_path / 'eval'}",
        ],
    )
    pr = _cli(
        "predict", [f"ckpt_path={ckpt}", f"input={base / 'images'}", f"output={tmp_path / 'pred'}", *common]
    )
    assert ev["images"] == 3 and len(pr["images"]) == 3
    a, b = _task1_lines(tmp_path / "eval" / "Task1"), _task1_lines(tmp_path / "pred" / "Task1")
    assert sorted(a) == sorted(f"Task1_{c}.txt" for c in CLASSES) and a.keys() == b.keys()
    n = sum(len(v) for v in a.values())
    assert n == sum(len(r["detections"]) for r in pr["images"]) > 10
    for name in a:  # one to one: the same image, score and corners on every line
        assert sorted(a[name]) == sorted(b[name]), name
    assert {line.split()[0] for v in a.values() for line in v} == {
        p.stem for p in (base / "images").iterdir()
    }


def test_eval_default_is_the_checkpoint_test_split(ckpt: Path, tmp_path: Path) -> None:
    """`ckpt_path=` alone + one named data key: the stored synthetic datamodule with only test_size changed;
    a different input_size is printed and does not change the (synthetic) images."""
    res = _cli(
        "eval",
        [f"ckpt_path={ckpt}", "data.test_size=2", "score_thresh=0.2", f"paths.output_dir={tmp_path / 'a'}"],
    )
    assert res["split"] == "test" and res["images"] == 2 and res["input_size"] == 128 and res["notes"] == []
    assert res["data"]["test_size"] == 2 and res["data"]["val_size"] == 64  # only the named key changed
    assert "mAP" in res and res["scored_from"].startswith("in-memory")
    other = _cli(
        "eval",
        [
            f"ckpt_path={ckpt}",
            "data.test_size=2",
            "score_thresh=0.2",
            "input_size=96",
            f"paths.output_dir={tmp_path / 'b'}",
        ],
    )
    assert other["input_size"] == 96 and other["data"]["gen_size"] == 128  # same 128-px images
    assert any(
        "input_size=96 differs from the checkpoint's training input size 128" in n for n in other["notes"]
    )


def _write_broken(folder: Path) -> list[Path]:
    """A truncated PNG and a text file named .png next to the good images."""
    good = sorted(folder.glob("*.png"))[0].read_bytes()
    truncated = folder / "truncated.png"
    truncated.write_bytes(good[: len(good) // 2])
    text = folder / "notes.png"
    text.write_text("not an image\n")
    return [truncated, text]


def test_predict_skips_unreadable_and_keeps_colliding_names_apart(ckpt: Path, tmp_path: Path, capsys) -> None:
    from PIL import Image

    base = _dota(tmp_path / "dota", n=2)
    images = base / "images"
    first, second = sorted(images.glob("*.png"))
    Image.open(first).convert("RGB").save(images / f"{first.stem}.jpg", quality=95)  # same stem as a .png
    (images / "UPPER.PNG").write_bytes(second.read_bytes())  # found whatever the extension's case
    broken = _write_broken(images)
    out = tmp_path / "pred"
    res = _cli("predict", [f"ckpt_path={ckpt}", f"input={images}", f"output={out}", "score_thresh=0.2"])
    names = [r["image"] for r in res["images"]]
    assert sorted(names) == sorted([first.name, f"{first.stem}.jpg", second.stem, "UPPER"])
    assert {u["file"] for u in res["unreadable"]} == {str(p) for p in broken}
    drawn = sorted(p.name for p in (out / "images").iterdir())
    assert drawn == sorted(f"{n}.png" for n in names)  # a.png.png and a.jpg.png: neither overwritten
    lines = [ln for v in _task1_lines(out / "Task1").values() for ln in v]
    assert {ln.split()[0] for ln in lines} == set(names) and all(len(ln.split()) == 10 for ln in lines)
    printed = capsys.readouterr().out
    assert "unreadable images skipped: 2" in printed and str(broken[0]) in printed


def test_names_with_whitespace_are_refused_before_inference(ckpt: Path, tmp_path: Path) -> None:
    base = _dota(tmp_path / "dota", n=2)
    img = sorted((base / "images").glob("*.png"))[0]
    img.rename(img.with_name("with space.png"))
    (base / "labelTxt" / f"{img.stem}.txt").rename(base / "labelTxt" / "with space.txt")
    # predict: refused before the checkpoint is even opened (it does not exist)
    with pytest.raises(ImageNameError, match="with space.png.*whitespace"):
        _cli(
            "predict",
            [f"ckpt_path={tmp_path / 'missing.ckpt'}", f"input={base / 'images'}", f"output={tmp_path}"],
        )
    # eval: refused before any image is read (no Task1 folder written)
    with pytest.raises(ImageNameError, match="with space.png.*whitespace"):
        _cli(
            "eval",
            [
                f"ckpt_path={ckpt}",
                "data=dota",
                f"data.root={tmp_path / 'dota'}",
                "split=val",
                f"paths.output_dir={tmp_path / 'eval'}",
            ],
        )
    assert not (tmp_path / "eval" / "Task1").exists()


def test_eval_skips_unreadable_images_and_scores_the_others(ckpt: Path, tmp_path: Path, capsys) -> None:
    base = _dota(tmp_path / "dota", n=3)
    victim = sorted((base / "images").glob("*.png"))[0]
    victim.write_bytes(victim.read_bytes()[:200])  # truncated: the header survives, the pixels do not
    res = _cli(
        "eval",
        [
            f"ckpt_path={ckpt}",
            "data=dota",
            f"data.root={tmp_path / 'dota'}",
            "split=val",
            "score_thresh=0.2",
            f"paths.output_dir={tmp_path / 'eval'}",
        ],
    )
    assert res["images"] == 2 and [u["file"] for u in res["unreadable"]] == [str(victim)]
    assert "mAP" in res  # scored over the two images that were read
    lines = [ln for v in _task1_lines(tmp_path / "eval" / "Task1").values() for ln in v]
    assert lines and victim.stem not in {ln.split()[0] for ln in lines}
    printed = capsys.readouterr().out
    assert "unreadable images skipped: 1" in printed and str(victim) in printed


def test_output_name_rule() -> None:
    from gghl.data.output_names import check_output_names, output_names

    assert output_names([Path("d/a.png"), Path("d/b.png")]) == ["a", "b"]
    assert output_names(["d/a.png", "d/a.jpg", "d/b.tif"]) == ["a.png", "a.jpg", "b"]
    assert output_names(["d/A.png", "d/a.jpg"]) == ["A.png", "a.jpg"]  # case-insensitive file systems
    for bad in ["d/a b.png", "d/a\tb.png", "d/a\u00a0b.png", "d/a\nb.png"]:
        with pytest.raises(ImageNameError, match="whitespace"):
            output_names([bad])
    with pytest.raises(ImageNameError, match="same output name"):
        output_names(["x/a.png", "y/a.png"])  # two folders' a.png: names collide even with extensions
    with pytest.raises(ImageNameError, match="empty"):
        check_output_names([""])
    check_output_names(["P0001", "P0002"])
    assert output_names(["d/ä.png"]) == ["ä"]  # any other character is kept


def test_eval_coco_skips_unreadable_images(ckpt: Path, tmp_path: Path, capsys) -> None:
    """COCO path: a truncated image is skipped and listed; the stats are over the images read (its ground
    truth is left out of the annotation file scored, written next to the detections)."""
    import json

    from gghl.data.synthetic import SyntheticOrientedDataset
    from gghl.data.synthetic_export import write_synthetic_coco

    root = tmp_path / "coco"
    ann = root / "annotations" / "instances_val2017.json"
    ann.parent.mkdir(parents=True)
    write_synthetic_coco(SyntheticOrientedDataset(3, img_size=128, seed=5), root / "val2017", ann)
    victim = sorted((root / "val2017").glob("*.png"))[0]
    victim.write_bytes(victim.read_bytes()[:200])
    res = _cli(
        "eval",
        [
            f"ckpt_path={ckpt}",
            "data=coco",
            f"data.root={root}",
            "data.num_workers=0",
            "data.batch_size=2",
            "split=val",
            f"paths.output_dir={tmp_path / 'eval'}",
        ],
    )
    assert res["images"] == 2 and [u["file"] for u in res["unreadable"]] == [str(victim)]
    assert len(res["stats"]) == 12
    scored = json.loads((tmp_path / "eval" / "annotations_evaluated.json").read_text())
    assert len(scored["images"]) == 2 and victim.name not in {im["file_name"] for im in scored["images"]}
    assert "unreadable images skipped: 1" in capsys.readouterr().out
