"""Classification metrics: top-k accuracy, per-class accuracy, ECE, NLL, Brier score.

Functions take ``probs: Tensor[N, C]`` (rows summing to 1) and ``labels: Tensor[N]`` int64.
:class:`ClassificationMetrics` is a torchmetrics ``Metric`` that gathers probabilities and labels over
an epoch (``cat`` state, so it is correct under DDP) and computes all of them at once.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchmetrics import Metric


def topk_accuracy(probs: Tensor, labels: Tensor, k: int = 1) -> Tensor:
    """Fraction of rows whose label is among the ``k`` highest scores (``k`` clipped to C)."""
    k = min(k, probs.shape[1])
    top = probs.topk(k, dim=1).indices
    return (top == labels[:, None]).any(1).float().mean()


def per_class_accuracy(probs: Tensor, labels: Tensor, num_classes: int | None = None) -> Tensor:
    """Recall of each class ``[C]`` (NaN for classes absent from ``labels``)."""
    c = num_classes or probs.shape[1]
    pred = probs.argmax(1)
    correct = torch.bincount(labels[pred == labels], minlength=c).float()
    total = torch.bincount(labels, minlength=c).float()
    return torch.where(total > 0, correct / total.clamp(min=1), torch.full_like(total, float("nan")))


def expected_calibration_error(probs: Tensor, labels: Tensor, n_bins: int = 15) -> Tensor:
    """Top-label ECE with ``n_bins`` equal-width confidence bins on ``(0, 1]``.

    ``ECE = sum_b |B_b|/N * |acc(B_b) - conf(B_b)|`` where a prediction of confidence ``p`` falls in
    bin ``b`` iff ``b/n < p <= (b+1)/n`` (the convention of Guo et al. and torchmetrics' ``l1`` norm).
    """
    conf, pred = probs.max(1)
    correct = (pred == labels).float()
    edges = torch.linspace(0, 1, n_bins + 1, dtype=conf.dtype, device=conf.device)
    # bucketize(right=False) gives i with edges[i-1] < p <= edges[i]; bins are 1-based, shift to 0-based.
    bins = (torch.bucketize(conf, edges, right=False) - 1).clamp(0, n_bins - 1)
    count = torch.zeros(n_bins, dtype=conf.dtype, device=conf.device).index_add_(
        0, bins, torch.ones_like(conf)
    )
    conf_sum = torch.zeros_like(count).index_add_(0, bins, conf)
    acc_sum = torch.zeros_like(count).index_add_(0, bins, correct.to(conf.dtype))
    return ((conf_sum - acc_sum).abs().sum() / max(len(conf), 1)).to(torch.float32)


def negative_log_likelihood(probs: Tensor, labels: Tensor, eps: float = 1e-12) -> Tensor:
    """Mean ``-log p(label)``."""
    return -probs.gather(1, labels[:, None]).clamp(min=eps).log().mean()


def brier_score(probs: Tensor, labels: Tensor) -> Tensor:
    """Mean over rows of ``sum_c (p_c - onehot_c)^2``."""
    onehot = torch.nn.functional.one_hot(labels, probs.shape[1]).to(probs.dtype)
    return ((probs - onehot) ** 2).sum(1).mean()


def classification_report(probs: Tensor, labels: Tensor, n_bins: int = 15) -> dict[str, Tensor]:
    """All scalar metrics: ``acc, acc_top5, ece, nll, brier, balanced_acc`` (mean per-class accuracy)."""
    pca = per_class_accuracy(probs, labels)
    return {
        "acc": topk_accuracy(probs, labels, 1),
        "acc_top5": topk_accuracy(probs, labels, 5),
        "ece": expected_calibration_error(probs, labels, n_bins),
        "nll": negative_log_likelihood(probs, labels),
        "brier": brier_score(probs, labels),
        "balanced_acc": pca[~pca.isnan()].mean(),
    }


class ClassificationMetrics(Metric):
    """Epoch-level accumulator; ``compute()`` returns :func:`classification_report` plus
    ``per_class_acc`` ``[C]``.
    """

    full_state_update = False

    def __init__(self, num_classes: int, n_bins: int = 15) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.n_bins = n_bins
        self.add_state("probs", default=[], dist_reduce_fx="cat")
        self.add_state("labels", default=[], dist_reduce_fx="cat")

    def update(self, probs: Tensor, labels: Tensor) -> None:  # type: ignore[override]
        self.probs.append(probs.detach().float())
        self.labels.append(labels.detach().long())

    def compute(self) -> dict[str, Tensor]:  # type: ignore[override]
        probs = self.probs if isinstance(self.probs, Tensor) else torch.cat(self.probs)
        labels = self.labels if isinstance(self.labels, Tensor) else torch.cat(self.labels)
        out = classification_report(probs, labels, self.n_bins)
        out["per_class_acc"] = per_class_accuracy(probs, labels, self.num_classes)
        return out
