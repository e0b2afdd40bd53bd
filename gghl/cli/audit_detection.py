"""Find label errors in a DOTA-layout detection dataset: k-fold training, out-of-fold detections, audit.

usage: gghl-audit-detection data.root=ROOT [folds=3] [split=train] [out_dir=DIR] [top=24] [threads=N]
                            [min_p=0.05] [init=CKPT] [predictions=FILE] [training overrides ...]

Script keys: ``folds`` (k >= 2), ``split`` (the ``data.splits`` entry to audit, default train),
``out_dir`` (default ``logs/audit_detection/<task_name>/<time>``), ``top`` (suspects drawn), ``threads``
(``torch.set_num_threads``; 0 = torch's default), ``min_p`` (smallest issue probability listed),
``init`` (every fold starts from these weights - a checkpoint of the same experiment and classes trained on
*other* images, never on the audited ones), ``predictions`` (an ``oof_predictions.json`` of an earlier run:
no training). Everything else is a Hydra
override of ``gghl/configs/train.yaml`` (``data=dota`` is added unless a ``data=`` is given), so the model and
trainer are the experiment's: e.g. ``experiment=gghl_dota data.root=/data/dota_split`` or, for the light
CPU model, the default ``experiment=gghl_synthetic`` with ``data.version=null data.class_names=[...]``.

For each fold a fresh model is trained (the experiment's model, data and trainer settings; no validation,
logger or checkpoints) on the other folds' images and predicts the held-out images (letterboxed like
evaluation, boxes mapped back to file pixels); a model never sees the images it predicts. A fold whose ``folds/fold<k>/oof.json`` exists is not retrained
(resume after an interruption). Then ``gghl.evaluation.detection_label_quality`` scores every annotation
and detection. Written to ``out_dir``:

- ``label_issues.csv``: suspected errors, most probable first: rank, image, object (index in the label
  file's objects), line (in the label file), issue (overlooked / swapped / badly_located / rotated /
  spurious), p (issue probability), given and suggested class, IoU with the detection, angle error,
  suggested fix, the annotated and the predicted corners;
- ``image_quality.csv``: per-image label quality (low first);
- ``suspects/rank_<r>_<image>_<issue>.png``: the worst suspects drawn, the annotation in yellow and the
  disagreeing detection in magenta;
- ``oof_predictions.json``: the out-of-fold detections (reusable with ``predictions=``);
- a summary on stdout (counts per issue type, wall time per fold).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SCRIPT_KEYS: dict[str, Any] = {
    "folds": 3,
    "split": "train",
    "out_dir": None,
    "top": 24,
    "threads": 0,
    "min_p": 0.05,
    "predictions": None,
    "init": None,
}
ANN_COLOUR, PRED_COLOUR = (255, 215, 0), (255, 0, 255)


def parse_args(argv: Sequence[str]) -> tuple[dict[str, Any], list[str]]:
    """Script keys (typed) and the Hydra overrides, in order; ``data=dota`` first unless ``data=`` is given."""
    opts, overrides = dict(SCRIPT_KEYS), []
    for a in argv:
        key, _, val = a.partition("=")
        if _ and key in SCRIPT_KEYS:
            conv = {"folds": int, "top": int, "threads": int, "min_p": float}.get(key, str)
            try:
                opts[key] = conv(val)
            except ValueError:
                raise SystemExit(f"error: {key}={val!r}: expected {conv.__name__}") from None
        else:
            overrides.append(a)
    if opts["folds"] < 2:
        raise SystemExit("error: folds must be >= 2 (each image is predicted by a model trained without it)")
    if not any(o.split("=", 1)[0].lstrip("+~") == "data" for o in overrides):
        overrides.insert(0, "data=dota")
    return opts, overrides


def compose_config(overrides: list[str]):
    """``gghl/configs/train.yaml`` with the overrides; a refused override is a one-line ``ConfigError``."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException

    from gghl.config import CONFIG_DIR, ConfigError

    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        try:
            return compose("train.yaml", overrides=overrides)
        except HydraException as e:
            raise ConfigError("overrides", " ".join(str(e).split())) from None


def fold_config(overrides: list[str], data_root: Path, split: str):
    """The config of one fold: its own DOTA root with ``train`` (and ``holdout``) folders, no val/test."""
    from omegaconf import open_dict

    cfg = compose_config(overrides)
    with open_dict(cfg):
        cfg.data.root = str(data_root)
        cfg.data.splits = (
            {"train": "train", "val": None, "test": None}
            if split == "train"
            else {"train": None, "val": None, "test": "holdout"}
        )
    return cfg


