"""Classification metrics against torchmetrics and hand-computed values."""

import torch
from torchmetrics.functional.classification import multiclass_accuracy, multiclass_calibration_error

from gghl.evaluation.classification_metrics import (
    ClassificationMetrics,
    brier_score,
    expected_calibration_error,
    per_class_accuracy,
    topk_accuracy,
)


def test_against_torchmetrics():
    torch.manual_seed(0)
    probs = torch.softmax(torch.randn(500, 7) * 2, 1)
    labels = torch.randint(0, 7, (500,))
    for k in (1, 3):
        torch.testing.assert_close(
            topk_accuracy(probs, labels, k), multiclass_accuracy(probs, labels, 7, top_k=k, average="micro")
        )
    torch.testing.assert_close(
        per_class_accuracy(probs, labels), multiclass_accuracy(probs, labels, 7, average="none")
    )
    torch.testing.assert_close(
        expected_calibration_error(probs, labels, 15),
        multiclass_calibration_error(probs, labels, 7, n_bins=15, norm="l1"),
        atol=1e-6,
        rtol=0,
    )


def test_ece_by_hand_and_brier():
    probs = torch.tensor([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.3, 0.7]])
    labels = torch.tensor([0, 1, 0, 1])
    # bins (10): 0.9 -> [0.8,0.9]: conf 0.9 acc 0.5; 0.6: conf .6 acc 1; 0.7: conf .7 acc 1.
    expect = (2 * 0.4 + 0.4 + 0.3) / 4
    torch.testing.assert_close(expected_calibration_error(probs, labels, 10), torch.tensor(expect))
    torch.testing.assert_close(brier_score(probs, labels), torch.tensor((0.02 + 1.62 + 0.32 + 0.18) / 4))


def test_metric_accumulates_batches():
    torch.manual_seed(1)
    probs = torch.softmax(torch.randn(64, 4), 1)
    labels = torch.randint(0, 4, (64,))
    m = ClassificationMetrics(4)
    m.update(probs[:30], labels[:30])
    m.update(probs[30:], labels[30:])
    out = m.compute()
    torch.testing.assert_close(out["acc"], topk_accuracy(probs, labels))
    assert out["per_class_acc"].shape == (4,) and set(out) >= {
        "ece",
        "nll",
        "brier",
        "acc_top5",
        "balanced_acc",
    }
