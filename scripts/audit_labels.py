#!/usr/bin/env python
"""Audit a dataset's labels with confident learning on k-fold out-of-fold probabilities.

    python scripts/audit_labels.py experiment=classify_digits_noisy folds=5 [split=train] [top=48]
        [out_dir=PATH] [any Hydra override, e.g. trainer.max_epochs=5 data=csv data.train_csv=...]

``folds``, ``split`` (train | val | test), ``top`` (suspects in the picture grid) and ``out_dir`` belong
to this script; every other argument is a Hydra override of ``gghl/configs/train.yaml``, so the model, data
and trainer are exactly those of the experiment. For each fold a fresh model is trained on the other
folds (no validation, no checkpoints) and predicts the held-out fold without augmentation.

Writes to ``out_dir`` (default ``logs/audit/<task_name>/<time>``):
- ``label_issues.csv``: suspected errors, most suspicious first: rank, index, source, given and
  suggested label, quality score, p(given), p(suggested) (+ true label / flipped for simulations);
- ``suspects.png``: picture grid of the top suspects captioned ``given -> suggested``;
- ``oof.npz``: ``labels``, ``pred_probs`` (+ ``flipped``, ``true_labels``), usable by
  ``scripts/bench_label_quality.py --probs``.
"""

from __future__ import annotations

import csv
import os
import sys
import time

import numpy as np

SCRIPT_KEYS = {"folds": 5, "split": "train", "top": 48, "out_dir": None}


def parse_args(argv: list[str]) -> tuple[dict, list[str]]:
    opts, overrides = dict(SCRIPT_KEYS), []
    for a in argv:
        key = a.split("=", 1)[0]
        if "=" in a and key in SCRIPT_KEYS:
            val = a.split("=", 1)[1]
            opts[key] = int(val) if key in ("folds", "top") else val
        elif a in ("-h", "--help"):
            print(__doc__)
            sys.exit(0)
        else:
            overrides.append(a)
    if opts["folds"] < 2:
        raise SystemExit("folds must be >= 2")
    return opts, overrides


def out_of_fold_probs(cfg, dm, split: str, folds: int) -> np.ndarray:
    """float64 ``[N, C]`` held-out probabilities for every item of ``split``."""
    import hydra
    import torch
    from sklearn.model_selection import KFold, StratifiedKFold
    from torch.utils.data import DataLoader, Subset

    data = dm.splits[split]
    labels = data.labels
    train_ds = dm.datasets[split] if split == "train" else dm.make_dataset(split, data, train=True)
    eval_ds = dm.make_dataset(split, data, train=False)
    counts = np.bincount(labels, minlength=dm.num_classes)
    splitter = (
        StratifiedKFold(folds, shuffle=True, random_state=cfg.seed)
        if counts[counts > 0].min() >= folds
        else KFold(folds, shuffle=True, random_state=cfg.seed)
    )
    oof = np.full((len(labels), dm.num_classes), np.nan)
    for k, (tr, ho) in enumerate(splitter.split(np.zeros(len(labels)), labels)):
        t = time.time()
        fold_counts = np.bincount(labels[tr], minlength=dm.num_classes).tolist()
        model = hydra.utils.instantiate(cfg.model, class_counts=fold_counts)
        trainer = hydra.utils.instantiate(
            cfg.trainer,
            logger=False,
            callbacks=[],
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            limit_val_batches=0,
            default_root_dir=None,
        )
        loader = DataLoader(
            Subset(train_ds, tr),
            batch_size=dm.batch_size,
            shuffle=True,
            num_workers=dm.num_workers,
            drop_last=len(tr) > dm.batch_size,
        )
        trainer.fit(model, train_dataloaders=loader)
        outs = trainer.predict(
            model, DataLoader(Subset(eval_ds, ho), batch_size=dm.batch_size, num_workers=dm.num_workers)
        )
        probs = torch.cat([o["probs"] for o in outs]).double().numpy()
        idx = torch.cat([o["index"] for o in outs]).numpy()
        oof[idx] = probs
        acc = (probs.argmax(1) == labels[idx]).mean()
        print(
            f"fold {k + 1}/{folds}: {len(tr)} train, {len(ho)} held out, acc vs given labels {acc:.3f}, "
            f"{time.time() - t:.0f}s",
            flush=True,
        )
    assert not np.isnan(oof).any()
    return oof


def source_names(dm, split: str, n: int) -> list[str]:
    paths = dm.splits[split].extra.get("paths")
    return list(paths) if paths is not None else [f"{type(dm).__name__}:{split}:{i}" for i in range(n)]