def link_split(records: list, dst: Path) -> None:
    """``dst/{images,labelTxt}`` with symlinks to the records' files (absolute targets)."""
    for sub in ("images", "labelTxt"):
        (dst / sub).mkdir(parents=True, exist_ok=True)
    for r in records:
        for src, sub in ((r.image_path, "images"), (r.label_path, "labelTxt")):
            link = dst / sub / Path(src).name
            if not link.exists():
                link.symlink_to(Path(src).resolve())


def load_init_weights(model, path: str) -> None:
    """Every weight of ``model`` from a Lightning checkpoint (``state_dict``) or a plain state dict."""
    from gghl.checkpoint import read_weights

    state = read_weights(path)
    state = state.get("state_dict", state)
    if not isinstance(state, dict):
        raise ValueError(f"init={path}: expected a checkpoint or a state dict, got {type(state).__name__}")
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    wrong = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or wrong:
        raise ValueError(
            f"init={path}: does not fit the model ({len(missing)} weights missing, e.g. {missing[:2]}; "
            f"{len(wrong)} of another shape, e.g. {wrong[:2]}): same experiment and classes?"
        )
    model.load_state_dict({k: state[k] for k in own})


def train_fold(cfg, init: str | None, root_dir: Path):
    """A fresh model trained on the fold's ``train`` folder (the experiment's model, data and trainer
    settings; no validation, logger or checkpoints); returns it in eval mode."""
    import hydra
    import lightning as L

    from gghl.cli._arguments import check_arguments
    from gghl.config import check_targets, config_errors, inject_data_info

    skip = ("ModelCheckpoint", "LearningRateMonitor", "ValImageLogger")  # nothing to monitor, log or draw
    with config_errors(cfg):
        check_targets(cfg)
        check_arguments(cfg)
        L.seed_everything(cfg.seed, workers=True)
        dm = hydra.utils.instantiate(cfg.data)
        inject_data_info(cfg, dm)
        model = hydra.utils.instantiate(cfg.model, _convert_="all")
        callbacks = [
            hydra.utils.instantiate(c)
            for c in (cfg.get("callbacks") or {}).values()
            if c is not None and "_target_" in c and not str(c._target_).endswith(skip)
        ]
        trainer = hydra.utils.instantiate(
            cfg.trainer,
            callbacks=callbacks,
            logger=False,
            enable_checkpointing=False,
            default_root_dir=str(root_dir),
            limit_val_batches=0,
        )
    if init:
        load_init_weights(model, init)
    trainer.fit(model, datamodule=dm)
    return model.eval()


def predict_holdout(model, cfg) -> dict[str, dict]:
    """Detections on the fold's ``holdout`` folder, in file pixels: ``{image_id: {polygons, scores, labels}}``."""
    import hydra
    import torch

    from gghl.structures import hbb_to_poly

    dm = hydra.utils.instantiate(cfg.data)
    dm.setup("test")
    out: dict[str, dict] = {}
    with torch.inference_mode():
        for images, targets in dm.test_dataloader():
            for t, d in zip(targets, model.predict_batch(images, targets)):
                polys = d["polygons"] if "polygons" in d else hbb_to_poly(d["boxes"])
                out[str(t["image_id"])] = {
                    "polygons": [[round(float(v), 3) for v in p] for p in polys.double().tolist()],
                    "scores": [round(float(s), 5) for s in d["scores"].tolist()],
                    "labels": [int(v) for v in d["labels"].tolist()],
                }
    return out


def out_of_fold_predictions(
    records: list, overrides: list[str], out_dir: Path, folds: int, seed: int, init: str | None = None
) -> dict:
    """Train ``folds`` models and collect every image's detections from the model that did not see it."""
    import json

    import numpy as np

    order = np.random.default_rng(seed).permutation(len(records))
    parts = np.array_split(order, folds)
    oof: dict[str, dict] = {}
    for k, hold in enumerate(parts):
        fdir = out_dir / "folds" / f"fold{k}"
        done = fdir / "oof.json"
        held = [records[i] for i in hold]
        if done.is_file():
            oof.update(json.loads(done.read_text()))
            print(f"fold {k + 1}/{folds}: reusing {done} ({len(held)} images)", flush=True)
            continue
        train = [records[i] for i in np.setdiff1d(order, hold)]
        link_split(train, fdir / "data" / "train")
        link_split(held, fdir / "data" / "holdout")
        print(f"fold {k + 1}/{folds}: training on {len(train)} images, {len(held)} held out", flush=True)
        t0 = time.time()
        model = train_fold(fold_config(overrides, fdir / "data", "train"), init, fdir)
        preds = predict_holdout(model, fold_config(overrides, fdir / "data", "holdout"))
        missing = sorted({r.image_id for r in held} - set(preds))
        if missing:
            raise RuntimeError(
                f"fold {k}: no predictions for {missing[:5]} (the held-out loader skipped them)"
            )
        done.write_text(json.dumps(preds))
        oof.update(preds)
        n_det = sum(len(p["scores"]) for p in preds.values())
        print(
            f"fold {k + 1}/{folds}: done in {time.time() - t0:.0f}s, {n_det} detections on the held-out images",
            flush=True,
        )
    return oof


