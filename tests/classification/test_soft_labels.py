"""Soft-label aggregation: majority vote, empirical distribution, Dawid-Skene, average."""

import numpy as np
import pytest

from gghl.data.classification.noise import simulate_annotators
from gghl.data.classification.soft_labels import (
    aggregate_soft_labels,
    dawid_skene,
    empirical_distribution,
    majority_vote,
    vote_counts,
)


def test_vote_counts_and_majority_with_missing():
    ann = np.array([[0, 1, 1], [2, -1, 2], [0, 1, -1]])
    counts = vote_counts(ann, 3)
    np.testing.assert_array_equal(counts, [[1, 2, 0], [0, 0, 2], [1, 1, 0]])
    np.testing.assert_array_equal(majority_vote(ann, 3).argmax(1), [1, 2, 0])  # tie -> lowest id
    np.testing.assert_allclose(empirical_distribution(ann, 3)[0], [1 / 3, 2 / 3, 0])


@pytest.mark.parametrize("method", ["majority", "empirical", "dawid_skene", "average"])
def test_rows_are_distributions(method):
    ann = simulate_annotators(np.arange(50) % 4, 4, [0.9, 0.6, 0.3], seed=1)
    q = aggregate_soft_labels(ann, 4, method)
    assert q.shape == (50, 4)
    np.testing.assert_allclose(q.sum(1), 1.0)
    assert (q >= 0).all()


def test_average_is_mean_of_three():
    ann = simulate_annotators(np.arange(40) % 3, 3, [0.8, 0.5, 0.4], seed=2)
    parts = [majority_vote(ann, 3), empirical_distribution(ann, 3), dawid_skene(ann, 3)]
    np.testing.assert_allclose(aggregate_soft_labels(ann, 3, "average"), np.mean(parts, 0))


def test_dawid_skene_beats_majority_when_reliabilities_differ():
    # One good annotator outvoted by four poor ones: DS learns whom to trust, the vote cannot.
    rng = np.random.default_rng(0)
    y = rng.integers(0, 5, 2000)
    ann = simulate_annotators(y, 5, [0.95, 0.35, 0.35, 0.35, 0.35], seed=3)
    mv = (majority_vote(ann, 5).argmax(1) == y).mean()
    ds = (dawid_skene(ann, 5).argmax(1) == y).mean()
    assert ds > mv + 0.05, (ds, mv)
    assert ds > 0.9


def test_bad_inputs():
    with pytest.raises(ValueError, match="no annotation"):
        vote_counts(np.array([[0, 1], [-1, -1]]), 2)
    with pytest.raises(ValueError, match="ids must lie"):
        vote_counts(np.array([[0, 5]]), 2)
    with pytest.raises(ValueError, match="unknown aggregation"):
        aggregate_soft_labels(np.array([[0]]), 2, "mace")
