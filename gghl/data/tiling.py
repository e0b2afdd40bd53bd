"""Sliding windows over large images, DOTA patch names, and merging per-tile detections back.

One window rule serves the offline DOTA split (:mod:`gghl.data.dota_split`), the merge of patch results
(:mod:`gghl.data.dota_merge`) and large-image inference (:func:`tiled_inference`, or :func:`iter_tiles` +
:func:`untile_detections` for callers that run the model themselves).

Frames: a window / tile ``(x, y)`` is the top-left pixel of a ``size x size`` square in the (rescaled) image
frame; a detection in a tile has pixel coordinates relative to that corner. Mapping back to the original
image is ``(p + (x, y)) / rate``, as DOTA_devkit's ``ResultMerge`` ``poly2origpoly`` does.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Sequence
from typing import NamedTuple

import torch
from torch import Tensor

from gghl import ops
from gghl.ops._nms_reference import greedy_from_matrix, score_order
from gghl.structures import poly_to_obb

__all__ = [
    "Detections",
    "make_windows",
    "format_patch_name",
    "parse_patch_name",
    "PatchName",
    "iter_tiles",
    "tile_to_image",
    "nms_merge",
    "untile_detections",
    "rescale_image",
    "tiled_inference",
]


def make_windows(width: int, height: int, size: int, gap: int) -> list[tuple[int, int]]:
    """Top-left corners ``(x, y)`` of the ``size x size`` windows that cover a ``width x height`` image.

    Same rule as mmrotate ``img_split.get_sliding_window`` and DOTA_devkit ``ImgSplit.SplitSingle`` (they
    agree): starts at 0, step ``size - gap``; when a window would pass the border the last one is moved back
    to end flush with it (``width - size``). An image side ``<= size`` gets one window at 0 (padded later).
    Order: x-major, then y (as both tools). mmrotate's ``img_rate_thr`` filter never drops one of these
    windows (each is either fully inside the image or the only one along a side), so it is not applied here.
    """
    if size <= 0 or not 0 <= gap < size:
        raise ValueError(f"need size > gap >= 0, got size={size}, gap={gap}")
    if width <= 0 or height <= 0:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    xs, ys = _starts(width, size, size - gap), _starts(height, size, size - gap)
    return [(x, y) for x in xs for y in ys]


def _starts(length: int, size: int, step: int) -> list[int]:
    if length <= size:
        return [0]
    n = -(-(length - size) // step) + 1  # integer ceil
    starts = [step * i for i in range(n)]
    starts[-1] = min(starts[-1], length - size)
    return starts


class PatchName(NamedTuple):
    """A parsed patch name: source image name, rescale rate, window corner in the rescaled image."""

    image: str
    rate: float
    x: int
    y: int


_PATCH_RE = re.compile(r"^(?P<image>.+)__(?P<rate>\d+(?:\.\d+)?)__(?P<x>\d+)___(?P<y>\d+)$")


def format_rate(rate: float) -> str:
    """The rate as in DOTA_devkit names (Python's shortest repr), without a trailing ``.0``: 1 -> "1", 0.5 -> "0.5".

    The shortest repr reads back to the same float, so merging divides by exactly the rate the split used.
    """
    try:
        f = float(rate)
    except (TypeError, ValueError):
        raise ValueError(f"rate must be a number, got {rate!r}") from None
    if not (math.isfinite(f) and f > 0):
        raise ValueError(f"rate must be a finite number > 0, got {rate!r}")
    r = repr(f)
    if "e" in r:
        raise ValueError(f"rate {rate!r} has no plain decimal form for a patch name")
    return r[:-2] if r.endswith(".0") else r


def format_patch_name(image: str, rate: float, x: int, y: int) -> str:
    """DOTA_devkit patch name ``<image>__<rate>__<x>___<y>`` (no extension), e.g. ``P0000__1__0___824``."""
    return f"{image}__{format_rate(rate)}__{int(x)}___{int(y)}"


def parse_patch_name(name: str) -> PatchName:
    """Inverse of :func:`format_patch_name`; accepts a path or a name with an extension.

    The pattern is anchored at the end, so image names that themselves contain ``__`` parse correctly
    (DOTA_devkit's merge splits at the first ``__`` and gets them wrong).
    """
    stem = name.replace("\\", "/").rsplit("/", 1)[-1]
    m = _PATCH_RE.match(stem) or _PATCH_RE.match(stem.rsplit(".", 1)[0])
    if m is None:
        raise ValueError(f"not a DOTA patch name '<image>__<rate>__<x>___<y>': {name!r}")
    return PatchName(m["image"], float(m["rate"]), int(m["x"]), int(m["y"]))


class Detections(NamedTuple):
    """Oriented detections of one image or tile.

    polys: ``Tensor[K, 8]`` float, DOTA-order corners in pixels of the frame stated by the caller.
    scores: ``Tensor[K]`` float. labels: ``Tensor[K]`` int64 class indices.
    """

    polys: Tensor
    scores: Tensor
    labels: Tensor

    @staticmethod
    def empty(dtype: torch.dtype = torch.float32) -> Detections:
        """No detections: ``[0, 8]``, ``[0]``, ``[0]`` on the CPU."""
        return Detections(
            torch.zeros(0, 8, dtype=dtype), torch.zeros(0, dtype=dtype), torch.zeros(0, dtype=torch.int64)
        )

    @staticmethod
    def cat(items: Sequence[Detections]) -> Detections:
        """Concatenate field-wise (dtypes promote); an empty list gives :meth:`empty`."""
        if not items:
            return Detections.empty()
        return Detections(*(torch.cat([getattr(d, f) for d in items]) for f in Detections._fields))


def _as_dets(d: Detections | tuple) -> Detections:
    polys, scores, labels = (torch.as_tensor(v) for v in d)
    if polys.dim() != 2 or polys.shape[1] != 8:
        raise ValueError(f"detection polygons must be [K, 8], got {tuple(polys.shape)}")
    if scores.shape != (polys.shape[0],) or labels.shape != (polys.shape[0],):
        raise ValueError(
            f"scores and labels must be [K]={polys.shape[0]}, got {tuple(scores.shape)} and {tuple(labels.shape)}"
        )
    if not polys.is_floating_point():
        polys = polys.double()
    return Detections(polys, scores.to(polys.dtype), labels.long())


def tile_to_image(dets: Detections | tuple, x: int, y: int, rate: float = 1.0) -> Detections:
    """Map tile-frame detections to the original image frame: ``(p + (x, y)) / rate``."""
    d = _as_dets(dets)
    offset = torch.tensor([x, y] * 4, dtype=d.polys.dtype, device=d.polys.device)
    return Detections((d.polys + offset) / rate, d.scores, d.labels)


def iter_tiles(
    image: Tensor, size: int, gap: int, pad_value: float | Sequence[float] = 0.0
) -> Iterator[tuple[Tensor, int, int]]:
    """Yield ``(tile [C, size, size], x, y)`` for the :func:`make_windows` windows of ``image [C, H, W]``.

    Tiles that reach past the border (only when a side is shorter than ``size``) are padded at the right and
    bottom with ``pad_value`` (one value or one per channel), like the split's edge patches. The tile is a
    copy only when padded, otherwise a view of ``image``.
    """
    if image.dim() != 3:
        raise ValueError(f"image must be [C, H, W], got {tuple(image.shape)}")
    c, h, w = image.shape
    pad = torch.as_tensor(pad_value, dtype=image.dtype, device=image.device).reshape(-1, 1, 1)
    if pad.shape[0] not in (1, c):
        raise ValueError(f"pad_value needs 1 or {c} values, got {pad.shape[0]}")
    for x, y in make_windows(w, h, size, gap):
        tile = image[:, y : y + size, x : x + size]
        if tile.shape[1:] != (size, size):
            full = pad.expand(c, size, size).clone()
            full[:, : tile.shape[1], : tile.shape[2]] = tile
            tile = full
        yield tile, x, y


def nms_merge(dets: Detections | tuple, iou_thr: float = 0.1, nms: str = "rotated") -> Detections:
    """Class-wise NMS of detections already in one image frame; the kept ones in decreasing score order.

    nms="rotated" (default, as mmrotate's ``DOTAMetric(merge_patches=True)``): rotated IoU of the
    min-area rectangles (``gghl.structures.poly_to_obb``) via ``gghl.ops.nms_rotated``. nms="poly" (as
    DOTA_devkit ``ResultMerge.py_cpu_nms_poly``): IoU of the polygons themselves via ``gghl.ops.poly_iou``.
    The two agree for rectangular detections. A box is suppressed when its IoU with a kept, higher-scored
    box of the same label is > ``iou_thr``. Each class is run separately, so the IoU matrices are
    ``n_class^2``, not ``N^2``. Ties in score: lower input index first.
    """
    d = _as_dets(dets)
    if nms not in ("rotated", "poly"):
        raise ValueError(f"nms must be 'rotated' or 'poly', got {nms!r}")
    if len(d.scores) == 0:
        return d
    keep = _nms_indices(d, iou_thr, nms)
    return Detections(d.polys[keep], d.scores[keep], d.labels[keep])


def _nms_indices(d: Detections, iou_thr: float, nms: str) -> Tensor:
    keep: list[Tensor] = []
    for c in torch.unique(d.labels):
        idx = torch.nonzero(d.labels == c).flatten()
        polys, scores = d.polys[idx], d.scores[idx]
        if nms == "rotated":
            k = ops.nms_rotated(poly_to_obb(polys), scores, iou_thr)
        else:
            k = _poly_nms(polys, scores, iou_thr)
        keep.append(idx[k])
    out = torch.cat(keep).sort().values  # index order first, so the stable score sort breaks ties by index
    return out[torch.sort(d.scores[out], descending=True, stable=True).indices]


def _poly_nms(polys: Tensor, scores: Tensor, iou_thr: float) -> Tensor:
    """Greedy NMS of one class by polygon IoU; indices of kept ones in decreasing score order."""
    order = score_order(scores)
    keep = greedy_from_matrix(ops.poly_iou(polys[order], polys[order]) > iou_thr)
    return order[keep.to(order.device)]


def untile_detections(
    tile_dets: Sequence[tuple[Detections | tuple, int, int]],
    rate: float = 1.0,
    iou_thr: float = 0.1,
    nms: str = "rotated",
) -> Detections:
    """Merge per-tile detections of one image into its original frame (the DOTA merge for inference).

    ``tile_dets``: ``(dets, x, y)`` per tile, ``dets`` in tile pixels of an image rescaled by ``rate``
    (tiles from :func:`iter_tiles`). Returns detections in original-image pixels after class-wise NMS
    (:func:`nms_merge`). Use it on the concatenated output of several rates by calling :func:`tile_to_image`
    per rate and :func:`nms_merge` once.
    """
    mapped = [tile_to_image(d, x, y, rate) for d, x, y in tile_dets]
    return nms_merge(Detections.cat(mapped), iou_thr=iou_thr, nms=nms)


def rescale_image(image: Tensor, rate: float) -> Tensor:
    """``image [C, H, W]`` resized to ``round(H*rate) x round(W*rate)`` (bicubic, antialiased when shrinking).

    The split uses PIL bicubic; torch's bicubic differs by a grey level or so. Integer images are rounded and
    clamped back to their dtype's range; float images are returned as float.
    """
    if rate == 1:
        return image
    c, h, w = image.shape
    size = (max(1, round(h * rate)), max(1, round(w * rate)))
    out = torch.nn.functional.interpolate(
        image[None].float(), size=size, mode="bicubic", align_corners=False, antialias=rate < 1
    )[0]
    if image.is_floating_point():
        return out.to(image.dtype)
    info = torch.iinfo(image.dtype)
    return out.round().clamp(info.min, info.max).to(image.dtype)


def tiled_inference(
    image: Tensor,
    detect: Callable[[Tensor], Sequence[Detections | tuple]],
    size: int = 1024,
    gap: int = 200,
    rates: Sequence[float] = (1.0,),
    pad_value: float | Sequence[float] = 0.0,
    batch_size: int = 4,
    iou_thr: float = 0.1,
    nms: str = "rotated",
) -> Detections:
    """Detect on a large image the DOTA way: rescale per rate, tile, detect per batch, map back, merge.

    Args:
        image: ``[C, H, W]`` in whatever value range ``detect`` expects.
        detect: takes a batch ``[B, C, size, size]`` and returns ``B`` detections in tile pixels.
        size, gap: window size and overlap (DOTA ss: 1024/200; ms: 1024/500 with rates 0.5, 1, 1.5).
        rates: image rescale rates; detections are mapped back with ``(p + (x, y)) / rate``.
        pad_value: fill of tiles that pass the border (one value or one per channel).
        batch_size: tiles per ``detect`` call.
        iou_thr, nms: class-wise NMS of the merged detections (:func:`nms_merge`).

    Returns:
        Detections in original-image pixels, by decreasing score.

    The merge removes the duplicates that overlapping windows (and several rates) produce. An image that is
    one window at one rate has none, so its detections are returned as the model made them (only sorted):
    a second NMS at ``iou_thr`` would change the post-processing stored with the model, and evaluation of an
    untiled test set would no longer equal the model's own test step.
    """
    mapped: list[Detections] = []
    for rate in rates:
        tiles = list(iter_tiles(rescale_image(image, rate), size, gap, pad_value))
        for start in range(0, len(tiles), batch_size):
            chunk = tiles[start : start + batch_size]
            outs = detect(torch.stack([t for t, _, _ in chunk]))
            if len(outs) != len(chunk):
                raise ValueError(f"detect returned {len(outs)} results for a batch of {len(chunk)} tiles")
            mapped += [tile_to_image(d, x, y, rate) for d, (_, x, y) in zip(outs, chunk)]
    if len(mapped) == 1:
        d = mapped[0]
        order = torch.sort(d.scores, descending=True, stable=True).indices
        return Detections(d.polys[order], d.scores[order], d.labels[order])
    return nms_merge(Detections.cat(mapped), iou_thr=iou_thr, nms=nms)
