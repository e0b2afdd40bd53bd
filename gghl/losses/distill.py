"""Knowledge distillation targets (Hinton et al. 2015) as a target-assignment option.

The student learns from ``alpha * softmax(teacher / T)`` mixed with ``(1 - alpha)`` times the
ground-truth target. The teacher part is scaled by ``T^2`` so its gradient magnitude does not shrink
with temperature.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from gghl.losses.soft_targets import soft_cross_entropy


def distillation_loss(
    student_logits: Tensor,
    teacher_logits: Tensor,
    target: Tensor,
    temperature: float = 4.0,
    alpha: float = 0.5,
    weight: Tensor | None = None,
) -> Tensor:
    """Scalar loss ``alpha * T^2 * CE(softmax(t/T), softmax(s/T)) + (1 - alpha) * CE(target, s)``.

    Args:
        student_logits, teacher_logits: ``[B, C]``.
        target: ``[B, C]`` ground-truth distribution (one-hot, smoothed or soft).
        temperature: T > 0.
        alpha: weight of the teacher term in ``[0, 1]``.
        weight: optional ``[C]`` class weights for the ground-truth term.

    Cross-entropy rather than KL: they differ by the teacher's entropy, a constant for the student.
    """
    if temperature <= 0 or not 0.0 <= alpha <= 1.0:
        raise ValueError(f"need temperature > 0 and alpha in [0, 1], got {temperature}, {alpha}")
    t = temperature
    teacher = F.softmax(teacher_logits.detach().float() / t, dim=1)
    kd = soft_cross_entropy(student_logits / t, teacher) * (t * t)
    gt = soft_cross_entropy(student_logits, target, weight=weight)
    return alpha * kd + (1.0 - alpha) * gt