def line_numbers(record) -> list[int]:
    """Label-file line of each object the dataset kept (objects it skipped are passed over in file order)."""
    import numpy as np

    from gghl.data.dota_labels import read_dota_labels

    if record.label_path is None:
        return []
    objs = read_dota_labels(record.label_path, on_error="skip").objects
    lines, k = [], 0
    for poly in record.polygons:
        while k < len(objs) and not np.array_equal(objs[k].poly_array(), poly):
            k += 1
        lines.append(objs[k].line_no if k < len(objs) else 0)
        k += 1
    return lines


def draw_suspect(image, row: dict, path: Path, scale: int = 2) -> None:
    """Crop around the suspect (annotation yellow, detection magenta), enlarged, captioned."""
    import numpy as np
    from PIL import Image, ImageDraw

    polys = [
        (np.array(row[k].split(), dtype=float), c)
        for k, c in (("box", ANN_COLOUR), ("predicted_box", PRED_COLOUR))
        if row[k]
    ]
    pts = np.concatenate([p for p, _ in polys]).reshape(-1, 2)
    h, w = image.shape[:2]
    pad = max(24.0, 0.5 * float((pts.max(0) - pts.min(0)).max()))
    x0, y0 = (int(max(0, v)) for v in pts.min(0) - pad)
    x1, y1 = int(min(w, pts[:, 0].max() + pad)), int(min(h, pts[:, 1].max() + pad))
    crop = Image.fromarray(np.ascontiguousarray(image[y0 : max(y1, y0 + 1), x0 : max(x1, x0 + 1)]))
    crop = crop.resize((crop.width * scale, crop.height * scale), Image.NEAREST)
    canvas = Image.new("RGB", (max(crop.width, 260), crop.height + 28), "black")
    canvas.paste(crop, (0, 28))
    draw = ImageDraw.Draw(canvas)
    for p, colour in polys:
        xy = [((p[2 * i] - x0) * scale, (p[2 * i + 1] - y0) * scale + 28) for i in range(4)]
        draw.line([*xy, xy[0]], fill=colour, width=2)
    draw.text((2, 1), f"#{row['rank']} {row['issue']} p={row['p']:.2f}", fill=(255, 255, 255))
    draw.text((2, 14), row["fix"][:60], fill=(200, 200, 200))
    canvas.save(path)


