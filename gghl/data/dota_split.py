"""Split large DOTA images into fixed-size patches with their labels (the DOTA_devkit / mmrotate split).

Layout: ``src_root/images/<name>.<ext>`` (+ optional ``src_root/labelTxt/<name>.txt``) ->
``dst_root/images/<name>__<rate>__<x>___<y>.png`` and ``dst_root/labelTxt/<same>.txt`` (DOTA_devkit names,
e.g. ``P0000__1__0___824.png``; see :func:`gghl.data.tiling.format_patch_name`).

Rules (with the tool each one follows):

- Rescale: the whole image is resized by ``rate`` first (bicubic; size ``round(W*rate) x round(H*rate)``)
  and label coordinates are multiplied by ``rate`` (DOTA_devkit ``SplitSingle``). ``x, y`` in the patch name
  are in the rescaled image. (mmrotate instead grows the window to ``size/rate``; the patches match up to
  interpolation.)
- Windows: :func:`gghl.data.tiling.make_windows` (mmrotate ``get_sliding_window`` == devkit), then
  mmrotate's ``img_rate_thr`` filter (image area in window / window area > thr, or the best ones if none).
- Keep an object in a window when ``area(object ∩ window) / area(object) >= iof_thr`` (mmrotate
  ``get_window_obj``; exact polygon clipping, :func:`gghl.data.dota_clip.clip_polygon`, window
  ``[x, x+size] x [y, y+size]``). Objects with zero area count as inside only if all 4 vertices are.
- Truncated objects (IoF < 1) get difficult ``2`` (mmrotate ``crop_and_save_img``: ``'2' if trunc``); whole
  ones keep their own flag. DOTA_devkit differs: it writes every object with IoF > 0 and marks those with
  IoF <= thresh as ``2``; we do not write objects below ``iof_thr``.
- ``clip_truncated=True`` (default): a truncated object's polygon is clipped to the window and turned back
  into 4 points by :func:`gghl.data.dota_clip.fit_quad` (4 vertices kept; otherwise min-area rectangle).
  ``False`` writes the uncut polygon (mmrotate).
- Edge patches are padded to ``size x size`` at the right/bottom with ``padding_value`` (mmrotate ss/ms
  configs use 104,116,124; devkit uses 0).
- Coordinates are written with up to 2 decimals; objects no window keeps are counted and reported.

Re-runs are idempotent: every file is written to a temporary name and renamed, so an existing file is
complete; a finished image is skipped without decoding it. ``split_config.json`` in ``dst_root`` records
the parameters and a re-run with different ones is refused.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from PIL import Image

from gghl.data import dota_clip
from gghl.data.dota_labels import DotaObject, read_dota_labels
from gghl.data.image_files import describe_exts, index_files, list_image_files
from gghl.data.image_io import read_image, read_image_size
from gghl.data.tiling import format_patch_name, make_windows

__all__ = ["SplitConfig", "read_labels", "split_image", "split_dataset"]


def read_labels(path: str | os.PathLike) -> list[DotaObject]:
    """Objects of a DOTA ``labelTxt`` file via :func:`gghl.data.dota_labels.read_dota_labels` (the shared
    reader). Malformed lines raise ``DotaFormatError`` (a ``ValueError``) naming file and line; nothing is
    skipped."""
    return read_dota_labels(path, on_error="raise").objects


@dataclass
class SplitConfig:
    """Parameters of one split; stored as ``split_config.json`` in the destination."""

    size: int = 1024
    gap: int = 200
    rates: tuple[float, ...] = (1.0,)
    iof_thr: float = 0.7
    img_rate_thr: float = 0.6
    padding_value: tuple[int, ...] = (104, 116, 124)
    clip_truncated: bool = True
    ext: str = ".png"
    png_compress_level: int = 1
    extra: dict = field(default_factory=dict)

    def check(self) -> None:
        make_windows(1, 1, self.size, self.gap)  # validates size/gap
        if not 0.0 <= self.iof_thr <= 1.0 or not 0.0 <= self.img_rate_thr < 1.0:
            raise ValueError(
                f"need 0 <= iof_thr <= 1 and 0 <= img_rate_thr < 1, got {self.iof_thr}, {self.img_rate_thr}"
            )
        if not self.rates or any(not r > 0 for r in self.rates):
            raise ValueError(f"rates must be positive, got {self.rates}")
        if len(self.padding_value) not in (1, 3):
            raise ValueError(f"padding_value needs 1 or 3 values, got {self.padding_value}")
        if self.ext not in (".png", ".jpg"):
            raise ValueError(f"ext must be .png or .jpg, got {self.ext!r}")


def _keep_by_img_rate(
    wins: list[tuple[int, int]], w: int, h: int, size: int, thr: float
) -> list[tuple[int, int]]:
    """mmrotate's filter: keep windows whose image-area fraction is > thr; if none, the best ones (±0.01)."""
    rates = np.array([(min(x + size, w) - x) * (min(y + size, h) - y) / size**2 for x, y in wins])
    keep = rates > thr
    if not keep.any():
        keep = np.abs(rates - rates.max()) < 0.01
    return [win for win, k in zip(wins, keep) if k]


