"""DOTA Task1 file readers for the evaluator: thin adapters over the shared reader in ``gghl.data``.

Ground truth, detections and image sets are read by the same code as the training loader, the split
and the merge tools (:mod:`gghl.data.dota_text`, :mod:`gghl.data.dota_labels`,
:mod:`gghl.data.dota_task1`), so a file the loader trains on is the file the evaluator scores.

Devkit semantics kept (docs/evaluation.md#file-formats): GT lines of 9 tokens are difficult 0, 10
tokens carry an integer flag (non-zero = difficult); detections keep file order (the tie-break order);
an image set is one name per line. Where the devkit crashes or drops lines we now:

* accept runs of spaces/tabs between tokens (devkit: single spaces, ``ValueError`` on double spaces);
* read UTF-8 with or without BOM, ``\\n`` or ``\\r\\n`` line ends;
* recognise headers by their ``imagesource:`` / ``gsd:`` prefix and refuse every other line that is not
  an object (devkit: any line with fewer than 9 tokens is silently skipped, so a tab-separated file
  gave zero ground truth);
* refuse 11+ token GT lines (devkit ``KeyError``), blank lines are skipped (devkit crashes on them in
  result files), non-finite or out-of-range numbers, a name listed twice in the image set.

Every error is a :class:`gghl.data.dota_text.DotaFormatError` (a ``ValueError``) whose message starts with
``path:line:``. Image sets are read with :func:`gghl.data.dota_text.read_imageset`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from gghl.data.dota_labels import read_dota_labels
from gghl.data.dota_task1 import read_task1_rows

__all__ = ["parse_gt_file", "parse_det_file"]

PathLike = str | os.PathLike


def parse_gt_file(path: PathLike) -> tuple[list[str], np.ndarray, np.ndarray]:
    """One ``labelTxt`` file -> ``(class_names[G], polys[G, 8] float64, difficult[G] bool)``.

    Raises ``FileNotFoundError`` (message ``ground-truth file not found: path``) or ``DotaFormatError``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"ground-truth file not found: {path}")
    parsed = read_dota_labels(path, on_error="raise")
    diff = np.asarray([o.difficult != 0 for o in parsed.objects], dtype=bool)
    return [o.class_name for o in parsed.objects], parsed.polygons(), diff


def parse_det_file(path: PathLike) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """One ``Task1_<class>.txt`` file -> ``(image_names[D], scores[D], polys[D, 8], line_numbers[D])``
    in file order (the tie-break order)."""
    rows = read_task1_rows(path)
    return rows.images, rows.scores, rows.polys, rows.line_no
