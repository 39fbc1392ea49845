"""Similarity-preserving distillation (SP, Tung & Mori, ICCV 2019)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from aicsd.losses.precision import at_least_float32, autocast_disabled
from aicsd.losses.resize import check_batches


def batch_similarity(feature: Tensor) -> Tensor:
    """Row-L2-normalised batch Gram matrix: (B, C, H, W) -> (B, B)."""
    flat = feature.flatten(1)
    return F.normalize(flat @ flat.T, p=2.0, dim=1)


class SimilarityPreservingLoss(nn.Module):
    """``student: (B, C_s, h, w), teacher: (B, C_t, H, W) features -> scalar``.

        G = normalize_rows( F F^T ),  F = features reshaped to (B, C*H*W),
        L_SP = 1/B^2 || G^S - G^T ||_F^2

    Applied to the last backbone stage. Only the batch dimension must agree. The SP paper weights
    it with gamma = 3000.
    """

    def forward(self, student: Tensor, teacher: Tensor) -> Tensor:
        check_batches(student, teacher)
        with autocast_disabled(student):
            student_sim = batch_similarity(at_least_float32(student))
            teacher_sim = batch_similarity(at_least_float32(teacher))
            batch = student.shape[0]
            return (student_sim - teacher_sim).pow(2).sum() / (batch * batch)