def _fmt(v: float) -> str:
    s = f"{v:.2f}".rstrip("0").rstrip(".")
    return "0" if s == "-0" else s


def window_labels(
    objs: Sequence[DotaObject], x: int, y: int, size: int, iof_thr: float, clip: bool
) -> tuple[list[str], list[int]]:
    """Label lines (patch pixels, newline-terminated) of the objects kept in window ``(x, y, size)``.

    ``objs`` are in the (rescaled) image frame. Returns the lines and the indices of the kept objects.
    See the module docstring for the rules.
    """
    if not objs:
        return [], []
    pts_all = np.asarray([o.polygon for o in objs], dtype=np.float64).reshape(-1, 4, 2)
    lo, hi = pts_all.min(1), pts_all.max(1)
    x1, y1 = x + size, y + size
    # Horizontal-box pre-filter in numpy; only overlapping objects reach the exact test.
    cand = np.nonzero((lo[:, 0] < x1) & (lo[:, 1] < y1) & (hi[:, 0] > x) & (hi[:, 1] > y))[0]
    rect = np.array([[x, y], [x1, y], [x1, y1], [x, y1]], dtype=np.float64)
    lines, kept = [], []
    for k in cand.tolist():
        o, pts = objs[k], pts_all[k]
        inside = lo[k, 0] >= x and lo[k, 1] >= y and hi[k, 0] <= x1 and hi[k, 1] <= y1
        area = dota_clip.polygon_area(pts)
        if inside:
            iof, out = 1.0, pts
        elif area <= 1e-9:
            continue  # degenerate and not fully inside
        else:
            cut = dota_clip.clip_polygon(pts, rect)
            iof = dota_clip.polygon_area(cut) / area
            if iof < iof_thr or len(cut) < 3:
                continue
            # A vertex exactly on the border gives iof 1 only up to rounding.
            if iof >= 1.0 - 1e-9:
                iof, out = 1.0, pts
            else:
                out = dota_clip.fit_quad(cut, pts) if clip else pts
        diff = o.difficult if iof >= 1.0 else 2
        coords = " ".join(_fmt(v) for v in (out - (x, y)).reshape(-1))
        lines.append(f"{coords} {o.class_name} {diff}\n")
        kept.append(k)
    return lines, kept


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _atomic_save_image(path: Path, arr: np.ndarray, cfg: SplitConfig) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    img = Image.fromarray(arr)
    if cfg.ext == ".png":
        img.save(tmp, format="PNG", compress_level=cfg.png_compress_level)
    else:
        img.save(tmp, format="JPEG", quality=95)
    os.replace(tmp, path)


