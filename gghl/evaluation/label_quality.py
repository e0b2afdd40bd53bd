"""Label-error detection by confident learning (Northcutt, Jiang & Chuang, JAIR 2021; used for
"Pervasive Label Errors in Test Sets Destabilize ML Benchmarks", Northcutt, Athalye & Mueller 2021),
with a noise-model posterior that decides which items and how many to flag.

Inputs everywhere: ``labels`` int ``[N]`` (given, possibly noisy) and ``pred_probs`` float ``[N, K]``
*out-of-sample* predicted probabilities (e.g. from k-fold cross-validation; in-sample probabilities
memorise the noise and hide it).

Confident learning (shared by every filter):

1. Per-class thresholds ``t_j`` = mean self-confidence ``p_j(x)`` over items labelled ``j``.
2. Confident joint ``C[i, j]``: items with given label ``i`` whose confident class is ``j``; an item is
   confident in every class with ``p_j >= t_j`` and counts once, for the most probable of those.
3. Calibration: rows rescaled to the given-label counts, then the total to ``N`` (``Q = C_cal / N``
   estimates the joint of given and true labels); ``n_err = N - trace(C_cal)`` estimates the error count.

The default ``filter_by="posterior"`` (:func:`label_error_posterior`) turns ``C_cal`` into a noise model
``T[i, j] = P(given i | true j)`` and scores each item by the posterior probability that its given label
is wrong, ``pi = 1 - T[y, y] p_y / sum_j T[y, j] p_j`` (0 where the given label is the arg-max). Two noise
models, chosen from the data: *structured* (``C_cal`` column-normalised, shrunk towards uniform noise with
a prior of ``K`` items per class) when the confident joint's off-diagonal mass is concentrated - per given
class the largest off-diagonal cell's share of the row, averaged with row weights, rescaled so that an
even spread over the ``K - 1`` other classes is 0 and one cell is 1, above 0.4 - else *uniform* (each true
class flips at its own estimated rate, evenly to the others). Why: the confident joint also counts the
model's own confusions between similar classes; under uniform noise the structured model mistakes them
for label noise and ranks worse than self-confidence, under class-to-class noise the uniform model
misses the structure. The posterior assumes calibrated probabilities, so ``p`` is first recalibrated by one
temperature fitted by maximum likelihood of the given labels under the noise model
(:func:`fit_temperature`; out-of-fold probabilities of deep nets are often over-confident, of weak models
under-confident). It flags the ``k`` highest ``pi`` maximising the expected F1
``2 sum_{top k} pi / (k + sum pi)``, at most ``n_err`` (with a weak classifier ``n_err`` counts many of its
mistakes as label errors; the expected-F1 count is smaller there). ``scripts/bench_label_quality.py
--grid`` compares it with cleanlab over noise models, rates, class counts and classifier quality.

Other filters: ``prune_by_count`` (the ``n_err`` items with the lowest normalised margin),
``prune_by_noise_rate`` (the paper's PBNR: for each off-diagonal ``(i, j)`` the ``round(C_cal[i, j])``
items labelled ``i`` with the largest margin ``p_j - p_i``; cleanlab's default), ``prune_by_class``,
``both``, ``confident_learning`` and ``predicted_neq_given``. All respect ``min_examples_per_class`` and
never flag an item whose given label is the arg-max prediction.

Implemented here from the papers; cleanlab is only used in benchmarks/tests as a reference.
"""

from __future__ import annotations

import numpy as np

FILTERS = (
    "posterior",
    "prune_by_count",
    "prune_by_noise_rate",
    "prune_by_class",
    "both",
    "confident_learning",
    "predicted_neq_given",
)


