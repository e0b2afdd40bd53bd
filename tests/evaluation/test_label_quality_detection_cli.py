"""gghl-audit-detection: fast --help, argument parsing, the audit outputs from given predictions, k-fold run."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gghl.cli.audit_detection import parse_args

ROOT = Path(__file__).resolve().parents[2]
CLASSES = ["plane", "vehicle", "ship", "storage-tank", "court"]
DATA = [
    "data.version=null",
    f"data.class_names=[{','.join(CLASSES)}]",
    "data.num_classes=5",
    "data.img_size=128",
]


def test_help_is_fast_and_imports_nothing_heavy():
    code = (
        "import sys, time\n"
        "sys.argv = ['gghl-audit-detection', '--help']\n"
        "t = time.perf_counter()\n"
        "from gghl.cli.audit_detection import main\n"
        "main()\n"
        "print('ELAPSED', time.perf_counter() - t)\n"
        "print('HEAVY', [m for m in ('torch', 'hydra', 'lightning', 'numpy') if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert "HEAVY []" in out.stdout and "usage: gghl-audit-detection" in out.stdout
    assert float(out.stdout.split("ELAPSED")[1].split()[0]) < 1.5


def test_parse_args():
    opts, ov = parse_args(["folds=4", "data.root=/x", "trainer.max_epochs=2", "min_p=0.2"])
    assert opts["folds"] == 4 and opts["min_p"] == 0.2
    assert ov == [
        "data=dota",
        "data.root=/x",
        "trainer.max_epochs=2",
    ]  # the DOTA layout unless data= is given
    assert parse_args(["data=dota_v15"])[1] == ["data=dota_v15"]
    with pytest.raises(SystemExit, match="folds must be >= 2"):
        parse_args(["folds=1"])
    with pytest.raises(SystemExit, match="folds='x'"):
        parse_args(["folds=x"])


def _tiny_dota(tmp_path: Path) -> Path:
    """4 synthetic images in DOTA layout; in image 1 the second object is relabelled (a known swap)."""
    from gghl.data.dota_labels import read_dota_labels, write_dota_labels
    from gghl.data.synthetic import SyntheticOrientedDataset
    from gghl.data.synthetic_export import write_synthetic_dota

    ds = SyntheticOrientedDataset(4, img_size=128, seed=5, min_objects=3, max_objects=4)
    base = write_synthetic_dota(ds, tmp_path / "dota", "train")
    lab = base / "labelTxt" / f"{ds.image_id(1)}.txt"
    f = read_dota_labels(lab)
    names = [o.class_name for o in f.objects]
    names[1] = next(c for c in CLASSES if c != names[1])
    write_dota_labels(lab, f.polygons(), names, [o.difficult for o in f.objects], image_source="synthetic")
    # detections = the true objects, confident (what a good model trained on the other images would see)
    oof = {}
    for i in range(len(ds)):
        r = ds.render(i)
        oof[ds.image_id(i)] = {
            "polygons": r.polygons.tolist(),
            "scores": [0.9] * len(r.labels),
            "labels": r.labels.tolist(),
        }
    (tmp_path / "oof.json").write_text(json.dumps(oof))
    return tmp_path / "dota"


def test_audit_from_given_predictions_ranks_the_swap_first(tmp_path: Path):
    from gghl.cli.audit_detection import main

    root = _tiny_dota(tmp_path)
    out = tmp_path / "audit"
    rc = main([f"data.root={root}", *DATA, f"predictions={tmp_path / 'oof.json'}", f"out_dir={out}", "top=2"])
    assert rc == 0
    rows = list(csv.DictReader(open(out / "label_issues.csv")))
    first = rows[0]
    assert first["image"] == "syn5_000001" and first["object"] == "1" and first["issue"] == "swapped"
    assert first["line"] == "4"  # two header lines, then the objects
    assert first["fix"].startswith("relabel ") and float(first["p"]) > 0.8
    assert all(float(r["p"]) < 0.5 for r in rows[1:])
    quality = list(csv.DictReader(open(out / "image_quality.csv")))
    assert quality[0]["image"] == "syn5_000001"
    assert len(list((out / "suspects").glob("rank_001_syn5_000001_swapped.png"))) == 1


def test_audit_errors_are_one_line(tmp_path: Path, capsys, monkeypatch):
    from gghl.cli.audit_detection import main

    for var in ("GGHL_DEBUG", "HYDRA_FULL_ERROR"):  # as a user runs it (the test session sets them)
        monkeypatch.delenv(var, raising=False)
    rc = main([f"data.root={tmp_path / 'missing'}", *DATA, f"predictions={tmp_path / 'x.json'}"])
    assert rc == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "images folder not found" in err
    rc = main(["data=synthetic", f"predictions={tmp_path / 'x.json'}"])
    assert rc == 1 and "DOTA-layout dataset" in capsys.readouterr().err


def test_kfold_run_end_to_end(tmp_path: Path):
    """Two folds of one training epoch (one step) on 4 images at 128 px (~3-8 s): every image is predicted by
    the model of the other fold, and a rerun reuses the finished folds."""
    from gghl.cli.audit_detection import main

    root = _tiny_dota(tmp_path)
    out = tmp_path / "audit"
    rc = main(
        [
            f"data.root={root}",
            *DATA,
            "folds=2",
            f"out_dir={out}",
            "trainer.max_epochs=1",
            "trainer.precision=32-true",
            "data.batch_size=2",
            "data.num_workers=0",
            "threads=1",
        ]
    )
    assert rc == 0
    oof = json.loads((out / "oof_predictions.json").read_text())
    assert sorted(oof) == [f"syn5_{i:06d}" for i in range(4)]
    folds = [set(json.loads((out / "folds" / f"fold{k}" / "oof.json").read_text())) for k in range(2)]
    for k in range(2):
        trained_on = {p.stem for p in (out / "folds" / f"fold{k}" / "data" / "train" / "images").iterdir()}
        assert not trained_on & folds[k]  # never predicts an image it trained on
    assert (out / "label_issues.csv").is_file()
    # a second run reuses the finished folds
    rc = main([f"data.root={root}", *DATA, "folds=2", f"out_dir={out}", "data.num_workers=0"])
    assert rc == 0
    assert np.isfinite(float(next(csv.DictReader(open(out / "image_quality.csv")))["quality"]))


def test_init_weights_must_fit_the_model(tmp_path: Path):
    import torch

    from gghl.cli.audit_detection import load_init_weights

    model = torch.nn.Sequential(torch.nn.Linear(3, 2))
    torch.save({"state_dict": {"0.weight": torch.ones(2, 3), "0.bias": torch.zeros(2)}}, tmp_path / "ok.ckpt")
    load_init_weights(model, str(tmp_path / "ok.ckpt"))
    assert torch.equal(model[0].weight, torch.ones(2, 3))
    torch.save({"0.weight": torch.ones(4, 3), "0.bias": torch.zeros(4)}, tmp_path / "other.pt")  # 4 classes
    with pytest.raises(ValueError, match=r"init=.*other.pt: does not fit the model .*2 of another shape"):
        load_init_weights(model, str(tmp_path / "other.pt"))
    torch.save({"1.weight": torch.ones(2, 3)}, tmp_path / "missing.pt")
    with pytest.raises(ValueError, match="2 weights missing"):
        load_init_weights(model, str(tmp_path / "missing.pt"))


def test_predictions_file_must_cover_every_image(tmp_path: Path, capsys, monkeypatch):
    from gghl.cli.audit_detection import main

    for var in ("GGHL_DEBUG", "HYDRA_FULL_ERROR"):
        monkeypatch.delenv(var, raising=False)
    root = _tiny_dota(tmp_path)
    oof = json.loads((tmp_path / "oof.json").read_text())
    oof.pop("syn5_000002")
    (tmp_path / "part.json").write_text(json.dumps(oof))
    with pytest.raises(SystemExit, match=r"no predictions for 1 images, e.g. \['syn5_000002'\]"):
        main(
            [f"data.root={root}", *DATA, f"predictions={tmp_path / 'part.json'}", f"out_dir={tmp_path / 'a'}"]
        )
