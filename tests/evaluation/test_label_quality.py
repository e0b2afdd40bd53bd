"""Confident-learning label-issue detection (our implementation; cleanlab only as a reference)."""

import numpy as np
import pytest

from gghl.evaluation.label_quality import (
    FILTERS,
    confident_joint,
    find_label_issues,
    label_quality_scores,
    per_class_thresholds,
    rank_label_issues,
)


def _noisy_probs(seed=0, n=600, k=4, rate=0.15):
    """Clean classes, a fraction flipped; probabilities confident in the true class."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    flipped = rng.random(n) < rate
    given = np.where(flipped, (y + 1 + rng.integers(0, k - 1, n)) % k, y)
    logits = rng.normal(0, 1, (n, k))
    logits[np.arange(n), y] += 4.0
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return given, p, given != y


def test_thresholds_and_confident_joint_by_hand():
    labels = np.array([0, 0, 1, 1])
    probs = np.array([[0.9, 0.1], [0.7, 0.3], [0.2, 0.8], [0.85, 0.15]])
    np.testing.assert_allclose(per_class_thresholds(labels, probs), [0.8, 0.475])
    # Item 1 (0.7, 0.3): below both thresholds -> not counted. Item 3 (0.85, 0.15): confident only in class 0.
    np.testing.assert_array_equal(confident_joint(labels, probs, calibrate=False), [[1, 0], [1, 1]])
    cal = confident_joint(labels, probs)
    np.testing.assert_allclose(cal.sum(1), [2, 2])  # rows = given-label counts; total = N
    np.testing.assert_allclose(cal, [[2, 0], [1, 1]])


@pytest.mark.parametrize("filter_by", FILTERS)
def test_filters_find_flips(filter_by):
    given, p, truth = _noisy_probs()
    mask = find_label_issues(given, p, filter_by=filter_by)
    assert mask.dtype == bool and mask.shape == given.shape
    assert not (mask & (p.argmax(1) == given)).any()
    tp = (mask & truth).sum()
    assert tp / max(mask.sum(), 1) > 0.8 and tp / truth.sum() > 0.5


def test_default_matches_or_beats_cleanlab_on_synthetic():
    cleanlab = pytest.importorskip("cleanlab.filter")
    f_ours, f_cl = [], []
    for seed in range(3):
        given, p, truth = _noisy_probs(seed)
        for mask, acc in ((find_label_issues(given, p), f_ours), (cleanlab.find_label_issues(given, p), f_cl)):
            tp = (mask & truth).sum()
            acc.append(2 * tp / (mask.sum() + truth.sum()))
    assert np.mean(f_ours) >= np.mean(f_cl) - 1e-9


def test_pbnr_close_to_cleanlab():
    cleanlab = pytest.importorskip("cleanlab.filter")
    given, p, _ = _noisy_probs(1)
    ours = find_label_issues(given, p, filter_by="prune_by_noise_rate")
    theirs = cleanlab.find_label_issues(given, p, filter_by="prune_by_noise_rate")
    assert (ours == theirs).mean() > 0.98


def test_scores_and_ranking():
    labels = np.array([0, 1, 1])
    probs = np.array([[0.9, 0.1], [0.9, 0.1], [0.4, 0.6]])
    np.testing.assert_allclose(label_quality_scores(labels, probs, "self_confidence"), [0.9, 0.1, 0.6])
    np.testing.assert_allclose(label_quality_scores(labels, probs), [0.9, 0.1, 0.6])  # 2 classes: same
    given, p, _ = _noisy_probs(2)
    order = rank_label_issues(given, p)
    s = label_quality_scores(given, p)[order]
    assert (np.diff(s) >= 0).all()


def test_min_examples_per_class_and_bad_input():
    labels = np.array([0, 0, 1])
    probs = np.array([[0.1, 0.9], [0.1, 0.9], [0.2, 0.8]])
    for fb in ("prune_by_count", "prune_by_noise_rate"):
        assert find_label_issues(labels, probs, filter_by=fb).sum() <= 1
    with pytest.raises(ValueError, match="labels must lie"):
        find_label_issues(np.array([0, 2]), np.full((2, 2), 0.5))
    with pytest.raises(ValueError, match="filter_by"):
        find_label_issues(labels, probs, filter_by="magic")