def write_outputs(
    rows: list[dict], records: list, audit, class_names: list[str], out_dir: Path, top: int
) -> Path:
    import csv

    import numpy as np

    from gghl.data.image_io import read_image

    lines = {i: line_numbers(r) for i, r in enumerate(records)}
    fields = [
        "rank",
        "image",
        "object",
        "line",
        "issue",
        "p",
        "quality",
        "given_class",
        "suggested_class",
        "iou",
        "angle_error_deg",
        "fix",
        "box",
        "predicted_box",
        "pred_score",
    ]  # pred_score: of predicted_box
    csv_path = out_dir / "label_issues.csv"
    with open(csv_path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            obj = r["object"]
            w.writerow(
                {
                    **r,
                    "image": records[r["image"]].image_id,
                    "line": lines[r["image"]][obj] if obj >= 0 and lines[r["image"]] else "",
                    **{
                        k: f"{r[k]:.4f}" if np.isfinite(r[k]) else ""
                        for k in ("p", "quality", "iou", "angle_error_deg", "pred_score")
                    },
                }
            )
    with open(out_dir / "image_quality.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["image", "quality", "annotations"])
        for i in sorted(range(len(records)), key=lambda i: audit.image_quality[i]):
            w.writerow([records[i].image_id, f"{audit.image_quality[i]:.4f}", len(records[i].labels)])
    sus = out_dir / "suspects"
    sus.mkdir(exist_ok=True)
    for old in sus.glob("rank_*.png"):  # a rerun into the same folder must not mix two rankings
        old.unlink()
    for r in rows[:top]:
        img = read_image(records[r["image"]].image_path)
        draw_suspect(img, r, sus / f"rank_{r['rank']:03d}_{records[r['image']].image_id}_{r['issue']}.png")
    return csv_path


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry: one-line errors for gghl's own errors and missing files (``GGHL_DEBUG=1``: traceback)."""
    from gghl.cli._entry import debug_enabled, is_user_error, report_user_error

    args = list(sys.argv[1:] if argv is None else argv)
    if any(a in ("-h", "--help") for a in args):
        print(__doc__)
        return 0
    opts, overrides = parse_args(args)
    try:
        return audit(opts, overrides)
    except Exception as err:
        if debug_enabled() or not is_user_error(err):
            raise
        report_user_error(err)
        return 1


def audit(opts: dict[str, Any], overrides: list[str]) -> int:
    """The whole run (see the module docstring); returns the exit status."""
    start = time.time()
    import json

    import numpy as np
    import torch

    from gghl.config import ConfigError, config_errors
    from gghl.data.dota import DotaDataset
    from gghl.evaluation.detection_label_issues import rank_issues
    from gghl.evaluation.detection_label_quality import audit_detection_labels

    if opts["threads"] > 0:
        torch.set_num_threads(opts["threads"])
    cfg = compose_config(overrides)
    with config_errors(cfg):
        if not str(cfg.data.get("_target_", "")).endswith("DotaDataModule"):
            raise ConfigError(
                "data", f"the audit reads a DOTA-layout dataset (data=dota ...), got {cfg.data._target_}"
            )
        splits = dict(cfg.data.get("splits") or {})
        if opts["split"] not in splits or not splits[opts["split"]]:
            raise ConfigError("data.splits", f"no split {opts['split']!r} to audit; have {splits}")
        import hydra

        dm = hydra.utils.instantiate(cfg.data)
    ds = DotaDataset(
        cfg.data.root, splits[opts["split"]], class_names=dm.class_names, on_error=cfg.data.on_error
    )
    records, names = ds.records, list(dm.class_names)
    out_dir = Path(
        opts["out_dir"]
        or Path("logs", "audit_detection", str(cfg.task_name), time.strftime("%Y-%m-%d_%H-%M-%S"))
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    print(
        f"audit of {ds.root / ds.split}: {len(records)} images, {sum(len(r.labels) for r in records)} annotations, "
        f"{len(names)} classes -> {out_dir}",
        flush=True,
    )

    if opts["predictions"]:
        oof = json.loads(Path(opts["predictions"]).read_text())
    else:
        oof = out_of_fold_predictions(records, overrides, out_dir, opts["folds"], int(cfg.seed), opts["init"])
        (out_dir / "oof_predictions.json").write_text(json.dumps(oof))
    missing = [r.image_id for r in records if r.image_id not in oof]
    if missing:
        raise SystemExit(f"error: no predictions for {len(missing)} images, e.g. {missing[:3]}")
    anns = [{"boxes": r.polygons, "labels": r.labels} for r in records]
    preds = [
        {
            "boxes": np.asarray(oof[r.image_id]["polygons"], dtype=np.float64).reshape(-1, 8),
            "scores": np.asarray(oof[r.image_id]["scores"], dtype=np.float64),
            "labels": np.asarray(oof[r.image_id]["labels"], dtype=np.int64),
        }
        for r in records
    ]
    audit = audit_detection_labels(anns, preds, len(names))
    rows = rank_issues(audit, anns, preds, names, min_p=opts["min_p"])
    csv_path = write_outputs(rows, records, audit, names, out_dir, opts["top"])

    print("\n==== detection label audit ====")
    print(f"images={len(records)} annotations={len(audit.ann_label)} detections={len(audit.pred_score)}")
    print(
        "references per class (iou / shape / support): "
        + ", ".join(
            f"{n} {a:.2f}/{b:.2f}/{c:.2f}"
            for n, a, b, c in zip(names, audit.iou_ref, audit.shape_ref, audit.support_ref)
        )
    )
    for kind in ("overlooked", "swapped", "badly_located", "rotated", "spurious"):
        ps = [r["p"] for r in rows if r["issue"] == kind]
        print(f"{kind:14s} listed={len(ps):5d}  p>=0.5: {sum(p >= 0.5 for p in ps)}")
    print(f"csv={csv_path}")
    print(f"wall_time_s={time.time() - start:.1f}")
    return 0