def split_image(
    img_path: str | os.PathLike,
    label_path: str | os.PathLike | None,
    dst_root: str | os.PathLike,
    cfg: SplitConfig,
) -> dict[str, int]:
    """Split one image at every rate of ``cfg``; write the missing patches and label files.

    ``label_path`` None means no labels (test split): only images are written.
    Returns counts: ``written``, ``skipped`` (patches already complete), ``objects``, ``lost`` (objects in no
    patch at some rate).
    """
    img_path, dst = Path(img_path), Path(dst_root)
    stem = img_path.stem
    objs = read_labels(label_path) if label_path is not None else []
    height, width = read_image_size(img_path)
    rgb: Image.Image | None = None
    stats = {"written": 0, "skipped": 0, "objects": len(objs), "lost": 0}
    for rate in cfg.rates:
        w, h = max(1, round(width * rate)), max(1, round(height * rate))
        wins = _keep_by_img_rate(make_windows(w, h, cfg.size, cfg.gap), w, h, cfg.size, cfg.img_rate_thr)
        names = [format_patch_name(stem, rate, x, y) for x, y in wins]
        todo = [
            i
            for i, n in enumerate(names)
            if not (dst / "images" / (n + cfg.ext)).exists()
            or (label_path is not None and not (dst / "labelTxt" / (n + ".txt")).exists())
        ]
        stats["skipped"] += len(wins) - len(todo)
        r_objs = [replace(o, polygon=o.poly_array() * rate) for o in objs] if rate != 1 else objs
        labels: dict[int, list[str]] = {}
        seen = np.zeros(len(r_objs), dtype=bool)
        for i, (x, y) in enumerate(wins):
            # Every window is labelled (also the complete ones) so objects kept nowhere are reported.
            lines, kept = window_labels(r_objs, x, y, cfg.size, cfg.iof_thr, cfg.clip_truncated)
            labels[i] = lines
            seen[kept] = True
        stats["lost"] += int((~seen).sum())
        if not todo:
            continue
        if rgb is None:
            # read_image: RGB uint8 for any mode (16-bit, gray, palette, alpha); lifts PIL's pixel limit.
            rgb = Image.fromarray(read_image(img_path))
        scaled = rgb if rate == 1 else rgb.resize((w, h), Image.Resampling.BICUBIC)
        arr = np.asarray(scaled)
        for i in todo:
            x, y = wins[i]
            if label_path is not None:
                _atomic_write_text(dst / "labelTxt" / (names[i] + ".txt"), "".join(labels[i]))
            patch = arr[y : y + cfg.size, x : x + cfg.size]
            if patch.shape[:2] != (cfg.size, cfg.size):
                full = np.empty((cfg.size, cfg.size, 3), dtype=np.uint8)
                full[...] = np.array(cfg.padding_value, dtype=np.uint8)
                full[: patch.shape[0], : patch.shape[1]] = patch
                patch = full
            _atomic_save_image(dst / "images" / (names[i] + cfg.ext), np.ascontiguousarray(patch), cfg)
            stats["written"] += 1
    return stats


def _split_one(item: tuple[str, str | None], dst_root: str, cfg: SplitConfig) -> tuple[str, dict[str, int]]:
    img, lab = item
    return img, split_image(img, lab, dst_root, cfg)


def _list_inputs(src: Path) -> list[tuple[str, str | None]]:
    img_dir, lab_dir = src / "images", src / "labelTxt"
    if not img_dir.is_dir():
        raise FileNotFoundError(f"{img_dir} is not a directory (expected src_root/images/*.png)")
    images = list_image_files(img_dir)  # any extension case: P0001.PNG is an image
    if not images:
        raise FileNotFoundError(f"{img_dir}: no image files ({describe_exts()}) to split")
    stems = [p.stem for p in images]
    dup = {s for s in stems if stems.count(s) > 1}
    if dup:
        raise ValueError(f"{img_dir}: several images share a name: {sorted(dup)[:5]}")
    if not lab_dir.is_dir():
        return [(str(p), None) for p in images]
    labels, dup_labels = index_files(lab_dir, (".txt",))
    if dup_labels:
        raise ValueError(f"{lab_dir}: several label files share a name: {sorted(dup_labels)[:5]}")
    orphans = sorted(set(labels) - set(stems))
    if orphans:
        raise FileNotFoundError(
            f"{lab_dir}: {len(orphans)} label files have no image in {img_dir}, e.g. {labels[orphans[0]].name}"
        )
    out: list[tuple[str, str | None]] = []
    for p in images:
        lab = labels.get(p.stem)
        if lab is None:
            raise FileNotFoundError(
                f"{lab_dir / (p.stem + '.txt')} is missing (labelTxt/ exists, so every image needs a label file)"
            )
        out.append((str(p), str(lab)))
    return out


