"""Known label errors injected into a detection dataset, to measure a label audit (benchmarks, tests).

Kinds (the issue types of :mod:`gghl.evaluation.detection_label_quality`):

* ``overlooked``: an annotation is dropped (the object stays in the image);
* ``swapped``: the class becomes another class, uniformly;
* ``badly_located``: the box is shifted along one of its axes by 25-40 % of that side, or both sides are
  scaled by 1.3-1.5 (or its inverse): IoU with the true box about 0.4-0.6; angle unchanged;
* ``rotated``: the box is turned about its centre by 10-30 degrees (either sign); only boxes whose
  long/short side ratio is at least ``rotation_min_aspect`` (a near-square box hardly changes, a circle's
  angle is undefined);
* ``spurious``: a box is added where nothing is annotated (IoU < 0.05 with every true box), size and
  shape copied from a random annotation of the dataset, random angle and class, centre inside the image.

Errors go into ``noisy_image_frac`` of the images (chosen at random); every object there gets at most
one error, each kind with probability ``rate`` (a chosen image with none drawn gets one), plus
``Binomial(L, rate)`` spurious boxes. The other images stay exactly as given, so image-level metrics
have clean and noisy images.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

KINDS = ("overlooked", "swapped", "badly_located", "rotated", "spurious")


@dataclass
class InjectedError:
    """One injected error. ``image``: image index; ``object``: index in the *noisy* annotation list of
    that image (-1 for ``overlooked``: the object is gone); ``source``: index in the original list (-1
    for ``spurious``); ``true_label`` / ``given_label``; ``true_polygon`` ``[8]`` (``None`` for spurious)
    and ``given_polygon`` ``[8]`` (``None`` for overlooked); ``detail`` e.g. the turn in degrees."""

    image: int
    kind: str
    object: int
    source: int
    true_label: int
    given_label: int
    true_polygon: np.ndarray | None
    given_polygon: np.ndarray | None
    detail: float = 0.0

    def to_json(self) -> dict:
        poly = lambda p: None if p is None else [round(float(v), 4) for v in p]  # noqa: E731
        return {
            "image": self.image,
            "kind": self.kind,
            "object": self.object,
            "source": self.source,
            "true_label": self.true_label,
            "given_label": self.given_label,
            "true_polygon": poly(self.true_polygon),
            "given_polygon": poly(self.given_polygon),
            "detail": round(float(self.detail), 4),
        }


def _obb(polys: np.ndarray) -> np.ndarray:
    from gghl.structures import poly_to_obb

    return poly_to_obb(torch.from_numpy(np.asarray(polys, dtype=np.float64).reshape(-1, 8))).numpy()


def _poly(obb: np.ndarray) -> np.ndarray:
    from gghl.structures import obb_to_poly

    return obb_to_poly(torch.from_numpy(np.asarray(obb, dtype=np.float64).reshape(-1, 5))).numpy()


def _misplace(box: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    cx, cy, w, h, a = box
    out = box.copy()
    if rng.random() < 0.5:  # shift along the long or the short axis
        f = rng.uniform(0.25, 0.40) * rng.choice([-1.0, 1.0])
        if rng.random() < 0.5:
            d = (f * w * math.cos(a), f * w * math.sin(a))
        else:
            d = (-f * h * math.sin(a), f * h * math.cos(a))
        out[0], out[1] = cx + d[0], cy + d[1]
    else:
        r = rng.uniform(1.3, 1.5)
        r = r if rng.random() < 0.5 else 1.0 / r
        out[2], out[3] = w * r, h * r
    return out


def inject_detection_errors(
    annotations: Sequence[dict],
    image_sizes: Sequence[tuple[int, int]],
    num_classes: int,
    rate: float = 0.08,
    noisy_image_frac: float = 0.5,
    rotation_min_aspect: float = 1.5,
    seed: int = 0,
) -> tuple[list[dict], list[InjectedError]]:
    """Inject known errors (see the module docstring).

    Args:
        annotations: per image ``{"polygons": [L, 8], "labels": int [L]}`` (+ ``"difficult"`` [L], kept).
        image_sizes: per image ``(H, W)`` (spurious boxes are placed inside).
        num_classes: C (>= 2 for swaps).
        rate: probability of each kind per object in a noisy image.
        noisy_image_frac: share of images that receive errors.
        rotation_min_aspect: smallest long/short ratio of a box that may be rotated.
        seed: everything is a function of it.

    Returns:
        (noisy annotations in the input format, polygons ``float64``; list of :class:`InjectedError`).
    """
    from gghl.evaluation.detection_label_quality import rotated_iou

    if len(annotations) != len(image_sizes):
        raise ValueError(f"{len(annotations)} annotation entries but {len(image_sizes)} image sizes")
    if not 0 <= rate <= 0.25:
        raise ValueError(f"rate must be in [0, 0.25] (four kinds per object share one draw), got {rate}")
    rng = np.random.default_rng(seed)
    n = len(annotations)
    noisy_images = set(rng.permutation(n)[: int(round(noisy_image_frac * n))].tolist())
    shapes = np.concatenate(
        [_obb(a["polygons"]) for a in annotations if len(a["polygons"])] or [np.zeros((0, 5))]
    )
    out: list[dict] = []
    errors: list[InjectedError] = []
    for i, ann in enumerate(annotations):
        polys = np.asarray(ann["polygons"], dtype=np.float64).reshape(-1, 8)
        labels = np.asarray(ann["labels"], dtype=np.int64).reshape(-1)
        diff = np.asarray(ann.get("difficult", np.zeros(len(labels))), dtype=bool).reshape(-1)
        if i not in noisy_images:
            out.append({"polygons": polys.copy(), "labels": labels.copy(), "difficult": diff.copy()})
            continue
        obb = _obb(polys)
        aspect = obb[:, 2] / np.maximum(obb[:, 3], 1e-9)
        kinds = [None] * len(labels)
        for j in range(len(labels)):
            u = rng.random()
            options = ["overlooked", "swapped", "badly_located"] + (
                ["rotated"] if aspect[j] >= rotation_min_aspect else []
            )
            if num_classes < 2:
                options.remove("swapped")
            k = int(u // rate) if rate > 0 else len(options)
            kinds[j] = options[k] if k < len(options) else None
        n_spur = int(rng.binomial(len(labels), rate)) if len(labels) else int(rng.random() < rate)
        if all(k is None for k in kinds) and n_spur == 0:  # a chosen image gets at least one error
            if len(labels):
                j = int(rng.integers(len(labels)))
                opts = ["overlooked", "swapped", "badly_located"] + (
                    ["rotated"] if aspect[j] >= rotation_min_aspect else []
                )
                kinds[j] = str(rng.choice([o for o in opts if num_classes >= 2 or o != "swapped"]))
            else:
                n_spur = 1
        new_polys, new_labels, new_diff, pending = [], [], [], []
        for j, kind in enumerate(kinds):
            if kind == "overlooked":
                errors.append(InjectedError(i, kind, -1, j, int(labels[j]), -1, polys[j].copy(), None))
                continue
            poly, lab, detail = polys[j].copy(), int(labels[j]), 0.0
            if kind == "swapped":
                lab = int((labels[j] + rng.integers(1, num_classes)) % num_classes)
            elif kind == "badly_located":
                box = _misplace(obb[j], rng)
                box[0] = np.clip(box[0], 0, image_sizes[i][1])
                box[1] = np.clip(box[1], 0, image_sizes[i][0])
                poly = _poly(box)[0]
                detail = float(rotated_iou(box[None], obb[j][None])[0, 0])
            elif kind == "rotated":
                box = obb[j].copy()
                detail = float(rng.uniform(10, 30) * rng.choice([-1.0, 1.0]))
                box[4] += math.radians(detail)
                poly = _poly(box)[0]
            if kind is not None:
                pending.append(
                    InjectedError(
                        i, kind, len(new_polys), j, int(labels[j]), lab, polys[j].copy(), poly, detail
                    )
                )
            new_polys.append(poly)
            new_labels.append(lab)
            new_diff.append(bool(diff[j]))
        H, W = image_sizes[i]
        for _ in range(n_spur):
            if not len(shapes):
                break
            for _try in range(50):
                cx_, cy_, w_, h_, _a = shapes[int(rng.integers(len(shapes)))]
                box = np.array(
                    [
                        rng.uniform(0.1, 0.9) * W,
                        rng.uniform(0.1, 0.9) * H,
                        w_,
                        h_,
                        rng.uniform(-math.pi / 2, math.pi / 2),
                    ]
                )
                if not len(obb) or rotated_iou(box[None], obb).max() < 0.05:
                    lab = int(rng.integers(num_classes))
                    poly = _poly(box)[0]
                    pending.append(InjectedError(i, "spurious", len(new_polys), -1, -1, lab, None, poly))
                    new_polys.append(poly)
                    new_labels.append(lab)
                    new_diff.append(False)
                    break
        errors.extend(pending)
        out.append(
            {
                "polygons": np.asarray(new_polys, dtype=np.float64).reshape(-1, 8),
                "labels": np.asarray(new_labels, dtype=np.int64),
                "difficult": np.asarray(new_diff, dtype=bool),
            }
        )
    return out, errors
