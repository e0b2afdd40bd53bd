"""Simulated label noise: crowd annotators of varied reliability and class-conditional flips.

Both are seeded and deterministic, so experiments (soft vs hard targets, label-error audits) can be
compared across runs and against the recorded ground truth.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _off_diagonal_rows(num_classes: int, rng: np.random.Generator, concentration: float) -> np.ndarray:
    """Row-stochastic ``[C, C]`` matrix with zero diagonal; row ``c`` is where class ``c`` gets confused to.

    A small Dirichlet ``concentration`` makes confusions structured (a few likely wrong classes per
    class), as with real annotators, rather than uniform.
    """
    rows = np.zeros((num_classes, num_classes))
    for c in range(num_classes):
        others = [j for j in range(num_classes) if j != c]
        rows[c, others] = rng.dirichlet(np.full(len(others), concentration))
    return rows


def simulate_annotators(
    labels: np.ndarray,
    num_classes: int,
    reliabilities: Sequence[float],
    seed: int = 0,
    concentration: float = 0.5,
    annotators_per_item: int | None = None,
) -> np.ndarray:
    """Labels from simulated annotators, ``int64 [N, A]`` (-1 where an annotator skipped the item).

    Annotator ``a`` reports the true class with probability ``reliabilities[a]``; otherwise a wrong
    class drawn from its own class-conditional confusion row (see :func:`_off_diagonal_rows`).

    Args:
        labels: true classes ``[N]``.
        num_classes: C.
        reliabilities: per-annotator accuracy in ``[0, 1]``, length A.
        seed: RNG seed.
        concentration: Dirichlet concentration of each annotator's confusion rows.
        annotators_per_item: if set, each item is labelled by this many annotators chosen at random.
    """
    labels = np.asarray(labels, dtype=np.int64)
    rel = np.asarray(reliabilities, dtype=np.float64)
    if rel.ndim != 1 or len(rel) == 0 or (rel < 0).any() or (rel > 1).any():
        raise ValueError(f"reliabilities must be a non-empty list of values in [0, 1], got {reliabilities}")
    rng = np.random.default_rng(seed)
    n, a = len(labels), len(rel)
    out = np.empty((n, a), dtype=np.int64)
    for j in range(a):
        confusion = _off_diagonal_rows(num_classes, rng, concentration)
        correct = rng.random(n) < rel[j]
        wrong = np.array([rng.choice(num_classes, p=confusion[y]) for y in labels], dtype=np.int64)
        out[:, j] = np.where(correct, labels, wrong)
    if annotators_per_item is not None and annotators_per_item < a:
        if annotators_per_item < 1:
            raise ValueError("annotators_per_item must be >= 1")
        for i in range(n):
            drop = rng.choice(a, size=a - annotators_per_item, replace=False)
            out[i, drop] = -1
    return out


def inject_class_conditional_noise(
    labels: np.ndarray,
    num_classes: int,
    rate: float,
    seed: int = 0,
    concentration: float = 0.5,
) -> tuple[np.ndarray, np.ndarray]:
    """Flip exactly ``round(rate * n_c)`` labels of every class ``c`` to other classes.

    The destination of a flip follows a per-class confusion row (class-conditional noise, as in
    Northcutt et al.'s confident-learning experiments), not a uniform draw.

    Returns:
        ``(noisy_labels int64 [N], flipped bool [N])``; ``flipped[i]`` iff ``noisy_labels[i] != labels[i]``.
    """
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"noise rate must be in [0, 1), got {rate}")
    labels = np.asarray(labels, dtype=np.int64)
    rng = np.random.default_rng(seed)
    confusion = _off_diagonal_rows(num_classes, rng, concentration)
    noisy = labels.copy()
    for c in range(num_classes):
        idx = np.flatnonzero(labels == c)
        k = int(round(rate * len(idx)))
        if k == 0:
            continue
        chosen = rng.choice(idx, size=k, replace=False)
        noisy[chosen] = rng.choice(num_classes, size=k, p=confusion[c])
    return noisy, noisy != labels
