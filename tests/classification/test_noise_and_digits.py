"""Noise simulation and the digits datamodule."""

import numpy as np
import pytest
import torch

from gghl.data.classification import DigitsDataModule, inject_class_conditional_noise, simulate_annotators


def test_class_conditional_noise_exact_rate_and_mask():
    y = np.repeat(np.arange(5), 100)
    noisy, flipped = inject_class_conditional_noise(y, 5, 0.2, seed=0)
    np.testing.assert_array_equal(flipped, noisy != y)
    for c in range(5):
        assert flipped[y == c].sum() == 20
    # Class-conditional: flips out of one class concentrate on a few destinations, not uniformly.
    dest = np.bincount(noisy[(y == 0) & flipped], minlength=5)
    assert dest[0] == 0
    again, _ = inject_class_conditional_noise(y, 5, 0.2, seed=0)
    np.testing.assert_array_equal(noisy, again)


def test_annotator_reliability_is_respected():
    y = np.arange(4000) % 10
    ann = simulate_annotators(y, 10, [0.9, 0.5, 0.2], seed=0)
    acc = (ann == y[:, None]).mean(0)
    np.testing.assert_allclose(acc, [0.9, 0.5, 0.2], atol=0.03)
    sub = simulate_annotators(y[:100], 10, [0.9, 0.5, 0.2], seed=0, annotators_per_item=2)
    assert ((sub >= 0).sum(1) == 2).all()


def test_digits_datamodule_splits_and_batches():
    dm = DigitsDataModule(image_size=16, batch_size=8)
    assert dm.num_classes == 10 and dm.class_names[3] == "3"  # before setup
    dm.setup("fit")
    sizes = {k: len(v.labels) for k, v in dm.splits.items()}
    assert sum(sizes.values()) == 1797
    assert abs(sizes["test"] - 0.25 * 1797) < 2
    b = next(iter(dm.train_dataloader()))
    assert b["image"].shape == (8, 3, 16, 16) and b["image"].dtype == torch.float32
    assert b["label"].dtype == torch.int64 and b["target"].shape == (8, 10)
    torch.testing.assert_close(b["target"].sum(1), torch.ones(8))
    # Same seed, same split.
    dm2 = DigitsDataModule(image_size=16)
    dm2.setup()
    np.testing.assert_array_equal(dm2.splits["val"].labels, dm.splits["val"].labels)


def test_digits_noise_only_on_train_val():
    dm = DigitsDataModule(image_size=8, noise_rate=0.1, max_shift=0)
    dm.setup()
    tr = dm.splits["train"]
    assert 0.06 < tr.flipped.mean() < 0.14
    np.testing.assert_array_equal(tr.flipped, tr.labels != tr.true_labels)
    assert not dm.splits["test"].flipped.any()
    np.testing.assert_array_equal(dm.splits["test"].labels, dm.splits["test"].true_labels)


def test_digits_annotators_give_soft_targets():
    dm = DigitsDataModule(image_size=8, annotators=[0.9, 0.6, 0.4], aggregation="empirical")
    dm.setup()
    tr = dm.splits["train"]
    assert tr.annotations.shape[1] == 3
    assert (tr.targets.max(1) < 1).any()  # disagreements give soft rows
    np.testing.assert_allclose(tr.targets.sum(1), 1.0, rtol=1e-6)
    assert dm.splits["test"].annotations.shape[1] == 1
    with pytest.raises(ValueError, match="either"):
        DigitsDataModule(annotators=[0.9], noise_rate=0.1)
