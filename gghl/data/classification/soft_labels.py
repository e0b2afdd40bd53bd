"""Soft-label aggregation of crowd annotations (classification target assignment).

The classification datamodules call it once when they build a split (numpy in, numpy out), so it lives with
them in ``gghl.data`` rather than in ``gghl.assigners`` (the tensor assigners the tasks call, which the data
layer does not import).

Each item carries labels from up to ``A`` annotators: ``annotations`` is an int array ``[N, A]`` whose
entries are class ids in ``[0, C)`` or ``-1`` where an annotator did not label that item.
Every aggregator returns soft targets ``[N, C]`` (float64 rows summing to 1).

Methods (names used in configs):

- ``majority``: one-hot of the most frequent label (ties broken towards the lowest class id, so the
  result is deterministic).
- ``empirical``: the empirical distribution of the annotators' labels.
- ``dawid_skene``: posterior class probabilities under the Dawid-Skene model (one confusion matrix per
  annotator, fitted by EM starting from the empirical distribution).
- ``average``: the mean of the three soft labels above. Wright & Augenstein, "Aggregating Soft Labels
  from Crowd Annotations Improves Uncertainty Estimation Under Distribution Shift", found averaging
  the soft labels of several aggregation methods the most robust choice; we average the methods
  implemented here.
"""

from __future__ import annotations

import numpy as np

AGGREGATION_METHODS = ("majority", "empirical", "dawid_skene", "average")


def _check(annotations: np.ndarray, num_classes: int) -> np.ndarray:
    ann = np.asarray(annotations)
    if ann.ndim == 1:
        ann = ann[:, None]
    if ann.ndim != 2:
        raise ValueError(f"annotations must be [N, A], got shape {ann.shape}")
    if not np.issubdtype(ann.dtype, np.integer):
        raise TypeError(f"annotations must be integer class ids (-1 = missing), got {ann.dtype}")
    if ann.size and (ann.max() >= num_classes or ann.min() < -1):
        raise ValueError(f"annotation ids must lie in [-1, {num_classes}), got [{ann.min()}, {ann.max()}]")
    if ann.shape[0] and ((ann >= 0).sum(1) == 0).any():
        bad = int(np.flatnonzero((ann >= 0).sum(1) == 0)[0])
        raise ValueError(f"item {bad} has no annotation")
    return ann.astype(np.int64)


def vote_counts(annotations: np.ndarray, num_classes: int) -> np.ndarray:
    """Per-item label counts ``[N, C]`` (float64) from annotations ``[N, A]`` (-1 = missing)."""
    ann = _check(annotations, num_classes)
    counts = np.zeros((ann.shape[0], num_classes), dtype=np.float64)
    rows, cols = np.nonzero(ann >= 0)
    np.add.at(counts, (rows, ann[rows, cols]), 1.0)
    return counts


def majority_vote(annotations: np.ndarray, num_classes: int) -> np.ndarray:
    """One-hot majority vote ``[N, C]``; ties go to the lowest class id."""
    counts = vote_counts(annotations, num_classes)
    out = np.zeros_like(counts)
    out[np.arange(len(counts)), counts.argmax(1)] = 1.0
    return out


def empirical_distribution(annotations: np.ndarray, num_classes: int) -> np.ndarray:
    """Normalised label counts ``[N, C]``."""
    counts = vote_counts(annotations, num_classes)
    return counts / counts.sum(1, keepdims=True)


def dawid_skene(
    annotations: np.ndarray,
    num_classes: int,
    max_iter: int = 100,
    tol: float = 1e-6,
    smoothing: float = 0.01,
) -> np.ndarray:
    """Dawid-Skene EM posterior ``[N, C]``.

    Model: true class ``z_i ~ pi``; annotator ``a`` reports ``j`` with probability ``theta[a, z_i, j]``.
    E-step: ``T[i, k] ∝ pi_k * prod_a theta[a, k, y_ia]``; M-step: ``pi`` and ``theta`` from the
    expected counts, with an additive ``smoothing`` so annotators who never saw a class stay defined.
    Initialised from the empirical distribution (the usual choice; majority-vote init breaks ties
    arbitrarily).

    Args:
        annotations: int ``[N, A]``, class ids or -1 for missing.
        num_classes: C.
        max_iter, tol: EM stops when the largest change of ``T`` is below ``tol``.
        smoothing: pseudo-count added to every cell of each annotator's confusion matrix.
    """
    ann = _check(annotations, num_classes)
    n, a = ann.shape
    c = num_classes
    # one_hot[i, a, j] = 1 if annotator a said j on item i (all zeros when missing).
    one_hot = np.zeros((n, a, c), dtype=np.float64)
    rows, cols = np.nonzero(ann >= 0)
    one_hot[rows, cols, ann[rows, cols]] = 1.0
    post = empirical_distribution(ann, c)
    for _ in range(max_iter):
        # M-step. theta[a, k, j] = sum_i T[i,k] one_hot[i,a,j] (normalised over j).
        prior = (post.sum(0) + smoothing) / (n + c * smoothing)
        theta = np.einsum("ik,iaj->akj", post, one_hot) + smoothing
        theta /= theta.sum(2, keepdims=True)
        # E-step in log space: log T[i,k] = log pi_k + sum_a sum_j one_hot[i,a,j] log theta[a,k,j].
        log_t = np.log(prior)[None, :] + np.einsum("iaj,akj->ik", one_hot, np.log(theta))
        log_t -= log_t.max(1, keepdims=True)
        new = np.exp(log_t)
        new /= new.sum(1, keepdims=True)
        delta = float(np.abs(new - post).max()) if n else 0.0
        post = new
        if delta < tol:
            break
    return post


def aggregate_soft_labels(annotations: np.ndarray, num_classes: int, method: str = "average") -> np.ndarray:
    """Soft targets ``[N, C]`` from annotations ``[N, A]`` with one of :data:`AGGREGATION_METHODS`."""
    if method == "majority":
        return majority_vote(annotations, num_classes)
    if method == "empirical":
        return empirical_distribution(annotations, num_classes)
    if method == "dawid_skene":
        return dawid_skene(annotations, num_classes)
    if method == "average":
        parts = [
            majority_vote(annotations, num_classes),
            empirical_distribution(annotations, num_classes),
            dawid_skene(annotations, num_classes),
        ]
        return np.mean(parts, axis=0)
    raise ValueError(f"unknown aggregation method {method!r}; choose from {AGGREGATION_METHODS}")