def _check_config(dst: Path, cfg: SplitConfig) -> None:
    path = dst / "split_config.json"
    want = json.loads(json.dumps(asdict(cfg)))
    if path.exists():
        have = json.loads(path.read_text())
        if have != want:
            raise ValueError(
                f"{path} was written with other parameters {have}; use a new dst_root (asked: {want})"
            )
    else:
        _atomic_write_text(path, json.dumps(want, indent=2, sort_keys=True) + "\n")


def split_dataset(
    src_root: str | os.PathLike,
    dst_root: str | os.PathLike,
    sizes: Sequence[int] = (1024,),
    gaps: Sequence[int] = (200,),
    rates: Sequence[float] = (1.0,),
    iof_thr: float = 0.7,
    img_rate_thr: float = 0.6,
    padding_value: Sequence[int] = (104, 116, 124),
    num_workers: int | None = None,
    clip_truncated: bool = True,
    ext: str = ".png",
    png_compress_level: int = 1,
    progress: bool = True,
) -> dict[str, int]:
    """Split every image of ``src_root`` into ``dst_root`` (module docstring has the rules).

    One ``size``/``gap`` pair per destination: the devkit patch name carries no size, so two sizes would
    write the same names (mmrotate puts the size in the name instead). ``rates`` may hold several values
    (multi-scale, e.g. 0.5 1.0 1.5 with gap 500). ``num_workers``: processes (default ``min(8, cpus)``;
    0 or 1 runs in this process). ``png_compress_level`` 1 favours speed (zlib level; files are ~20% larger
    than level 6). Returns totals: images, written, skipped, objects, lost.
    """
    if len(sizes) != 1 or len(gaps) != 1:
        raise ValueError(
            f"give exactly one size and one gap per dst_root (patch names carry no size), got {sizes}, {gaps}"
        )
    cfg = SplitConfig(
        size=int(sizes[0]),
        gap=int(gaps[0]),
        rates=tuple(float(r) for r in rates),
        iof_thr=float(iof_thr),
        img_rate_thr=float(img_rate_thr),
        padding_value=tuple(int(v) for v in padding_value),
        clip_truncated=bool(clip_truncated),
        ext=ext,
        png_compress_level=int(png_compress_level),
    )
    cfg.check()
    src, dst = Path(src_root), Path(dst_root)
    inputs = _list_inputs(src)
    (dst / "images").mkdir(parents=True, exist_ok=True)
    if any(lab is not None for _, lab in inputs):
        (dst / "labelTxt").mkdir(parents=True, exist_ok=True)
    _check_config(dst, cfg)
    for stale in [*(dst / "images").glob(".*.tmp"), *(dst / "labelTxt").glob(".*.tmp")]:
        stale.unlink()  # left by an interrupted run; the final names are only ever written by rename
    workers = min(8, os.cpu_count() or 1) if num_workers is None else num_workers
    fn = partial(_split_one, dst_root=str(dst), cfg=cfg)
    totals = {"images": len(inputs), "written": 0, "skipped": 0, "objects": 0, "lost": 0}
    lost_in: list[str] = []
    from tqdm import tqdm

    bar = tqdm(total=len(inputs), desc="dota split", unit="img", disable=not progress)
    if workers <= 1 or len(inputs) <= 1:
        results = map(fn, inputs)
        pool = None
    else:
        # Platform default start method, as torch DataLoader (fork on Linux: no re-import of torch per worker).
        pool = get_context().Pool(workers)
        results = pool.imap_unordered(fn, inputs)
    try:
        for img, st in results:
            for k in ("written", "skipped", "objects", "lost"):
                totals[k] += st[k]
            if st["lost"]:
                lost_in.append(Path(img).name)
            bar.update(1)
    finally:
        bar.close()
        if pool is not None:
            pool.close()
            pool.join()
    if lost_in:
        warnings.warn(
            f"{totals['lost']} objects are in no patch at some rate (IoF < {iof_thr} in every window, e.g. "
            f"larger than the window) in {len(lost_in)} images: {sorted(lost_in)[:10]}",
            stacklevel=2,
        )
    return totals