def tile(ds, i: int, size: int):
    """RGB PIL tile of item ``i``: the file itself when the dataset reads files, else the tensor min-max scaled."""
    from PIL import Image

    if hasattr(ds, "load"):
        img = ds.load(i)
    else:
        x = ds[i]["image"].float()
        x = (x - x.min()) / (x.max() - x.min()).clamp(min=1e-8)
        arr = (x.permute(1, 2, 0).numpy() * 255).astype(np.uint8)
        img = Image.fromarray(arr[..., :3] if arr.shape[2] >= 3 else arr[..., 0])
    return img.convert("RGB").resize((size, size), Image.NEAREST)


def picture_grid(ds, rows: list[dict], path: str, size: int = 96, cols: int = 8) -> None:
    from PIL import Image, ImageDraw

    if not rows:
        return
    cap = 26
    n_rows = (len(rows) + cols - 1) // cols
    grid = Image.new("RGB", (cols * size, n_rows * (size + cap)), "white")
    draw = ImageDraw.Draw(grid)
    for k, r in enumerate(rows):
        x, y = (k % cols) * size, (k // cols) * (size + cap)
        grid.paste(tile(ds, int(r["index"]), size), (x, y))
        draw.text(
            (x + 2, y + size + 1), f"#{r['index']} {r['given_label']}->{r['suggested_label']}", fill="black"
        )
        draw.text((x + 2, y + size + 13), f"q={float(r['quality_score']):.2f}", fill="gray")
    grid.save(path)


def main(argv: list[str] | None = None) -> int:
    opts, overrides = parse_args(sys.argv[1:] if argv is None else argv)
    import hydra
    import lightning as L
    from hydra import compose, initialize_config_dir

    from gghl.config import CONFIG_DIR, inject_data_info
    from gghl.evaluation.label_quality import find_label_issues, label_quality_scores

    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        cfg = compose("train.yaml", overrides=overrides)
    L.seed_everything(cfg.seed, workers=True)
    dm = hydra.utils.instantiate(cfg.data)
    inject_data_info(cfg, dm)
    dm.setup()
    split = opts["split"]
    if split not in dm.splits:
        raise SystemExit(f"unknown split {split!r}; have {list(dm.splits)}")
    data = dm.splits[split]
    out_dir = opts["out_dir"] or os.path.join(
        "logs", "audit", str(cfg.task_name), time.strftime("%Y-%m-%d_%H-%M-%S")
    )
    os.makedirs(out_dir, exist_ok=True)

    probs = out_of_fold_probs(cfg, dm, split, opts["folds"])
    labels = data.labels
    issues = find_label_issues(labels, probs)
    scores = label_quality_scores(labels, probs)
    order = np.flatnonzero(issues)[np.argsort(scores[issues], kind="stable")]
    names, cls = source_names(dm, split, len(labels)), dm.class_names
    known = data.flipped is not None and data.true_labels is not None
    rows = []
    for rank, i in enumerate(order, start=1):
        sug = int(probs[i].argmax())
        row = {
            "rank": rank,
            "index": int(i),
            "source": names[i],
            "given_label": cls[labels[i]],
            "suggested_label": cls[sug],
            "quality_score": f"{scores[i]:.5f}",
            "p_given": f"{probs[i, labels[i]]:.5f}",
            "p_suggested": f"{probs[i, sug]:.5f}",
        }
        if known:
            row.update(true_label=cls[data.true_labels[i]], flipped=bool(data.flipped[i]))
        rows.append(row)
    csv_path = os.path.join(out_dir, "label_issues.csv")
    with open(csv_path, "w", newline="") as f:
        fields = list(rows[0]) if rows else ["rank", "index", "source", "given_label", "suggested_label"]
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)
    extra = {"flipped": data.flipped, "true_labels": data.true_labels} if known else {}
    np.savez(os.path.join(out_dir, "oof.npz"), labels=labels, pred_probs=probs, **extra)
    picture_grid(
        dm.make_dataset(split, data, train=False), rows[: opts["top"]], os.path.join(out_dir, "suspects.png")
    )

    print(f"\n==== label audit ({split}, {len(labels)} items, {opts['folds']} folds) ====")
    print(f"out-of-fold acc vs given labels={(probs.argmax(1) == labels).mean():.4f}")
    print(f"flagged={int(issues.sum())} ({issues.mean():.2%})  csv={csv_path}")
    if known and data.flipped.any():
        tp = int((issues & data.flipped).sum())
        p, r = tp / max(issues.sum(), 1), tp / data.flipped.sum()
        print(
            f"vs injected flips ({int(data.flipped.sum())}): precision={p:.4f} recall={r:.4f} "
            f"F1={2 * p * r / max(p + r, 1e-12):.4f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
