"""DIST (Huang et al., "Knowledge Distillation from A Stronger Teacher", NeurIPS 2022), per pixel."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from aicsd.losses.precision import at_least_float32, autocast_disabled
from aicsd.losses.resize import check_batches, match_spatial_size


def pearson_distance(a: Tensor, b: Tensor, dim: int, eps: float = 1e-8) -> Tensor:
    """1 - Pearson correlation of ``a`` and ``b`` along ``dim`` (reduced). A constant vector has
    correlation 0 (its norm product is clamped at ``eps``); equal inputs give exactly 0."""
    a = a - a.mean(dim=dim, keepdim=True)
    b = b - b.mean(dim=dim, keepdim=True)
    norms = torch.sqrt(((a * a).sum(dim=dim) * (b * b).sum(dim=dim)).clamp_min(eps * eps))
    return 1.0 - (a * b).sum(dim=dim) / norms


class DISTLoss(nn.Module):
    """``student, teacher: (B, C, H, W) logits -> scalar``.

    With Y = softmax(Z / tau) over the C classes at every pixel, arranged as a (P, C) matrix of the
    P = B*H*W pixels of the batch, and d_p(u, v) = 1 - Cov(u, v) / (Std(u) Std(v)), the paper's
    loss is

        L_inter = tau^2 / P sum_p d_p(Y^S[p, :], Y^T[p, :])     (relation between classes, per pixel)
        L_intra = tau^2 / C sum_c d_p(Y^S[:, c], Y^T[:, c])     (relation between pixels, per class)
        L_DIST  = beta L_inter + gamma L_intra.

    As in the authors' segmentation code (hunto/DIST_KD, ``segmentation/losses/dist_kd.py``) every
    pixel is an instance and the intra-class correlation runs over all pixels of the batch (so it
    pools the batch, per process under DDP). Defaults beta = gamma = 1 and tau = 1 are that code's
    (it has no temperature; the tau^2 factor is that of mmrazor's ``DISTLoss``); the weight is
    :data:`aicsd.losses.weights.DIST_WEIGHT`. A student map of another size is resized bilinearly to
    the teacher's. The teacher is detached (no gradient reaches it). float32 inside, also under
    autocast.
    """

    DEFAULT_TEMPERATURE = 1.0

    def __init__(self, temperature: float = DEFAULT_TEMPERATURE, beta: float = 1.0, gamma: float = 1.0) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        if beta < 0 or gamma < 0:
            raise ValueError(f"beta and gamma must be non-negative, got {beta} and {gamma}")
        self.temperature = temperature
        self.beta = beta
        self.gamma = gamma

    def forward(self, student: Tensor, teacher: Tensor) -> Tensor:
        check_batches(student, teacher)
        if student.shape[1] != teacher.shape[1]:
            raise ValueError(f"DIST needs the same classes: student {student.shape[1]}, teacher {teacher.shape[1]}")
        t = self.temperature
        with autocast_disabled(student):
            student = match_spatial_size(at_least_float32(student), teacher)
            classes = teacher.shape[1]
            y_student = torch.softmax(student / t, dim=1).transpose(0, 1).reshape(classes, -1)
            y_teacher = torch.softmax(at_least_float32(teacher.detach()) / t, dim=1).transpose(0, 1).reshape(classes, -1)
            inter = pearson_distance(y_student, y_teacher, dim=0).mean()
            intra = pearson_distance(y_student, y_teacher, dim=1).mean()
            return (self.beta * inter + self.gamma * intra) * (t * t)

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}, beta={self.beta}, gamma={self.gamma}"