def _check(labels: np.ndarray, pred_probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(labels)
    probs = np.asarray(pred_probs, dtype=np.float64)
    if probs.ndim != 2 or labels.shape != (probs.shape[0],):
        raise ValueError(f"need labels [N] and pred_probs [N, K]; got {labels.shape} and {probs.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"labels must be integers, got {labels.dtype}")
    k = probs.shape[1]
    if labels.size and (labels.min() < 0 or labels.max() >= k):
        raise ValueError(f"labels must lie in [0, {k}), got [{labels.min()}, {labels.max()}]")
    return labels.astype(np.int64), probs


def per_class_thresholds(labels: np.ndarray, pred_probs: np.ndarray) -> np.ndarray:
    """``[K]``: mean ``p_j`` over items labelled ``j`` (classes without items get threshold 1)."""
    labels, probs = _check(labels, pred_probs)
    k = probs.shape[1]
    sums = np.bincount(labels, weights=probs[np.arange(len(labels)), labels], minlength=k)
    counts = np.bincount(labels, minlength=k)
    return np.where(counts > 0, sums / np.maximum(counts, 1), 1.0)


def confident_classes(labels: np.ndarray, pred_probs: np.ndarray) -> np.ndarray:
    """``[N]``: the confident class of each item (most probable class above its threshold), -1 if none."""
    labels, probs = _check(labels, pred_probs)
    t = per_class_thresholds(labels, probs)
    # A tiny tolerance: the item that defines a threshold (e.g. a single-item class) is above it.
    above = probs >= t[None, :] - 1e-6
    masked = np.where(above, probs, -np.inf)
    guess = masked.argmax(1)
    return np.where(above.any(1), guess, -1)


def confident_joint(labels: np.ndarray, pred_probs: np.ndarray, calibrate: bool = True) -> np.ndarray:
    """``[K, K]`` confident joint ``C[given, true]`` (float64 when calibrated, else counts)."""
    labels, probs = _check(labels, pred_probs)
    k = probs.shape[1]
    guess = confident_classes(labels, probs)
    ok = guess >= 0
    cj = np.zeros((k, k), dtype=np.float64)
    np.add.at(cj, (labels[ok], guess[ok]), 1.0)
    if not calibrate:
        return cj
    n_given = np.bincount(labels, minlength=k).astype(np.float64)
    rows = cj.sum(1, keepdims=True)
    cal = np.where(rows > 0, cj / np.maximum(rows, 1e-12), 0.0) * n_given[:, None]
    total = cal.sum()
    return cal * (len(labels) / total) if total > 0 else cal


STRUCTURED_NOISE_THRESHOLD = 0.4


def noise_concentration(cal: np.ndarray) -> float:
    """How concentrated the off-diagonal mass of a confident joint ``[K, K]`` is, in ``[0, 1]``.

    Per given class (row) the largest off-diagonal cell's share of the row's off-diagonal mass, averaged
    with the rows' off-diagonal masses as weights, then rescaled so that an even spread over the ``K - 1``
    other classes gives 0 and all of it in one cell gives 1 (``K <= 2``: 1).
    """
    k = cal.shape[0]
    if k <= 2:
        return 1.0
    off = np.array(cal, dtype=np.float64)
    np.fill_diagonal(off, 0.0)
    rows = off.sum(1)
    if rows.sum() <= 0:
        return 0.0
    share = np.where(rows > 0, off.max(1) / np.maximum(rows, 1e-12), 0.0)
    c = float((rows * share).sum() / rows.sum())
    even = 1.0 / (k - 1)
    return float(np.clip((c - even) / (1.0 - even), 0.0, 1.0))


def noise_transition(
    labels: np.ndarray, pred_probs: np.ndarray, structured: bool | None = None
) -> np.ndarray:
    """``[K, K]`` estimated ``T[i, j] = P(given label i | true label j)`` (columns sum to 1).

    ``structured=None`` chooses by :func:`noise_concentration` (> 0.4: structured). Structured: the
    calibrated confident joint, column-normalised after adding ``K`` pseudo-items per true class spread
    as uniform noise at the overall estimated rate. Uniform: true class ``j`` keeps its label with
    ``C_cal[j, j] / sum_i C_cal[i, j]`` and flips evenly to the other classes.
    """
    labels, probs = _check(labels, pred_probs)
    k = probs.shape[1]
    cal = confident_joint(labels, probs, calibrate=True)
    if structured is None:
        structured = noise_concentration(cal) > STRUCTURED_NOISE_THRESHOLD
    n_true = cal.sum(0)
    if structured:
        rate = 1.0 - np.trace(cal) / max(cal.sum(), 1e-12)
        prior = np.full((k, k), rate / max(k - 1, 1))
        np.fill_diagonal(prior, 1.0 - rate)
        return (cal + k * prior) / (n_true[None, :] + k)
    keep = np.where(n_true > 0, np.diag(cal) / np.maximum(n_true, 1e-12), 1.0)
    t = np.tile((1.0 - keep) / max(k - 1, 1), (k, 1))
    np.fill_diagonal(t, keep)
    return t


def _tempered(probs: np.ndarray, tau: float) -> np.ndarray:
    """``softmax(log p / tau)`` row-wise (``tau < 1`` sharpens, ``> 1`` flattens)."""
    lp = np.log(np.clip(probs, 1e-300, None)) / tau
    lp -= lp.max(1, keepdims=True)
    q = np.exp(lp)
    return q / q.sum(1, keepdims=True)


def fit_temperature(labels: np.ndarray, pred_probs: np.ndarray, transition: np.ndarray) -> float:
    """Temperature ``tau`` in ``[0.05, 5]`` (41 log-spaced values) maximising the likelihood of the given
    labels under the noise model, ``sum_n log sum_j T[y_n, j] softmax(log p_n / tau)_j``: one number that
    makes the probabilities as confident as the labels support (the posterior assumes calibrated ``p``)."""
    labels, probs = _check(labels, pred_probs)
    best, best_tau = -np.inf, 1.0
    rows = transition[labels, :]
    for tau in np.exp(np.linspace(np.log(0.05), np.log(5.0), 41)):
        ll = float(np.log(np.maximum((rows * _tempered(probs, tau)).sum(1), 1e-300)).sum())
        if ll > best:
            best, best_tau = ll, float(tau)
    return best_tau


def label_error_posterior(
    labels: np.ndarray, pred_probs: np.ndarray, structured: bool | None = None
) -> np.ndarray:
    """float ``[N]`` in ``[0, 1]``: posterior probability that the given label is wrong (module docstring).

    ``pi = 1 - T[y, y] q_y / sum_j T[y, j] q_j`` with ``T`` from :func:`noise_transition` and ``q`` the
    probabilities recalibrated by :func:`fit_temperature`; items whose given label is the arg-max
    prediction get 0.
    """
    labels, probs = _check(labels, pred_probs)
    t = noise_transition(labels, probs, structured)
    q = _tempered(probs, fit_temperature(labels, probs, t))
    n = len(labels)
    num = t[labels, labels] * q[np.arange(n), labels]
    den = (t[labels, :] * q).sum(1)
    post = np.where(den > 0, 1.0 - num / np.maximum(den, 1e-300), 0.0)
    return np.where(probs.argmax(1) == labels, 0.0, np.clip(post, 0.0, 1.0))


def _take_ranked(
    order: np.ndarray, labels: np.ndarray, k: int, n_take: int, min_per_class: int
) -> np.ndarray:
    """Flag the first ``n_take`` of ``order``, skipping items whose class would drop below the minimum."""
    mask = np.zeros(len(labels), dtype=bool)
    budget = np.bincount(labels, minlength=k) - min_per_class
    taken = 0
    for i in order:
        if taken >= n_take:
            break
        if budget[labels[i]] > 0:
            mask[i] = True
            budget[labels[i]] -= 1
            taken += 1
    return mask


def _expected_f1_count(post: np.ndarray) -> int:
    """``k`` maximising ``2 sum_{top k} post / (k + sum post)`` (0 when nothing is likely wrong)."""
    if post.sum() <= 0:
        return 0
    srt = np.sort(post)[::-1]
    k = np.arange(1, len(srt) + 1)
    return int(np.argmax(2.0 * np.cumsum(srt) / (k + post.sum())) + 1)


def _prune_by_noise_rate(
    labels: np.ndarray, probs: np.ndarray, cal: np.ndarray, min_per_class: int
) -> np.ndarray:
    k = probs.shape[1]
    n_remove = np.round(cal).astype(np.int64)
    np.fill_diagonal(n_remove, 0)
    mask = np.zeros(len(labels), dtype=bool)
    for i in range(k):
        idx = np.flatnonzero(labels == i)
        budget = max(0, len(idx) - min_per_class)
        row = n_remove[i].copy()
        if row.sum() > budget and row.sum() > 0:
            # Scale the per-destination counts down so at least min_per_class items keep label i.
            row = np.floor(row * budget / row.sum()).astype(np.int64)
        for j in np.flatnonzero(row):
            margin = probs[idx, j] - probs[idx, i]
            take = idx[np.argsort(-margin, kind="stable")[: row[j]]]
            mask[take] = True
    return mask


def _prune_by_class(labels: np.ndarray, probs: np.ndarray, cal: np.ndarray, min_per_class: int) -> np.ndarray:
    k = probs.shape[1]
    mask = np.zeros(len(labels), dtype=bool)
    for i in range(k):
        idx = np.flatnonzero(labels == i)
        n = int(round(cal[i].sum() - cal[i, i]))
        n = min(n, max(0, len(idx) - min_per_class))
        if n > 0:
            mask[idx[np.argsort(probs[idx, i], kind="stable")[:n]]] = True
    return mask


def find_label_issues(
    labels: np.ndarray,
    pred_probs: np.ndarray,
    filter_by: str = "posterior",
    min_examples_per_class: int = 1,
) -> np.ndarray:
    """bool ``[N]``: True where the given label is likely wrong (see module docstring).

    Args:
        labels: int ``[N]`` given labels in ``[0, K)``.
        pred_probs: float ``[N, K]`` out-of-sample probabilities.
        filter_by: ``posterior`` (default: noise-model posterior, expected-F1 count capped at the
            confident-learning estimate), ``prune_by_count`` (estimated error count, global
            normalised-margin ranking), ``prune_by_noise_rate`` (the paper's PBNR, cleanlab's default),
            ``prune_by_class`` (PBC: the lowest self-confidences per class), ``both`` (PBNR and PBC),
            ``confident_learning`` (off-diagonal items of the confident joint) or ``predicted_neq_given``.
        min_examples_per_class: never flag so many items of a class that fewer than this remain.
    """
    labels, probs = _check(labels, pred_probs)
    if filter_by not in FILTERS:
        raise ValueError(f"filter_by must be one of {FILTERS}, got {filter_by!r}")
    pred = probs.argmax(1)
    k = probs.shape[1]
    if filter_by == "predicted_neq_given":
        return pred != labels
    if filter_by == "confident_learning":
        guess = confident_classes(labels, probs)
        mask = (guess >= 0) & (guess != labels)
    else:
        cal = confident_joint(labels, probs, calibrate=True)
        n_err = int(round(len(labels) - np.trace(cal)))
        if filter_by == "posterior":
            post = label_error_posterior(labels, probs)
            n_take = min(_expected_f1_count(post), n_err, int((post > 0).sum()))
            mask = _take_ranked(np.argsort(-post, kind="stable"), labels, k, n_take, min_examples_per_class)
        elif filter_by == "prune_by_count":
            cand = np.flatnonzero(pred != labels)
            scores = label_quality_scores(labels, probs)
            order = cand[np.argsort(scores[cand], kind="stable")]
            mask = _take_ranked(order, labels, k, n_err, min_examples_per_class)
        elif filter_by == "prune_by_noise_rate":
            mask = _prune_by_noise_rate(labels, probs, cal, min_examples_per_class)
        elif filter_by == "prune_by_class":
            mask = _prune_by_class(labels, probs, cal, min_examples_per_class)
        else:
            mask = _prune_by_noise_rate(labels, probs, cal, min_examples_per_class) & _prune_by_class(
                labels, probs, cal, min_examples_per_class
            )
    return mask & (pred != labels)


def label_quality_scores(labels: np.ndarray, pred_probs: np.ndarray, method: str = "posterior") -> np.ndarray:
    """float ``[N]`` in ``[0, 1]``; lower means the label is more likely wrong (rank ascending).

    ``posterior``: ``1 - label_error_posterior`` (the default filter's ranking). ``self_confidence``:
    ``p_y``. ``normalized_margin``: ``(p_y - max_{j != y} p_j + 1) / 2``.
    """
    labels, probs = _check(labels, pred_probs)
    if method == "posterior":
        return 1.0 - label_error_posterior(labels, probs)
    self_conf = probs[np.arange(len(labels)), labels]
    if method == "self_confidence":
        return self_conf
    if method == "normalized_margin":
        other = probs.copy()
        other[np.arange(len(labels)), labels] = -np.inf
        return (self_conf - other.max(1) + 1.0) / 2.0
    raise ValueError(f"unknown method {method!r}; use posterior, self_confidence or normalized_margin")


def rank_label_issues(labels: np.ndarray, pred_probs: np.ndarray, **kwargs) -> np.ndarray:
    """int64 indices of flagged items, most suspicious first (posterior, then normalised margin for ties)."""
    mask = find_label_issues(labels, pred_probs, **kwargs)
    idx = np.flatnonzero(mask)
    post = label_error_posterior(labels, pred_probs)[idx]
    margin = label_quality_scores(labels, pred_probs, "normalized_margin")[idx]
    return idx[np.lexsort((margin, -post))]
