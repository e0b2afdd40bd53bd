"""Confident-learning label-issue detection (our implementation; cleanlab only as a reference)."""

import numpy as np
import pytest

from gghl.evaluation.label_quality import (
    FILTERS,
    confident_joint,
    find_label_issues,
    label_error_posterior,
    label_quality_scores,
    noise_concentration,
    noise_transition,
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
        for mask, acc in (
            (find_label_issues(given, p), f_ours),
            (cleanlab.find_label_issues(given, p), f_cl),
        ):
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
    # 2 classes: the normalised margin equals the self-confidence
    np.testing.assert_allclose(label_quality_scores(labels, probs, "normalized_margin"), [0.9, 0.1, 0.6])
    given, p, _ = _noisy_probs(2)
    order = rank_label_issues(given, p)
    s = label_quality_scores(given, p)[order]  # default: 1 - posterior, the default filter's ranking
    assert len(order) > 10 and (np.diff(s) >= 0).all()


def test_min_examples_per_class_and_bad_input():
    labels = np.array([0, 0, 1])
    probs = np.array([[0.1, 0.9], [0.1, 0.9], [0.2, 0.8]])
    for fb in ("posterior", "prune_by_count", "prune_by_noise_rate"):
        assert find_label_issues(labels, probs, filter_by=fb).sum() <= 1
    with pytest.raises(ValueError, match="labels must lie"):
        find_label_issues(np.array([0, 2]), np.full((2, 2), 0.5))
    with pytest.raises(ValueError, match="filter_by"):
        find_label_issues(labels, probs, filter_by="magic")


def _ring_probs(seed=0, n=3000, k=8, rate=0.12, kind="neighbour", mu=3.0):
    """The issue's case: 12 % class-conditional noise to the next class on a ring (or uniform), an imperfect
    classifier that confuses ring neighbours, out-of-fold probabilities of a model trained on the noisy
    labels (half of the noise learnt: ``p = 0.5 p + 0.5 T p``)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    t = np.full((k, k), rate / (k - 1)) if kind == "uniform" else np.zeros((k, k))
    if kind == "neighbour":
        t[(np.arange(k) + 1) % k, np.arange(k)] = rate
    np.fill_diagonal(t, 1.0 - rate)
    given = np.minimum((rng.random(n)[:, None] > np.cumsum(t[:, y].T, axis=1)).sum(1), k - 1)
    z = rng.normal(0, 1, (n, k))
    z[np.arange(n), y] += mu
    for d in (1, -1):
        z[np.arange(n), (y + d) % k] += mu / 2
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    return given, 0.5 * p + 0.5 * p @ t.T, given != y


def test_noise_concentration_and_transition_by_hand():
    even = np.array([[8.0, 1, 1], [1, 8, 1], [1, 1, 8]])
    one = np.array([[8.0, 2, 0], [0, 8, 2], [2, 0, 8]])
    assert noise_concentration(even) == pytest.approx(0.0)
    assert noise_concentration(one) == pytest.approx(1.0)
    assert noise_concentration(np.zeros((4, 4))) == 0.0
    for kind, structured in (("neighbour", True), ("uniform", False)):
        g, pp, _ = _ring_probs(kind=kind)
        assert (noise_concentration(confident_joint(g, pp)) > 0.4) == structured  # the automatic choice
    given, p, _ = _ring_probs(kind="neighbour")
    t = noise_transition(given, p)
    np.testing.assert_allclose(t.sum(0), 1.0)
    k = p.shape[1]
    nxt = t[(np.arange(k) + 1) % k, np.arange(k)]  # P(given j+1 | true j): where the noise goes
    prv = t[(np.arange(k) - 1) % k, np.arange(k)]
    assert (nxt > 1.5 * prv).all()  # the structured model keeps the direction of the noise
    tu = noise_transition(given, p, structured=False)
    off = tu.T[~np.eye(k, dtype=bool)].reshape(k, k - 1)  # row j: where true class j goes
    np.testing.assert_allclose(off, off[:, :1].repeat(k - 1, 1))  # uniform: even per true class


def test_posterior_default_beats_margin_and_cleanlab_on_neighbour_noise():
    f1 = lambda m, t: 2 * (m & t).sum() / (m.sum() + t.sum())  # noqa: E731
    ours, margin, theirs = [], [], []
    cl = pytest.importorskip("cleanlab.filter")
    for seed in range(3):
        given, p, flip = _ring_probs(seed)
        ours.append(f1(find_label_issues(given, p), flip))
        margin.append(f1(find_label_issues(given, p, filter_by="prune_by_count"), flip))
        theirs.append(f1(cl.find_label_issues(given, p, n_jobs=1), flip))
    assert np.mean(ours) > np.mean(margin) + 0.01
    assert np.mean(ours) >= np.mean(theirs)


def test_posterior_is_a_probability_and_zero_where_the_label_is_the_argmax():
    given, p, flip = _ring_probs(1, kind="uniform")
    post = label_error_posterior(given, p)
    assert ((post >= 0) & (post <= 1)).all()
    assert (post[p.argmax(1) == given] == 0).all()
    assert post[flip].mean() > 3 * post[~flip].mean()
    mask = find_label_issues(given, p)
    assert mask.sum() <= int(round(len(given) - np.trace(confident_joint(given, p))))  # capped at n_err
