"""Soft cross-entropy, class-balanced weights, logit adjustment, distillation."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gghl.losses.distill import distillation_loss
from gghl.losses.soft_targets import (
    class_balanced_weights,
    log_prior,
    logit_adjustment,
    smooth_one_hot,
    soft_cross_entropy,
)


def test_soft_ce_matches_torch_for_one_hot_and_smoothing():
    torch.manual_seed(0)
    z, y = torch.randn(16, 5), torch.randint(0, 5, (16,))
    torch.testing.assert_close(soft_cross_entropy(z, smooth_one_hot(y, 5)), F.cross_entropy(z, y))
    torch.testing.assert_close(
        soft_cross_entropy(z, smooth_one_hot(y, 5, 0.1)), F.cross_entropy(z, y, label_smoothing=0.1)
    )
    w = torch.rand(5) + 0.5
    torch.testing.assert_close(
        soft_cross_entropy(z, smooth_one_hot(y, 5), weight=w), F.cross_entropy(z, y, weight=w)
    )
    q = torch.softmax(torch.randn(16, 5), 1)
    torch.testing.assert_close(soft_cross_entropy(z, q), F.cross_entropy(z, q))


def test_class_balanced_weights():
    w = class_balanced_weights(np.array([1000, 10, 0]), beta=0.99)
    assert w[2] == 0 and w[1] > w[0]
    torch.testing.assert_close(w[:2].mean(), torch.tensor(1.0))
    # beta -> 0 gives equal weights; ratio is (1-b^n1)/(1-b^n0) in general.
    torch.testing.assert_close(class_balanced_weights([5, 50], beta=0.0), torch.ones(2))
    r = w[1] / w[0]
    assert abs(float(r) - (1 - 0.99**1000) / (1 - 0.99**10)) < 1e-4
    with pytest.raises(ValueError):
        class_balanced_weights([1, 2], beta=1.0)


def test_logit_adjustment_adds_log_prior():
    lp = log_prior([30, 10])
    torch.testing.assert_close(lp.exp(), torch.tensor([0.75, 0.25]))
    z = torch.zeros(2, 2)
    torch.testing.assert_close(logit_adjustment(z, lp, 2.0), 2.0 * lp.expand(2, 2))


def test_distillation_loss_limits():
    torch.manual_seed(0)
    s, t = torch.randn(8, 4), torch.randn(8, 4)
    q = smooth_one_hot(torch.randint(0, 4, (8,)), 4)
    torch.testing.assert_close(distillation_loss(s, t, q, 2.0, alpha=0.0), soft_cross_entropy(s, q))
    kd = distillation_loss(s, t, q, 2.0, alpha=1.0)
    torch.testing.assert_close(kd, 4.0 * soft_cross_entropy(s / 2, torch.softmax(t / 2, 1)))
    # Gradient vanishes when the student equals the teacher and alpha=1.
    s2 = t.clone().requires_grad_(True)
    distillation_loss(s2, t, q, 3.0, alpha=1.0).backward()
    assert s2.grad.abs().max() < 1e-6
